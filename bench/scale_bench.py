"""Scale benchmark: a server with 1,000, 10,000 and 100,000 plans of 10 jobs each, the same
number of them due every second: time from start to the first tick, RSS, and the server's
CPU per second of ticking (which should not grow with the plans that are not due).

For each size a fresh SQLite home is seeded straight into the tables (not timed): one
tenant, ``size`` plans of 10 jobs (a time gate opening in 2099, nine commands after it);
``--due`` of them fire every second (window ``* * * * * ?``), the others in 2099. Then
``python -m jobplan serve`` starts (uvicorn, scheduler on) and the bench polls the store
(read-only) for the first run: *first tick* is from the process's start to that run's
``created_at``. After ``--seconds`` of ticking it reads the server's RSS (``VmRSS``) and CPU
time (``/proc/<pid>/stat``) and the runs opened. Targets: first tick ≤ 5 s and RSS ≤ 500 MB
at 100,000 plans; CPU per second at 100k within noise of the 1k figure (printed as a
ratio). Run: ``python bench/scale_bench.py`` (``--quick``: 1k and 10k only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from jobplan.model import PlanDocument
from jobplan.settings import Settings
from jobplan.store import Database, new_id

TARGET_START_S = 5.0
TARGET_RSS_MB = 500.0
JOBS = 10


def _document(name: str, cron: str) -> dict[str, object]:
    return PlanDocument.model_validate(
        {
            "name": name,
            "folder": "scale",
            "window": {"cron": cron, "timezone": "UTC"},
            "policies": {"overlap": "allow", "history": "OFF"},
            "jobs": [
                {"name": "gate", "kind": "time", "cron": "0 0 0 1 1 ? 2099", "timezone": "UTC"},
                *(
                    {
                        "name": f"step-{i}",
                        "kind": "command",
                        "command": f"echo {i}",
                        "depends_on": "gate" if i == 1 else f"step-{i - 1}",
                    }
                    for i in range(1, JOBS)
                ),
            ],
        }
    ).model_dump(mode="json")


def seed(path: Path, size: int, due: int) -> None:
    tenant_id = new_id()
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    later = "2099-01-01 00:00:00.000000"
    soon = now.strftime("%Y-%m-%d %H:%M:%S.000000")  # due when the server starts
    idle = json.dumps(_document("x", "0 0 0 1 1 ? 2099"))
    busy = json.dumps(_document("x", "* * * * * ?"))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO tenants (id, name, display_name, settings, created_at) "
        "VALUES (?, 'default', 'default', '{}', ?)",
        (tenant_id, stamp),
    )
    plans, versions = [], []
    for index in range(size):
        plan_id, version_id = new_id(), new_id()
        name = f"plan-{index:06d}"
        firing = index < due
        document = (busy if firing else idle).replace('"name": "x"', f'"name": "{name}"', 1)
        plans.append(
            (plan_id, tenant_id, "scale", name, 1, version_id, "1.0.0", stamp, stamp,
             soon if firing else later)
        )  # fmt: skip
        versions.append(
            (version_id, plan_id, tenant_id, "1.0.0", 1, 0, 0, 1, document, "", "bench", stamp)
        )
    db.executemany(
        "INSERT INTO plans (id, tenant_id, folder, name, enabled, current_version_id, "
        "current_version, created_at, updated_at, next_fire_time) VALUES (?,?,?,?,?,?,?,?,?,?)",
        plans,
    )
    db.executemany(
        "INSERT INTO plan_versions (id, plan_id, tenant_id, version, major, minor, patch, "
        "format_version, document, comment, created_by, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        versions,
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(size: int, due: int, seconds: float) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="scale-bench-", dir="/tmp"))
    try:
        settings = Settings(home=home)  # type: ignore[arg-type]
        settings.ensure_home()
        database = Database(settings.effective_database_url)
        database.upgrade()
        database.dispose()
        path = Path(settings.effective_database_url.removeprefix("sqlite:///"))
        seed(path, size, due)
        env = {
            **os.environ,
            "JOBPLAN_HOME": str(home),
            "JOBPLAN_PORT": str(free_port()),
            "JOBPLAN_ADMIN_PASSWORD": "scale-bench-password",
            "JOBPLAN_LOG_LEVEL": "WARNING",
        }
        started = time.time()
        server = subprocess.Popen(
            [sys.executable, "-m", "jobplan", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            first: float | None = None
            deadline = started + 120
            while first is None and time.time() < deadline:
                time.sleep(0.05)
                row = reader.execute("SELECT min(created_at) FROM plan_runs").fetchone()
                if row[0] is not None:
                    first = datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp()
            if first is None:
                raise SystemExit(f"{size} plans: no run within 120 s")
            start_cpu = cpu_seconds(server.pid)  # the start's CPU, read just after the tick
            cpu0, runs0 = cpu_seconds(server.pid), _runs(reader)
            time.sleep(seconds)
            cpu1, runs1 = cpu_seconds(server.pid), _runs(reader)
            rss = rss_mb(server.pid)
            reader.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
        return {
            "first_tick_s": first - started,
            "start_cpu_s": start_cpu,
            "rss_mb": rss,
            "cpu_per_s": (cpu1 - cpu0) / seconds,
            "runs_per_s": (runs1 - runs0) / seconds,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


#: ``--phases``: the steps of ``jobplan serve``'s start, in its order, timed in a fresh
#: process on a migrated home (wall and CPU seconds since the interpreter started to run it).
_PHASES = """
import asyncio, sys, time
t0, c0 = time.perf_counter(), time.process_time()
def mark(name):
    print(f"{name:<34} {time.perf_counter() - t0:6.3f} {time.process_time() - c0:6.3f}")
