"""The window's previous fire, found with the cron engine's own ``next_after``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobplan.engine.context import previous_fire
from jobplan.model import Window

T = datetime(2026, 11, 2, 12, 0, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("* * * * * ?", datetime(2026, 11, 2, 11, 59, 59, tzinfo=UTC)),
        ("0 0 * * * ?", datetime(2026, 11, 2, 11, 0, tzinfo=UTC)),
        ("0 0 12 * * ?", datetime(2026, 11, 1, 12, 0, tzinfo=UTC)),  # strictly before
        ("0 0 6 ? * MON-FRI", datetime(2026, 11, 2, 6, 0, tzinfo=UTC)),
        ("0 0 6 ? * SAT", datetime(2026, 10, 31, 6, 0, tzinfo=UTC)),
        ("0 0 0 29 2 ?", datetime(2024, 2, 29, 0, 0, tzinfo=UTC)),  # two years back
        ("0 0 0 1 1 ? 2030", None),  # never fired yet
        ("0 0 0 1 1 ? 2019", None),  # more than five years ago
    ],
)
def test_previous_fire(cron: str, expected: datetime | None) -> None:
    window = Window(cron=cron)
    assert previous_fire(window, window.schedule(), T) == expected


def test_blacked_out_fires_are_passed_over() -> None:
    window = Window(cron="0 0 * * * ?", blackouts=[{"cron": "* * 8-11 ? * MON"}])
    assert previous_fire(window, window.schedule(), T) == datetime(2026, 11, 2, 7, tzinfo=UTC)
