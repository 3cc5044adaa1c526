"""History benchmark: listing and filtering runs and job runs with 10,000,000 job runs in a
SQLite store, keyset pages against the offset listing, and the retention purge's rate.

Seeding (timed separately, not part of any figure): one tenant, ``--plans`` plans, and
``--job-runs / 5`` plan runs of five job runs each, generated inside SQLite by
``INSERT ... SELECT`` over a recursive CTE (no Python per row): one run every 2 seconds
going back in time, plans taking turns, 93% COMPLETE, 6% ERROR, 1% ENDED; ids time-ordered
as the scheduler's UUIDv7 are. The store lives under ``/tmp`` and is deleted afterwards.

Measured through the service layer (``RunService``, as the API calls it, without HTTP):

* keyset pages (``cursor``) of 50: all runs, one plan's, by status, a one-day window, plan
  and status; all job runs, by status, by job name and status. Each at the first page and at
  ``--samples`` random depths of the history (the cursor of a random run), p50/p95 in ms.
  Target: p95 ≤ 50 ms.
* the offset listing of the same query at the same depths (the peer: what the API did
  before ``cursor``, with its ``count(*)``), fewer samples as it is slow.
* the retention purge: ``--purge`` plan runs (and their job runs) made due, then
  ``store.purge_plan_runs`` in the engine's batches of 500, one write transaction each, as
  the heartbeat runs it. Rows/s counts plan runs and job runs deleted. Target: ≥ 50,000
  rows/s. Beside it a thread does what a scheduler tick does to the database every 100 ms
  (one small write transaction) and records how late each commit is against its slot: the
  lateness a purge adds to the scheduler's writes.

Run: ``python bench/history_bench.py`` (10M job runs: seeding takes several minutes and
about 4 GB in /tmp), ``--quick`` for 1M job runs and fewer samples.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from jobplan.model import Role
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.pagination import encode_cursor
from jobplan.settings import Settings
from jobplan.store import Database, new_id
from jobplan.store import runs as run_store
from jobplan.store.tables import plan_runs, tenants

TARGET_P95_MS = 50.0
TARGET_PURGE = 50_000.0
JOBS = ("gate", "extract", "transform", "load", "report")
ORIGIN = datetime(2026, 11, 1, tzinfo=UTC)
STEP_SECONDS = 2


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def seed(path: Path, tenant_id: str, plan_count: int, run_count: int) -> list[str]:
    """Plans, runs and job runs straight into the migrated tables; returns the plan ids."""
    plan_ids = [new_id() for _ in range(plan_count)]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -524288")  # 512 MiB
    db.execute("PRAGMA synchronous = OFF")
    db.execute("CREATE TEMP TABLE bench_plans (n INTEGER PRIMARY KEY, id TEXT)")
    db.executemany("INSERT INTO bench_plans VALUES (?, ?)", enumerate(plan_ids))
    db.execute("CREATE TEMP TABLE bench_jobs (n INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO bench_jobs VALUES (?, ?)", enumerate(JOBS))
    db.execute(
        "INSERT INTO plans (id, tenant_id, folder, name, enabled, current_version_id, "
        "current_version, created_at, updated_at) SELECT id, ?, 'bench', 'plan-' || n, 1, "
        "'v-' || n, '1.0.0', '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000' "
        "FROM bench_plans",
        (tenant_id,),
    )
    origin = ORIGIN.strftime("%Y-%m-%d %H:%M:%S")
    batch = 200_000
    for start in range(0, run_count, batch):
        end = min(run_count, start + batch)
        # run n: created (run_count - n) * STEP seconds before ORIGIN; id ordered with time
        runs = f"""
            WITH RECURSIVE seq(n) AS (SELECT {start} UNION ALL SELECT n + 1 FROM seq
                                      WHERE n + 1 < {end})
            SELECT n, printf('%08x-0000-7000-8000-%012x', n, n) AS id,
                   strftime('%Y-%m-%d %H:%M:%S', '{origin}',
                            '-' || (({run_count} - n) * {STEP_SECONDS}) || ' seconds')
                       || '.000000' AS at,
                   CASE WHEN n % 100 < 93 THEN 'COMPLETE' WHEN n % 100 < 99 THEN 'ERROR'
                        ELSE 'ENDED' END AS status
            FROM seq"""
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO plan_runs (id, tenant_id, plan_id, plan_path, plan_version_id, "
            "version, status, trigger, scheduled_for, created_at, started_at, ended_at, "
            "parameters, history, created_by) "
            f"SELECT r.id, ?, p.id, 'bench/plan-' || p.n, 'v-' || p.n, '1.0.0', r.status, "
            f"'schedule', r.at, r.at, r.at, r.at, '{{}}', 'FULL', 'scheduler' "
            f"FROM ({runs}) r JOIN bench_plans p ON p.n = r.n % {plan_count}",
            (tenant_id,),
        )
        db.execute(
            "INSERT INTO job_runs (id, tenant_id, plan_run_id, job_name, kind, status, attempt, "
            "retries, stop_requested, created_at, started_at, ended_at, flags, acknowledged) "
            "SELECT substr(r.id, 1, 19) || printf('%04x', j.n) || substr(r.id, 24), ?, r.id, "
            "j.name, 'command', CASE WHEN r.status = 'ERROR' AND j.n >= 2 THEN "
            "(CASE WHEN j.n = 2 THEN 'ERROR' ELSE 'SKIPPED' END) "
            "WHEN r.status = 'ERROR' THEN 'COMPLETE' WHEN r.status = 'ENDED' THEN 'KILLED' "
            "ELSE r.status END, 1, 0, 0, r.at, r.at, "
            f"r.at, '[]', 0 FROM ({runs}) r CROSS JOIN bench_jobs j",
            (tenant_id,),
        )
        db.execute("COMMIT")
        print(f"seeded {end:,} runs", file=sys.stderr, end="\r")
    db.execute("ANALYZE")
    db.close()
    print(file=sys.stderr)
    return plan_ids


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-runs", type=int, default=10_000_000, help="job runs (5 a run)")
    parser.add_argument("--plans", type=int, default=1_000, help="plans")
    parser.add_argument("--samples", type=int, default=40, help="random depths per query")
    parser.add_argument("--purge", type=int, default=20_000, help="plan runs to purge")
    parser.add_argument("--quick", action="store_true", help="1M job runs, fewer samples")
    args = parser.parse_args()
    if args.quick:
        args.job_runs, args.samples, args.purge = 1_000_000, 20, 10_000
    home = Path(tempfile.mkdtemp(prefix="history-bench-", dir="/tmp"))
    try:
        run(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace, home: Path) -> None:
    settings = Settings(home=home, engine_enabled=False)  # type: ignore[arg-type]
    settings.ensure_home()
    path = home / "history.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    services = Services(settings, database)
    tenant_id = new_id()
    with database.transaction() as conn:
        conn.execute(
            tenants.insert().values(
                id=tenant_id,
                name="bench",
                display_name="bench",
                settings={},
                created_at=datetime.now(UTC),
            )
        )
    run_count = args.job_runs // len(JOBS)
    started = time.perf_counter()
    plan_ids = seed(path, tenant_id, args.plans, run_count)
    print(
        f"seeded {args.job_runs:,} job runs ({run_count:,} runs, {args.plans} plans) in "
        f"{time.perf_counter() - started:.0f} s; store {path.stat().st_size / 1e9:.1f} GB",
        file=sys.stderr,
    )
    caller = Caller("bench", "bench", tenant_id, "bench", Role.VIEWER)
    rng = random.Random(7)
    runs = services.runs
    with database.read() as conn:
        keys = [
            (r.created_at, r.id)
            for r in conn.execute(
                select(plan_runs.c.created_at, plan_runs.c.id).where(
                    plan_runs.c.id.in_(
                        [
                            f"{n:08x}-0000-7000-8000-{n:012x}"
                            for n in rng.sample(range(run_count), args.samples)
                        ]
                    )
                )
            )
        ]
    day_end = ORIGIN - timedelta(days=1)
    day_start = day_end - timedelta(days=1)
    plan = plan_ids[3]
    queries: list[tuple[str, dict[str, Any], bool]] = [
        ("runs: all", {}, True),
        ("runs: one plan", {"plan_ref": plan}, True),
        ("runs: status ERROR", {"statuses": ["ERROR"]}, True),
        ("runs: one day", {"since": day_start, "until": day_end}, True),
        ("runs: plan + ERROR", {"plan_ref": plan, "statuses": ["ERROR"]}, True),
        ("job runs: all", {}, False),
        ("job runs: status ERROR", {"statuses": ["ERROR"]}, False),
        ("job runs: load + KILLED", {"job_name": "load", "statuses": ["KILLED"]}, False),
    ]
    print(
        f"{'query (pages of 50)':<26} {'keyset p50':>10} {'p95':>7} {'offset p50':>10} "
        f"{'p95':>8} {'offset/keyset p95':>17}  target p95 ≤ {TARGET_P95_MS:.0f} ms"
    )
    for name, filters, is_run in queries:
        keyset_ms: list[float] = []
        offset_ms: list[float] = []
        cursors = [""] + [encode_cursor(at.replace(tzinfo=UTC), i) for at, i in keys]
        keyset_call = runs.runs_after if is_run else partial(runs.job_runs_after, limit=50)
        offset_call = runs.list_runs if is_run else partial(runs.job_runs, limit=50)
        for cursor in cursors:
            keyset_ms.append(timed(partial(keyset_call, caller, cursor, **filters)))
        # the offset listing at a few random depths
        for _ in range(max(3, args.samples // 8)):
            offset = rng.randrange(0, min(10_000_000, run_count // 2))
            offset_ms.append(timed(partial(offset_call, caller, offset=offset, **filters)))
        k95, o95 = percentile(keyset_ms, 0.95), percentile(offset_ms, 0.95)
        print(
            f"{name:<26} {statistics.median(keyset_ms):>10.1f} {k95:>7.1f} "
            f"{statistics.median(offset_ms):>10.1f} {o95:>8.1f} {o95 / k95:>17.1f}  "
            f"{'met' if k95 <= TARGET_P95_MS else 'MISSED'}"
        )
    purge(database, args.purge)
    services.close()
    database.dispose()


def purge(database: Database, count: int) -> None:
    """Make the oldest ``count`` runs due for purging, then purge them as the heartbeat
    does, with a tick-like writer beside it measuring its lateness."""
    now = datetime.now(UTC)
    with database.transaction() as conn:
        oldest = select(plan_runs.c.id).order_by(plan_runs.c.created_at).limit(count)
        conn.execute(
            plan_runs.update()
            .where(plan_runs.c.id.in_(oldest.scalar_subquery()))
            .values(purge_after=now - timedelta(days=1))
        )
        job_rows = conn.execute(
            text(
                "SELECT count(*) FROM job_runs WHERE plan_run_id IN "
                "(SELECT id FROM plan_runs WHERE purge_after IS NOT NULL)"
            )
        ).scalar_one()
    lateness: list[float] = []
    stop = threading.Event()

    def ticks() -> None:
        slot = time.perf_counter()
        while not stop.is_set():
            slot += 0.1
            pause = slot - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            with database.transaction() as conn:
                conn.execute(text("UPDATE tenants SET display_name = display_name"))
            lateness.append((time.perf_counter() - slot) * 1000)

    ticker = threading.Thread(target=ticks)
    ticker.start()
    time.sleep(1.0)
    quiet = list(lateness)
    started = time.perf_counter()
    purged = 0
    while True:
        with database.transaction() as conn:
            done = run_store.purge_plan_runs(conn, now, 500)
        purged += done
        if done < 500:
            break
    elapsed = time.perf_counter() - started
    during = lateness[len(quiet) :]
    stop.set()
    ticker.join()
    rows = purged + job_rows
    rate = rows / elapsed
    print(
        f"\npurge: {purged:,} runs + {job_rows:,} job runs in {elapsed:.2f} s = {rate:,.0f} "
        f"rows/s ({rate / TARGET_PURGE:.2f} of the target {TARGET_PURGE:,.0f}: "
        f"{'met' if rate >= TARGET_PURGE else 'MISSED'})"
    )
    if quiet and during:
        print(
            f"tick-like writes every 100 ms: lateness p50/p99 {statistics.median(quiet):.1f}/"
            f"{percentile(quiet, 0.99):.1f} ms before the purge, "
            f"{statistics.median(during):.1f}/{percentile(during, 0.99):.1f} ms during it "
            f"(max {max(during):.1f} ms)"
        )


if __name__ == "__main__":
    main()
