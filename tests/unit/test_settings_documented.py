"""Every setting the docs tell operators about is in the README's Configuration table, so
the table is the one place that lists them all, with their defaults."""

from __future__ import annotations

import re
from pathlib import Path

from jobplan.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {f"JOBPLAN_{name.upper()}" for name in Settings.model_fields}


def _readme_table() -> set[str]:
    """Names in the table's rows; `_X` after a name is shorthand for a sibling setting."""
    found: set[str] = set()
    for row in (ROOT / "README.md").read_text().splitlines():
        if not row.startswith("| `JOBPLAN_"):
            continue
        names = re.findall(r"`(JOBPLAN_[A-Z0-9_]+|_[A-Z0-9_]+)`", row)
        first = names[0].split("_")
        for name in names:
            if name.startswith("JOBPLAN_"):
                found.add(name)
                continue
            for cut in range(1, len(first)):
                candidate = "_".join(first[:cut]) + name
                if candidate in SETTINGS:
                    found.add(candidate)
    return found


def test_settings_named_in_the_docs_are_in_the_readme_table() -> None:
    named = set()
    for page in sorted((ROOT / "docs").glob("*.md")):
        named |= set(re.findall(r"JOBPLAN_[A-Z0-9_]+[A-Z0-9]", page.read_text())) & SETTINGS
    missing = sorted(named - _readme_table())
    assert missing == []
