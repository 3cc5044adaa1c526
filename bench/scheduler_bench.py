"""Scheduler benchmark: jobplan (durable, SQLite) against APScheduler 3.11 (in memory).

10k (or more) schedules of a no-op job. For jobplan the no-op job is a time gate that is
already open when its run starts, so a run is: fire -> plan run and job run recorded ->
job complete -> plan run complete, every step committed to SQLite with fsync (group commit).
For APScheduler the no-op job is an empty Python function, nothing recorded anywhere.

Scenarios: sustained demanded rates (cron fire times are whole seconds, so each second the
demanded number of schedules fire at the same instant) and a burst (every schedule due once,
at the same instant, as APScheduler's date triggers are). Printed: achieved runs/s, p50/p99
firing lateness (for jobplan both run opened - fire time and run committed - fire time; for
APScheduler job submitted - fire time) and the ratios. Run:
``python bench/scheduler_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sqlite_ceiling, beside this file

from jobplan.engine.documents import VersionCache
from jobplan.engine.engine import Engine
from jobplan.engine.state import OpenOutcome
from jobplan.logging import configure_logging
from jobplan.model import PlanDocument
from jobplan.service.plans import PLAN_FORMAT_VERSION
from jobplan.settings import Settings
from jobplan.store import Database, new_id
from jobplan.store.tables import plan_runs, plan_versions, plans, tenants


@dataclass
class Result:
    name: str
    demanded: float
    achieved: float
    p50_ms: float
    p99_ms: float
    runs: int
    durable_p50_ms: float = float("nan")
    durable_p99_ms: float = float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spread_crons(count: int, period_seconds: int) -> list[str]:
    """Crons firing every ``period_seconds``, offsets spread so fires are even per second."""
    crons = []
    for index in range(count):
        offset = index % period_seconds
        crons.append(
            f"{offset}/{period_seconds} * * * * ?" if period_seconds > 1 else "* * * * * ?"
        )
    return crons


def seed(
    database: Database, crons: list[str], burst_in: float | None
) -> tuple[VersionCache, datetime | None]:
    """Insert one plan per cron, each with a no-op job, straight into the store, and return
    a version cache holding every plan's version, as a running engine's would (loading a
    version on first use takes about 0.45 ms: start-up cost, not the steady state measured
    here). The first fires are set after that,
    so none is already late when the engine starts; with ``burst_in`` every plan's first fire
    is that many seconds away (rounded to the second), and returned."""
    now = datetime.now(UTC)
    tenant_id = new_id()
    plan_rows, version_rows = [], []
    documents: dict[str, PlanDocument] = {}
    for index, cron in enumerate(crons):
        plan_id, version_id = new_id(), new_id()
        document = documents.get(cron) or PlanDocument.model_validate(
            {
                "name": "p",
                "window": {"cron": cron},
                "policies": {"overlap": "allow", "misfire": "skip", "history": "FULL"},
                "jobs": [{"name": "noop", "kind": "time", "cron": "* * * * * ?"}],
            }
        )
        documents[cron] = document
        plan_rows.append(
            {
                "id": plan_id,
                "tenant_id": tenant_id,
                "folder": "",
                "name": f"p{index}",
                "enabled": True,
                "current_version_id": version_id,
                "current_version": "1.0.0",
                "created_at": now,
                "updated_at": now,
                "next_fire_time": None,
            }
        )
        version_rows.append(
            {
                "id": version_id,
                "plan_id": plan_id,
                "tenant_id": tenant_id,
                "version": "1.0.0",
                "major": 1,
                "minor": 0,
                "patch": 0,
                "format_version": PLAN_FORMAT_VERSION,
                "document": {**document.model_dump(mode="json"), "name": f"p{index}"},
                "comment": "",
                "created_by": "bench",
                "created_at": now,
            }
        )
    with database.transaction() as conn:
        conn.execute(
            insert(tenants).values(
                id=tenant_id, name="bench", display_name="bench", settings={}, created_at=now
            )
        )
        conn.execute(insert(plans), plan_rows)
        conn.execute(insert(plan_versions), version_rows)
    versions = VersionCache()
    with database.read() as conn:
        for row in version_rows:
            versions.graph(conn, str(row["id"]))
    start = datetime.now(UTC) + timedelta(seconds=2)
    first_fire = None
    if burst_in is not None:  # the first fire of the (one) cron at least burst_in seconds away
        later = datetime.now(UTC) + timedelta(seconds=burst_in)
        first_fire = next(iter(documents.values())).window.schedule().next_after(later)  # type: ignore[union-attr]
    fires = {
        cron: first_fire or doc.window.schedule().next_after(start)  # type: ignore[union-attr]
        for cron, doc in documents.items()
    }
    with database.transaction() as conn:
        conn.execute(
            update(plans)
            .where(plans.c.id == bindparam("b_id"))
            .values(next_fire_time=bindparam("b_next")),
            [
                {"b_id": row["id"], "b_next": fires[cron].astimezone(UTC)}  # type: ignore[union-attr]
                for row, cron in zip(plan_rows, crons, strict=True)
            ],
        )
    return versions, first_fire


async def _run_engine(
    database: Database, home: Path, seconds: float, versions: VersionCache
) -> list[tuple[datetime, datetime]]:
    """Run the engine; returns ``(fire time, commit time)`` of every run the scheduler
    opened, the commit time taken on the writer's thread right after the transaction holding
    the run committed (nothing is reported before that)."""
    settings = Settings(home=home, max_concurrent_jobs=64)
    engine = Engine(settings, database, {}, versions=versions)
    opened: list[OpenOutcome] = []
    committed: list[tuple[datetime, datetime]] = []
    tick, apply = engine.scheduler.tick, engine.writer._apply

    def recording_tick(conn: Connection, now: datetime) -> list[OpenOutcome]:
        outcomes = tick(conn, now)
        opened.extend(outcomes)
        return outcomes

    def timed_apply(batch: list[Any]) -> None:
        apply(batch)
        at = datetime.now(UTC)
        committed.extend((o.run.scheduled_for, at) for o in opened if o.run and o.run.scheduled_for)
        opened.clear()

    engine.scheduler.tick = recording_tick  # type: ignore[method-assign]
    engine.writer._apply = timed_apply  # type: ignore[method-assign]
    async with engine:
        await asyncio.sleep(seconds)
    return committed


def measure_jobplan(
    name: str, crons: list[str], demanded: float, seconds: float, burst_in: float | None = None
) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        database = Database(f"sqlite:///{home / 'bench.db'}")
        database.upgrade()
        versions, burst_at = seed(database, crons, burst_in)
        if burst_at is not None:  # the engine runs ``seconds`` from the burst on
            seconds += max(0.0, (burst_at - datetime.now(UTC)).total_seconds())
        committed = asyncio.run(_run_engine(database, home, seconds, versions))
        with database.read() as conn:
            rows = conn.execute(
                select(plan_runs.c.scheduled_for, plan_runs.c.created_at, plan_runs.c.status)
            ).all()
        database.dispose()
    if burst_at is not None:  # the burst's own fires only
        rows = [r for r in rows if r.scheduled_for == burst_at]
        committed = [(fire, at) for fire, at in committed if fire == burst_at]
    done = sum(1 for r in rows if r.status == "COMPLETE")
    lateness = [(r.created_at - r.scheduled_for).total_seconds() * 1000 for r in rows]
    durable = [(at - fire).total_seconds() * 1000 for fire, at in committed]
    last = max((at for _, at in committed), default=datetime.now(UTC))
    if burst_at is not None:
        achieved = done / max(1e-9, (last - burst_at).total_seconds())
    else:
        first = min((fire for fire, _ in committed), default=last)
        achieved = done / max(1e-9, (last - first).total_seconds() + 1.0)
    return Result(
        name,
        demanded,
        achieved,
        percentile(lateness, 0.5),
        percentile(lateness, 0.99),
        done,
        percentile(durable, 0.5),
        percentile(durable, 0.99),
    )


def measure_apscheduler(
    name: str, crons: list[str], demanded: float, seconds: float, burst_at: datetime | None = None
) -> Result:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger

    lateness: list[float] = []
    lock = threading.Lock()

    def noop(scheduled: float) -> None:
        with lock:
            lateness.append((time.time() - scheduled) * 1000)

    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1000},
        executors={"default": {"type": "threadpool", "max_workers": 20}},
    )
    scheduler.start(paused=True)
    if burst_at is not None:
        for index in range(len(crons)):
            scheduler.add_job(
                noop, DateTrigger(burst_at), args=[burst_at.timestamp()], id=str(index)
            )
    else:

        def make(cron: str) -> CronTrigger:
            second, minute, hour, _dom, month, _dow = cron.split()
            return CronTrigger(second=second, minute=minute, hour=hour, month=month, timezone="UTC")

        from apscheduler.events import EVENT_JOB_SUBMITTED

        submitted: dict[str, float] = {}

        def on_submit(event: object) -> None:
            for moment in getattr(event, "scheduled_run_times", []):
                with lock:
                    lateness.append((time.time() - moment.timestamp()) * 1000)

        scheduler.add_listener(on_submit, EVENT_JOB_SUBMITTED)
        del submitted
        for index, cron in enumerate(crons):
            scheduler.add_job(lambda: None, make(cron), id=str(index))
    started = time.time()
    scheduler.resume()
    time.sleep(seconds)
    scheduler.shutdown(wait=True)
    elapsed = time.time() - started
    if burst_at is not None:
        achieved = len(lateness) / max(1e-9, max(lateness) / 1000) if lateness else 0.0
    else:
        achieved = len(lateness) / elapsed
    return Result(
        name,
        demanded,
        achieved,
        percentile(lateness, 0.5),
        percentile(lateness, 0.99),
        len(lateness),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer schedules, shorter runs")
    parser.add_argument("--seconds", type=float, default=6.0, help="time per scenario")
    parser.add_argument("--only", choices=("sustained", "burst"), help="run only these scenarios")
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="level of jobplan's log (INFO: what a server logs per run), rendered as JSON "
        "and written to /dev/null",
    )
    args = parser.parse_args()
    configure_logging(args.log_level, "json", stream=open(os.devnull, "w"))  # noqa: SIM115
    schedules = 2000 if args.quick else 10_000
    scenarios: list[tuple[str, list[str], float]] = []
    for rate in (1000, 5000, 10_000, 20_000):
        if (args.quick and rate > 5000) or args.only == "burst":
            continue
        if rate <= schedules:
            period = max(1, schedules // rate)
            crons = _spread_crons(schedules, period)
        else:
            crons = _spread_crons(rate, 1)  # more schedules than 10k are needed for > 10k/s
        scenarios.append((f"sustained {rate}/s", crons, float(rate)))
    rows: list[tuple[Result, Result]] = []
    for name, crons, demanded in scenarios:
        ours = measure_jobplan(name, crons, demanded, args.seconds)
        peer = measure_apscheduler(name, crons, demanded, args.seconds)
        rows.append((ours, peer))
        print(f"{name}: done", file=sys.stderr)
    if args.only == "sustained":
        _report(rows)
        return
    # every schedule's first fire is the same instant, 4 s or more away; the next one comes
    # 10 s later, after the engine has stopped: the burst fires once, as APScheduler's does
    burst_crons = ["*/10 * * * * ?"] * schedules
    ours = measure_jobplan(f"burst {schedules}", burst_crons, float(schedules), args.seconds, 4)
    burst_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    peer = measure_apscheduler(
        f"burst {schedules}", burst_crons, float(schedules), args.seconds + 3, burst_at
    )
    rows.append((ours, peer))
    _report(rows)
    # the physical limit, measured in the same run: SQLite alone making the same rows durable
    from sqlite_ceiling import measure

    limit = max(measure(max(schedules, 10_000), secondary_indexes=True) for _ in range(3))
    print(
        f"SQLite ceiling (bench/sqlite_ceiling.py, with indexes, best of 3): {limit:,.0f} runs/s; "
        f"burst x ceiling: {ours.achieved / limit:.2f} (target >= 0.5); burst x APScheduler: "
        f"{ours.achieved / peer.achieved if peer.achieved else float('nan'):.2f} "
        "(target >= 1.0)"
    )


def _report(rows: list[tuple[Result, Result]]) -> None:
    print(
        f"{'scenario':<19}{'jobplan runs/s':>15}{'p50':>8}{'p99':>8}{'durable p50':>12}"
        f"{'p99':>8}{'APS runs/s':>11}{'p50':>8}{'p99':>8}{'rate x':>7}{'p99 x':>7}"
    )
    for ours, peer in rows:
        rate_ratio = ours.achieved / peer.achieved if peer.achieved else float("nan")
        p99_ratio = peer.p99_ms / ours.durable_p99_ms if ours.durable_p99_ms else float("nan")
        print(
            f"{ours.name:<19}{ours.achieved:>15,.0f}{ours.p50_ms:>8.1f}{ours.p99_ms:>8.1f}"
            f"{ours.durable_p50_ms:>12.1f}{ours.durable_p99_ms:>8.1f}"
            f"{peer.achieved:>11,.0f}{peer.p50_ms:>8.1f}{peer.p99_ms:>8.1f}"
            f"{rate_ratio:>7.2f}{p99_ratio:>7.2f}"
        )
    print(
        "Lateness in ms. jobplan p50/p99: run opened (its created_at) - fire time; durable: "
        "the run's transaction committed - fire time. rate x: jobplan runs/s / APScheduler "
        "runs/s; p99 x: APScheduler p99 / jobplan durable p99 (above 1: jobplan better). "
        "jobplan runs are durable; APScheduler's are not."
    )


if __name__ == "__main__":
    main()
