"""``write_bundle`` pauses the cyclic collector only when asked (``pause_collector``): the
pause is process-wide, so callers answering requests leave it off."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator

from jobplan.bundle import BundlePlan, write_bundle
from jobplan.model import PlanDocument

PLAN = PlanDocument.model_validate(
    {"name": "p", "folder": "f", "jobs": [{"name": "j", "kind": "command", "command": "true"}]}
)


def _write(**options: bool) -> list[bool]:
    """Whether the collector was on while the writer read its plans."""
    seen: list[bool] = []

    def plans() -> Iterator[BundlePlan]:
        seen.append(gc.isenabled())
        yield BundlePlan(PLAN)

    assert gc.isenabled()
    write_bundle(plans(), io.BytesIO(), source_tenant="t", **options)
    assert gc.isenabled()
    return seen


def test_the_collector_runs_unless_the_caller_asks() -> None:
    assert _write() == [True]
    assert _write(pause_collector=False) == [True]


def test_a_worker_may_pause_it() -> None:
    assert _write(pause_collector=True) == [False]
