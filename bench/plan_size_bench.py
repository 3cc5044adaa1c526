"""Plan run size benchmark: what finishing one job run costs, by the size of its plan run.

A plan of N independent no-op command jobs is started; every job run is claimed (as a runner
would), then job runs are finished one per transaction through ``RunState.finish``, the real
state transitions on a real SQLite database (synchronous=FULL, as the server runs it). No
process is spawned: the executor is the benchmark itself, so what is measured is the state
machine's own cost per finish (read the job run, lock the plan run, record the end, evaluate
the plan run). Printed per size: ms per finish (mean and p99 over the finishes timed), and the
ratio to the smallest size, for the narrow read evaluation uses and for the plain path
(evaluating from the full job run records, ``RunState.full_evaluation``). Target: per-finish
cost independent of the plan run's size (5,000-job cost <= 2x the 10-job cost).

``--sample`` finishes are timed per size (the first ones of a run, while it is still full:
where a cost growing with the plan run's size shows; small sizes use several plan runs). Run:
``python bench/plan_size_bench.py [--quick] [--sizes 10,100,1000,5000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobplan.engine.documents import VersionCache
from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.state import RunState
from jobplan.logging import configure_logging
from jobplan.model import PlanDocument, Role
from jobplan.service.caller import Caller
from jobplan.service.plans import PlanService
from jobplan.store import Database, accounts, new_id
from jobplan.store import plans as plan_store

T0 = datetime(2030, 1, 7, 12, 0, 0, tzinfo=UTC)
NODE = "bench-node"


def measure(size: int, sample: int, folder: Path, *, full: bool = False) -> list[float]:
    """Seconds per ``finish`` for the first ``sample`` finishes of a ``size``-job plan run;
    ``full``: evaluating from the full job run records (the plain path)."""
    database = Database(f"sqlite:///{folder / f'size{size}-{full}.db'}")
    database.upgrade()
    try:
        state = RunState(VersionCache())
        state.full_evaluation = full
        plans = PlanService(database)
        with database.transaction() as conn:
            tenant = accounts.insert_tenant(conn, "bench", "bench", {})
        caller = Caller(
            user_id=new_id(),
            username="bench-admin",
            tenant_id=tenant.id,
            tenant_name="bench",
            role=Role.ADMIN,
        )
        jobs = [{"name": f"j{i:05d}", "kind": "command", "command": "true"} for i in range(size)]
        # the last finish of a run also ends it (a cost of its own): it is not timed, and small
        # sizes get as many plan runs as it takes to time ``sample`` finishes
        runs = -(-sample // max(1, size - 1))
        ids: list[list[str]] = []
        for number in range(runs):
            document = PlanDocument.model_validate({"name": f"big{number}", "jobs": jobs})
            plan_id = plans.apply(caller, document).view.plan.id
            with database.transaction() as conn:
                plan = plan_store.get_plan(conn, tenant.id, plan_id)
                assert plan is not None
                outcome = state.open_plan_run(
                    conn, plan, trigger="manual", created_by="bench", now=T0
                )
                assert outcome.run is not None
            claimed_ids: list[str] = []
            while len(claimed_ids) < size:
                with database.transaction() as conn:
                    claimed = state.claim(conn, node_id=NODE, now=T0, limit=500)
                    tickets = claimed.tickets
                if not tickets:
                    break
                claimed_ids.extend(t.job_run.id for t in tickets)
            assert len(claimed_ids) == size, f"claimed {len(claimed_ids)} of {size}"
            ids.append(claimed_ids)
        done = ExecutionResult(succeeded=True, reason=None)
        costs: list[float] = []
        for run_ids in ids:
            if len(costs) >= sample:
                break
            for index, job_run_id in enumerate(run_ids):
                now = T0 + timedelta(seconds=1 + index)
                timed = index < size - 1 and len(costs) < sample
                began = time.perf_counter()
                with database.transaction() as conn:
                    assert state.finish(conn, job_run_id, NODE, done, now)
                if timed:
                    costs.append(time.perf_counter() - began)
                elif len(costs) >= sample:
                    break
        return costs
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--sample", type=int, default=100, help="finishes timed per size")
    parser.add_argument("--quick", action="store_true", help="sizes 10,100,1000; 50 finishes")
    args = parser.parse_args()
    configure_logging("warning")
    sizes = [10, 100, 1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    sample = 50 if args.quick else args.sample
    rows: list[tuple[int, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="jobplan-plan-size-") as folder:
        for size in sizes:
            costs = sorted(measure(size, sample, Path(folder)))
            mean = sum(costs) / len(costs)
            p99 = costs[min(len(costs) - 1, int(len(costs) * 0.99))]
            plain = measure(size, sample, Path(folder), full=True)
            rows.append((size, mean, p99, sum(plain) / len(plain)))
    base = rows[0][1]
    print(f"{sample} finishes timed per size; 'plain': evaluating from the full records")
    print(
        f"{'jobs/run':>9} {'ms/finish':>10} {'p99 ms':>8} {'ratio':>7}"
        f" {'plain ms':>9} {'plain ratio':>12}"
    )
    for size, mean, p99, plain_mean in rows:
        print(
            f"{size:>9} {mean * 1e3:>10.2f} {p99 * 1e3:>8.2f} {mean / base:>7.2f}"
            f" {plain_mean * 1e3:>9.2f} {plain_mean / rows[0][3]:>12.2f}"
        )
    largest = rows[-1]
    verdict = "met" if largest[1] <= 2 * base else "NOT met"
    print(f"target: {largest[0]}-job cost <= 2x the {rows[0][0]}-job cost: {verdict}")


if __name__ == "__main__":
    main()
