"""Semantic versions of plans."""

from __future__ import annotations

import pytest

from jobplan.model import SemVer, latest_matching


def test_parse_and_str() -> None:
    version = SemVer.parse("1.20.3")
    assert (version.major, version.minor, version.patch) == (1, 20, 3)
    assert str(version) == "1.20.3"


@pytest.mark.parametrize(
    "text",
    ["", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "v1.2.3", " 1.2.3", "1.2.3-rc.1", "-1.0.0"],
)
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected MAJOR\.MINOR\.PATCH"):
        SemVer.parse(text)
    assert not SemVer.is_valid(text)


def test_huge_input_is_rejected_quickly() -> None:
    with pytest.raises(ValueError, match=r"invalid version '1111.*\.\.\.'"):
        SemVer.parse("1" * 100_000)


def test_ordering_is_numeric() -> None:
    versions = [SemVer.parse(text) for text in ["1.10.0", "1.9.3", "0.0.1", "1.9.10", "2.0.0"]]
    assert [str(v) for v in sorted(versions)] == ["0.0.1", "1.9.3", "1.9.10", "1.10.0", "2.0.0"]
    assert SemVer.parse("1.2.3") == SemVer(1, 2, 3)


def test_bumps() -> None:
    version = SemVer.parse("1.4.2")
    assert str(version.bump_patch()) == "1.4.3"
    assert str(version.bump_minor()) == "1.5.0"
    assert str(version.bump_major()) == "2.0.0"


def test_latest_matching_compares_whole_parts() -> None:
    versions = ["3.2.0", "3.2.9", "3.20.0", "3.10.1", "4.0.0", "3.2.10"]
    assert latest_matching(versions, "3.2") == SemVer(3, 2, 10)
    assert latest_matching(versions, "3") == SemVer(3, 20, 0)
    assert latest_matching(versions, "") == SemVer(4, 0, 0)
    assert latest_matching(versions, "3.2.9") == SemVer(3, 2, 9)
    assert latest_matching(versions, "5") is None
    assert latest_matching([], "1") is None
    assert latest_matching([SemVer(1, 0, 0), "1.0.1"], "1.0") == SemVer(1, 0, 1)


@pytest.mark.parametrize("prefix", ["3.", "3.2.1.0", "x", "3..2", "03"])
def test_latest_matching_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid version prefix"):
        latest_matching(["3.2.1"], prefix)


def test_matches() -> None:
    assert SemVer(3, 2, 7).matches("3.2")
    assert not SemVer(3, 20, 0).matches("3.2")
    assert SemVer(3, 20, 0).matches("")
