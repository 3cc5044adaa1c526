"""The repository is self-contained: a clone alone passes ``make test``.

Nothing in the build, the benchmarks or the tests may read outside the clone (the project's
reference folder used to sit beside it); the data the suite needs lives in ``tests/data``.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.data import DATA, IKASAN_FIXTURES, QUARTZ_CORPUS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["src", "tests", "bench", "scripts", ".ci"]
# A path that climbs out of the repository: "../x", ".parent / 'x'" on the repository root,
# or a sibling folder named as the reference folder was.
ESCAPES = re.compile(r"\.\./shared|[\"']shared[\"']\s*/|/\s*[\"']shared[\"']|ROOT\.parent")


def _scanned_files() -> list[Path]:
    files = [ROOT / "Makefile"]
    for folder in SCANNED:
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix in {"", ".py", ".sh", ".toml", ".cfg"}
        ]
    return [p for p in files if p != Path(__file__).resolve()]


def test_nothing_reads_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _scanned_files()
        for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1)
        if ESCAPES.search(line)
    ]
    assert offenders == []


def test_the_test_data_is_in_the_repository() -> None:
    assert DATA.is_relative_to(ROOT)
    assert QUARTZ_CORPUS.stat().st_size > 100_000
    assert sorted(p.name for p in IKASAN_FIXTURES.glob("*.zip")) == [
        "MyFirstJobPlan.zip",
        "MyFirstJobPlanWithTokens.zip",
    ]
    assert (DATA / "README.md").read_text("utf-8").count("|") > 10
