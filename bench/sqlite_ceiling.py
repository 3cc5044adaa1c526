"""How many runs per second SQLite itself can make durable on this machine, with no scheduler.

Ready-made rows of a one-job run (one ``plan_runs`` row and one ``job_runs`` row, as the
scheduler writes for the no-op plan of ``scheduler_bench.py``) are inserted in batches of
2,500 runs (the scheduler's tick size) and committed (WAL, ``synchronous=FULL``), into the
real migrated schema. Only the ``executemany`` calls and the commit are timed: building the
records and rendering them as driver parameters is not. This is the ceiling any scheduler
storing one row per run and per job run reaches on this store and machine; it is measured
with the schema's secondary indexes and without them (primary keys and unique constraints
only), to show what the indexes cost. Run: ``python bench/sqlite_ceiling.py``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobplan.store import Database
from jobplan.store.records import JobRunRecord, PlanRunRecord
from jobplan.store.runs import _sqlite_insert, new_run_ids
from jobplan.store.tables import job_runs, plan_runs

TICK = 2500
TENANT = "00000000-0000-4000-8000-000000000001"


def records(count: int, now: datetime) -> tuple[list[PlanRunRecord], list[JobRunRecord]]:
    ids = iter(new_run_ids(2 * count))
    runs, jobs = [], []
    for index in range(count):
        run = PlanRunRecord(
            id=next(ids),
            tenant_id=TENANT,
            plan_id=f"00000000-0000-4000-8000-{index:012d}",
            plan_path=f"p{index}",
            plan_version_id=f"00000000-0000-4000-9000-{index:012d}",
            version="1.0.0",
            status="COMPLETE",
            trigger="schedule",
            scheduled_for=now,
            created_at=now,
            started_at=now,
            ended_at=now,
            deadline_at=None,
            purge_after=now + timedelta(days=30),
            parameters={},
            history="FULL",
            reason=None,
            created_by="scheduler",
        )
        runs.append(run)
        jobs.append(
            JobRunRecord(
                id=next(ids),
                tenant_id=run.tenant_id,
                plan_run_id=run.id,
                job_name="noop",
                kind="time",
                status="COMPLETE",
                attempt=1,
                retries=0,
                wake_at=None,
                owner_node=None,
                lease_until=None,
                stop_requested=False,
                created_at=now,
                queued_at=now,
                started_at=now,
                ended_at=now,
                exit_code=None,
                http_status=None,
                pid=None,
                reason=None,
                flags=[],
                acknowledged=False,
            )
        )
    return runs, jobs


def measure(total: int, secondary_indexes: bool) -> float:
    """Durable runs per second for ``total`` runs inserted ``TICK`` at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'ceiling.db'}")
        database.upgrade()
        raw = database.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(
                "INSERT INTO tenants (id, name, display_name, settings, created_at) "
                "VALUES (?, 'bench', 'bench', '{}', '2026-01-01 00:00:00.000000')",
                (TENANT,),
            )
            if not secondary_indexes:
                for table in ("plan_runs", "job_runs"):
                    names = cursor.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                        "AND sql IS NOT NULL",
                        (table,),
                    ).fetchall()
                    for (name,) in names:
                        cursor.execute(f"DROP INDEX {name}")
                raw.commit()
            run_sql, run_rows = _sqlite_insert(plan_runs)
            job_sql, job_rows = _sqlite_insert(job_runs)
            timed = 0.0
            now = datetime.now(UTC)
            for _ in range(total // TICK):
                runs, jobs = records(TICK, now)
                run_params, job_params = run_rows(runs), job_rows(jobs)
                started = time.perf_counter()
                cursor.execute("BEGIN IMMEDIATE")  # as the engine's writer does
                cursor.executemany(run_sql, run_params)
                cursor.executemany(job_sql, job_params)
                raw.commit()
                timed += time.perf_counter() - started
                now += timedelta(seconds=1)
        finally:
            raw.close()
            database.dispose()
    return (total // TICK) * TICK / timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50_000, help="runs per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many")
    args = parser.parse_args()
    print(f"{'schema':<38}{'durable runs/s':>16}")
    for label, indexes in (
        ("as migrated (all indexes)", True),
        ("primary keys and unique only", False),
    ):
        best = max(measure(args.runs, indexes) for _ in range(args.repeat))
        print(f"{label:<38}{best:>16,.0f}")
    print(
        "Only executemany + commit are timed (no scheduler work); one plan run and one job "
        f"run per run, {TICK:,} runs per transaction, WAL with synchronous=FULL."
    )


if __name__ == "__main__":
    main()