import jobplan.cli.main
mark("import jobplan.cli.main")
from jobplan.logging import configure_logging
from jobplan.settings import Settings
settings = Settings(home=sys.argv[1])
configure_logging("WARNING")
mark("settings, logging")
from jobplan.service.container import Services
mark("import the services")
services = Services.open(settings)
mark("open: migration check, bootstrap")
from jobplan.service.engine_host import hosted_engine
async def main():
    async with hosted_engine(services) as engine:
        services.engine = engine
        mark("engine started")
        from jobplan.api import create_app
        mark("import the API and console")
        create_app(settings, services)
        mark("create_app")
        import uvicorn
        mark("import uvicorn")
        services.engine = None
asyncio.run(main())
services.close()
"""


def phases() -> None:
    home = Path(tempfile.mkdtemp(prefix="scale-phases-", dir="/tmp"))
    try:
        env = dict(os.environ)
        for attempt in ("first start (migrations, admin)", "second start"):
            print(f"{attempt}: phase, wall s, CPU s (load {os.getloadavg()[0]:.1f})")
            subprocess.run([sys.executable, "-c", _PHASES, str(home)], env=env, check=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _runs(reader: sqlite3.Connection) -> int:
    # history OFF: runs are deleted as they complete; their jobs wait for 2099, so they stay
    return int(reader.execute("SELECT count(*) FROM plan_runs").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=100, help="plans firing every second")
    parser.add_argument("--seconds", type=float, default=10.0, help="ticking measured")
    parser.add_argument("--quick", action="store_true", help="1k and 10k plans only")
    parser.add_argument(
        "--sizes", type=lambda text: [int(n) for n in text.split(",")], help="e.g. 1000,100000"
    )
    parser.add_argument("--phases", action="store_true", help="time the start's phases only")
    args = parser.parse_args()
    if args.phases:
        phases()
        return
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    results = {}
    print(
        f"{'plans':>8} {'first tick s':>12} {'start CPU s':>11} {'RSS MB':>8} {'CPU s/s':>8} "
        f"{'runs/s':>7} {'load':>5}  ({args.due} due every second)"
    )
    for size in sizes:
        r = measure(size, args.due, args.seconds)
        results[size] = r
        print(
            f"{size:>8,} {r['first_tick_s']:>12.2f} {r['start_cpu_s']:>11.2f} {r['rss_mb']:>8.0f} "
            f"{r['cpu_per_s']:>8.2f} {r['runs_per_s']:>7.0f} {os.getloadavg()[0]:>5.1f}",
            flush=True,
        )
    top = results[sizes[-1]]
    print(
        f"\n{sizes[-1]:,} plans: first tick {top['first_tick_s']:.2f} s "
        f"({top['first_tick_s'] / TARGET_START_S:.2f} of the {TARGET_START_S:.0f} s limit), RSS "
        f"{top['rss_mb']:.0f} MB ({top['rss_mb'] / TARGET_RSS_MB:.2f} of {TARGET_RSS_MB:.0f}), "
        f"CPU per second of ticking {top['cpu_per_s'] / results[sizes[0]]['cpu_per_s']:.2f}x "
        f"the {sizes[0]:,}-plan figure"
    )


if __name__ == "__main__":
    main()
