"""The scheduler's burst on PostgreSQL: one node, two nodes sharing the database, and the
ceiling PostgreSQL itself reaches on the same rows, all in one run.

A throwaway cluster is started as the test suite starts its own (tests/support/postgres.py:
its own data folder, a loopback port, the ``postgres`` OS user when run as root), but with
PostgreSQL's durability settings left on (``fsync``, ``synchronous_commit``,
``full_page_writes``): a run is durable when its transaction has committed.

- **ceiling**: ready-made rows of a one-job run (one ``plan_runs`` and one ``job_runs`` row,
  as ``sqlite_ceiling.py`` builds them) copied in 2,500 runs per transaction into the migrated
  schema with ``COPY`` (what the engine's insert path uses) and committed; only the copy and
  the commit are timed.
- **one node / two nodes**: 10,000 plans of a no-op job (a time gate already open) due at
  the same instant, fired by one or two engine processes (``jobplan serve``'s engine, each
  its own process and connection pool) on the same database. A node's runs are durable when
  the transaction holding them committed (timed on its writer's thread). Runs/s is the burst's
  runs over the time from the fire time to the last commit of either node.
- **duplicates**: plan runs with the same plan and fire time (must be 0).

Run: ``python bench/postgres_bench.py [--quick]`` (needs the PostgreSQL binaries that
``make test`` installs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the suite's throwaway cluster (support.postgres)
sys.path.insert(0, str(ROOT / "bench"))

from scheduler_bench import _run_engine, seed  # noqa: E402
from sqlite_ceiling import TENANT, TICK, records  # noqa: E402

from jobplan.engine.documents import VersionCache  # noqa: E402
from jobplan.logging import configure_logging  # noqa: E402
from jobplan.store import Database  # noqa: E402
from jobplan.store.runs import _copy_rows, _postgres_copy  # noqa: E402
from jobplan.store.tables import job_runs, plan_runs, plan_versions  # noqa: E402
from jobplan.store.tables import plans as plans_table  # noqa: E402


def ceiling(url: str, total: int) -> float:
    """Durable runs per second PostgreSQL reaches copying ready-made rows, ``TICK`` a time."""
    database = Database(url)
    database.upgrade()
    try:
        with database.transaction() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenants (id, name, display_name, settings, created_at) "
                    "VALUES (:id, 'bench', 'bench', '{}', now())"
                ),
                {"id": TENANT},
            )
        run_sql, run_rows = _postgres_copy(plan_runs)
        job_sql, job_rows = _postgres_copy(job_runs)
        timed = 0.0
        now = datetime.now(UTC)
        for _ in range(total // TICK):
            runs, jobs = records(TICK, now)
            run_params, job_params = run_rows(runs), job_rows(jobs)
            with database.engine.connect() as conn:
                started = time.perf_counter()
                with conn.begin():
                    _copy_rows(conn, run_sql, run_params)
                    _copy_rows(conn, job_sql, job_params)
                timed += time.perf_counter() - started
            now += timedelta(seconds=1)
    finally:
        database.dispose()
    return (total // TICK) * TICK / timed


def node(url: str, seconds: float) -> None:
    """One engine process (``--node``): load every plan's version as a running engine has
    them, say ``ready``, read the burst's instant from standard input, run the engine until
    ``seconds`` after it, and print what it committed."""
    log = os.environ.get("JOBPLAN_BENCH_NODE_LOG")
    configure_logging(
        "INFO",
        "json",
        stream=open(log or os.devnull, "a"),  # noqa: SIM115
    )
    database = Database(url)
    versions = VersionCache()
    with database.read() as conn:
        for (version_id,) in conn.execute(select(plan_versions.c.id)):
            versions.graph(conn, version_id)
    print("ready", flush=True)
    burst_at = datetime.fromisoformat(sys.stdin.readline().strip())
    with tempfile.TemporaryDirectory() as home:
        committed = asyncio.run(
            _run_engine(
                database,
                Path(home),
                max(0.0, (burst_at - datetime.now(UTC)).total_seconds()) + seconds,
                versions,
            )
        )
    database.dispose()
    mine = [at for fire, at in committed if fire == burst_at]
    print(json.dumps({"runs": len(mine), "last": max(mine).isoformat() if mine else None}))


def burst(cluster_url: str, name: str, plans: int, nodes: int, seconds: float) -> dict[str, Any]:
    """Seed ``plans`` plans, start ``nodes`` engine processes, and once every one is ready
    make all plans due at one instant (a whole 10 s, the plans' cron, 2 s or more away);
    measure."""
    url = cluster_url + name
    database = Database(url)
    database.upgrade()
    seed(database, ["*/10 * * * * ?"] * plans, 600)
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--node", url, str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(nodes)
    ]
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("a node failed to start")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    burst_at = soon.replace(second=soon.second - soon.second % 10, microsecond=0) + timedelta(
        seconds=10
    )
    with database.transaction() as conn:
        conn.execute(update(plans_table).values(next_fire_time=burst_at))
    for child in children:  # every node is told before any is waited for
        assert child.stdin is not None
        child.stdin.write(burst_at.isoformat() + "\n")
        child.stdin.close()
    reports = []
    for child in children:
        assert child.stdout is not None
        out = child.stdout.read()
        if child.wait() != 0:
            raise RuntimeError(f"a node failed (exit {child.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    with database.read() as conn:
        done = conn.execute(
            select(func.count())
            .select_from(plan_runs)
            .where(plan_runs.c.scheduled_for == burst_at, plan_runs.c.status == "COMPLETE")
        ).scalar_one()
        duplicates = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT plan_id, scheduled_for FROM plan_runs "
                "GROUP BY plan_id, scheduled_for HAVING count(*) > 1) AS twice"
            )
        ).scalar_one()
    database.dispose()
    last = max(datetime.fromisoformat(r["last"]) for r in reports if r["last"])
    return {
        "runs": done,
        "rate": done / max(1e-9, (last - burst_at).total_seconds()),
        "per_node": [r["runs"] for r in reports],
        "duplicates": duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 plans, one repetition")
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2, help="bursts per setup (best kept)")
    parser.add_argument("--node", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.node:
        node(args.node[0], float(args.node[1]))
        return
    from support.postgres import PostgresCluster

    plans = 2000 if args.quick else args.plans
    repeat = 1 if args.quick else args.repeat
    cluster = PostgresCluster(durable=True)
    cluster.start()
    try:
        base = cluster.url("")
        results: dict[str, list[dict[str, Any]]] = {"one node": [], "two nodes": []}
        ceilings: list[float] = []
        for round_ in range(repeat):
            cluster.execute(f"CREATE DATABASE ceiling{round_}")
            ceilings.append(ceiling(base + f"ceiling{round_}", max(TICK * 4, plans)))
            for label, nodes in (("one node", 1), ("two nodes", 2)):
                name = f"b{round_}_{nodes}"
                cluster.execute(f"CREATE DATABASE {name}")
                results[label].append(burst(base, name, plans, nodes, 8.0))
                print(f"{label}, round {round_ + 1}: done", file=sys.stderr)
    finally:
        cluster.stop()
    print(
        f"{'round':<7}{'ceiling/s':>10}{'one node/s':>11}{'x ceil':>7}{'two nodes/s':>12}"
        f"{'x ceil':>7}{'two/one':>8}{'runs one':>9}{'runs two':>9}{'split':>11}{'dup':>5}"
    )
    for index, limit in enumerate(ceilings):
        one, two = results["one node"][index], results["two nodes"][index]
        print(
            f"{index + 1:<7}{limit:>10,.0f}{one['rate']:>11,.0f}{one['rate'] / limit:>7.2f}"
            f"{two['rate']:>12,.0f}{two['rate'] / limit:>7.2f}{two['rate'] / one['rate']:>8.2f}"
            f"{one['runs']:>9,}{two['runs']:>9,}{'/'.join(map(str, two['per_node'])):>11}"
            f"{one['duplicates'] + two['duplicates']:>5}"
        )
    print(
        f"Ceiling: COPY of ready-made rows, {TICK:,} runs a transaction. Runs/s: the burst's "
        "completed runs over the time from its fire time to the last commit (runs: completed "
        "within 8 s of the burst; split: runs each of the two nodes opened)."
    )
    print(
        "Durable: fsync, synchronous_commit and full_page_writes on. dup: plan runs sharing "
        "a plan and fire time, over every round (must be 0)."
    )


if __name__ == "__main__":
    main()
