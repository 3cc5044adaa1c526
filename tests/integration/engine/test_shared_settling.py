"""Runs opened together whose versions have the same shape (jobs, stages, locks) share one
settled template: the tick settles the first and copies it to the others. The shared path is
run against the plain one (every run settled on its own) on the same plans, and the rows and
metrics compared."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, delete, select

from jobplan.engine.graph import graph_shape
from jobplan.metrics import Metrics
from jobplan.store import Database
from jobplan.store import plans as plan_store
from jobplan.store.records import PlanRecord
from jobplan.store.tables import job_runs, plan_runs, plan_stats
from support.engine import T0, Harness, at, cmd, event_job, gate

_ALLOW = {"overlap": "allow"}
_WINDOW = {"cron": "0 * * * * ?"}


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def _plans(h: Harness) -> list[PlanRecord]:
    """Plans due at T0 whose new runs settle in every way: complete at once, stay open on a
    command, wait on a later time gate, an event or a stage window, hold a manual job, skip a
    job that can never run; three share a shape under different names and windows, one of
    them with a job disabled."""
    quick = [gate("open", "* * * * * ?"), gate("after", "* * * * * ?", depends_on="open")]
    mixed = [
        gate("open", "* * * * * ?"),
        gate("noon", "0 0 13 * * ?", depends_on="open"),
        cmd("a", depends_on="open"),
        cmd("hand", startup="manual"),
        event_job("wait", "go"),
    ]
    never = {"and": ["after", {"not": "open"}]}  # can no longer hold once both gates are done
    late_stage = [{"name": "late", "window": {"cron": "0 0 13 * * ?"}, "jobs": [cmd("l1")]}]
    made = [
        h.plan("q1", jobs=quick, window=_WINDOW, policies=_ALLOW),
        h.plan("q2", jobs=quick, window={"cron": "0 */5 * * * ?"}, policies=_ALLOW),
        h.plan("q3", jobs=quick, window=_WINDOW, policies={**_ALLOW, "history": "OFF"}),
        h.plan("q4", jobs=quick, window=_WINDOW, policies=_ALLOW),
        h.plan("m1", jobs=mixed, window=_WINDOW, policies=_ALLOW),
        h.plan("m2", jobs=mixed, window=_WINDOW, policies=_ALLOW),
        h.plan("s1", jobs=[cmd("x")], stages=late_stage, window=_WINDOW, policies=_ALLOW),
        h.plan("k1", jobs=[*quick, cmd("never", depends_on=never)], window=_WINDOW),
    ]
    h.tx(lambda c: plan_store.set_disabled_jobs(c, made[3].id, ["after"]))
    return made


def _open(h: Harness, made: list[PlanRecord], share: bool) -> tuple[Any, ...]:
    """Tick once with sharing on or off; the rows it wrote (ids replaced by plan ids), the
    metrics it counted, how many runs were settled; then forget the runs."""
    for plan in made:
        h.set_next_fire(plan, T0)
    h.state.metrics = Metrics()
    h.state.share_settling = share
    settled = 0
    settle = h.state._settle

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal settled
        settled += 1
        return settle(*args, **kwargs)

    h.state._settle = counting  # type: ignore[method-assign]
    try:
        outcomes = h.tick(at(0.5))
    finally:
        del h.state._settle
    assert len(outcomes) == len(made)

    def read(conn: Connection) -> tuple[list[Any], list[Any], list[Any]]:
        runs = [r._asdict() for r in conn.execute(select(plan_runs))]
        plan_of = {r["id"]: r["plan_id"] for r in runs}
        jobs = [r._asdict() for r in conn.execute(select(job_runs))]
        for row in runs:
            row["id"] = None
        for row in jobs:
            row["id"], row["plan_run_id"] = None, plan_of[row["plan_run_id"]]
        stats = [tuple(r) for r in conn.execute(select(plan_stats))]
        conn.execute(delete(job_runs))
        conn.execute(delete(plan_runs))
        conn.execute(delete(plan_stats))
        return (
            sorted(runs, key=lambda r: r["plan_id"]),
            sorted(jobs, key=lambda r: (r["plan_run_id"], r["job_name"])),
            sorted(stats),
        )

    samples = sorted(
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in h.state.metrics.registry.collect()
        for sample in family.samples
    )
    return (*h.tx(read), samples, settled)


def test_shared_settling_writes_and_counts_what_settling_each_run_does(h: Harness) -> None:
    made = _plans(h)
    *plain, settled_plain = _open(h, made, share=False)
    *shared, settled_shared = _open(h, made, share=True)
    assert shared == plain
    runs, jobs, _, _ = shared
    assert len(runs) == 7, "q3 keeps no history"
    assert {r["status"] for r in runs} == {"COMPLETE", "RUNNING"}
    assert {j["status"] for j in jobs} >= {"COMPLETE", "WAITING", "SKIPPED", "ON_HOLD"}
    assert settled_plain == 8
    # q1, q2 and q3 share one settled template (q4 has a job disabled), m1 and m2 another
    assert settled_shared == 5


def test_a_graph_shape_is_its_jobs_stages_and_locks() -> None:
    document: dict[str, Any] = {"name": "p", "window": _WINDOW, "jobs": [cmd("a")]}
    shape = graph_shape(document)
    assert graph_shape({**document, "name": "other", "window": None}) == shape
    assert graph_shape({**document, "jobs": [cmd("b")]}) != shape
    assert graph_shape({**document, "stages": [{"name": "s", "jobs": []}]}) != shape
    assert graph_shape({**document, "locks": [{"name": "l", "jobs": ["a"]}]}) != shape
