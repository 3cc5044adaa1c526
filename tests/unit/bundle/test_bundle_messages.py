"""Bundle errors quote bundle text shortened and stay under 2 KiB, however much they list."""

from __future__ import annotations

from jobplan.bundle import BundleError, BundleSchemaError, Problem, TokenLocation, UnresolvedTokens
from jobplan.bundle.errors import MAX_MESSAGE_BYTES, QUOTE_CHARS, clip, quoted


def test_quoted_shortens_long_text_with_an_ellipsis() -> None:
    assert quoted("SampleJob") == "'SampleJob'"
    long = quoted("x" * 10_000)
    assert long == repr("x" * QUOTE_CHARS + "\u2026")
    assert quoted(7) == "7"


def test_clip_counts_utf8_bytes_and_keeps_characters_whole() -> None:
    text = "\u00e9" * 5_000  # two bytes each
    clipped = clip(text, 101)
    assert len(clipped.encode()) <= 101
    assert clipped.endswith("\u2026")
    assert clip("short") == "short"


def test_every_kind_of_message_stays_bounded() -> None:
    huge = "n" * 4_000_000
    errors = [
        BundleError(f"job {huge}", entry="jobs/internal/" + "e" * 1_000 + ".json", field=huge),
        BundleSchemaError([Problem(f"e{i}.json", "x" * 500, huge) for i in range(500)]),
        UnresolvedTokens(
            {f"t{i}{'y' * 95}": [TokenLocation(f"e{i}.json", "f" * 500)] * 5 for i in range(400)}
        ),
    ]
    for error in errors:
        assert len(str(error).encode()) <= MAX_MESSAGE_BYTES
        assert "more" in str(error) or "\u2026" in str(error)
