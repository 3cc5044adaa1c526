"""Agent benchmark: no-op command jobs run by the server's own executor, by 1 agent and by 4
agents, in the same run, against one real ``jobplan serve`` (SQLite) on loopback.

Each job's command is ``exec date +%s.%N``: the job's own process prints when it started, so
*dispatch latency* is measured end to end, from the moment the job run was ready (its
``wake_at``, written by the server when the plan run opened) to the moment its process ran,
whatever lies between (the server's claim, the HTTP long-poll answer, the agent's spawn).
Every agent is a real ``jobplan agent`` process.

Two scenarios per target, both fired by the server's scheduler (so the figures measure
dispatch, not how fast a client starts plan runs through the API), each plan run holding
``--per-run`` independent jobs:

* **burst** — ``--jobs / --per-run`` plans fire at the same second: every job run is ready at
  once; job runs/s is the job runs divided by the time from the first ready to the last
  result recorded.
* **paced** — ``--rate / --per-run`` plans fire every second for ``--seconds``: ``--rate``
  job runs/s; dispatch latency p50/p99.

And the ceiling of this machine: how many ``/bin/sh -c 'exec date +%s.%N'`` processes per second
the same :class:`~jobplan.engine.executors.CommandExecutor` starts with no server at all.

Run: ``python bench/agent_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from jobplan.engine.executors import NULL_SINK, CommandExecutor, ExecutionRequest
from jobplan.model import CommandJob

PASSWORD = "bench-password-123"
COMMAND = "exec date +%s.%N"


@dataclass
class Measured:
    target: str
    scenario: str
    jobs: int
    per_second: float
    p50_ms: float
    p99_ms: float
    failed: int
    server_cpu: float = 0.0
    """CPU seconds the server process used during the scenario."""
    agents_cpu: float = 0.0
    """CPU seconds the agent processes used (without their jobs' processes)."""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBPLAN_")}
    return env | {"JOBPLAN_LOG_LEVEL": "WARNING", "NO_COLOR": "1"} | extra


class Bench:
    def __init__(self, folder: Path, slots: int) -> None:
        self.folder = folder
        self.slots = slots
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = folder / "home"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.keys: dict[str, str] = {}

    def start_server(self) -> None:
        env = clean_env(
            {
                "JOBPLAN_ADMIN_USER": "root",
                "JOBPLAN_ADMIN_PASSWORD": PASSWORD,
                "JOBPLAN_MAX_CONCURRENT_JOBS": str(self.slots),
                "JOBPLAN_ARGON2_MEMORY_KIB": "1024",
                "JOBPLAN_ARGON2_TIME_COST": "1",
            }
        )
        log = (self.folder / "server.log").open("w")
        argv = [sys.executable, "-m", "jobplan", "serve", "--port", str(self.port)]
        self.processes.append(
            subprocess.Popen(
                [*argv, "--home", str(self.home)], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.api = httpx.Client(base_url=self.url, auth=("root", PASSWORD), timeout=60)
        self.db = sqlite3.connect(f"file:{self.home / 'jobplan.db'}?mode=ro", uri=True)

    def start_agent(self, name: str) -> None:
        created = self.api.post("/api/v1/agents", json={"name": name, "labels": ["bench"]})
        created.raise_for_status()
        workdir = self.folder / name
        workdir.mkdir()
        env = clean_env({"JOBPLAN_AGENT_KEY": created.json()["key"], "JOBPLAN_LOG_LEVEL": "INFO"})
        log = (self.folder / f"{name}.log").open("w")
        argv = [sys.executable, "-m", "jobplan", "agent", "--server", self.url]
        argv += ["--workdir", str(workdir), "--slots", str(self.slots)]
        self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "agent.connected" in (self.folder / f"{name}.log").read_text():
                return
            time.sleep(0.1)
        log = (self.folder / f"{name}.log").read_text()
        raise RuntimeError(f"agent {name} did not connect in 60 s:\n{log[-2000:]}")

    def plans(self, prefix: str, count: int, jobs: int, agent: str | None, cron: str) -> None:
        """``count`` plans of ``jobs`` no-op jobs each, all on ``cron``."""
        job: dict[str, Any] = {"kind": "command", "command": COMMAND}
        if agent is not None:
            job["agent"] = agent
        for index in range(count):
            document = {
                "name": f"{prefix}-{index}",
                "window": {"cron": cron, "timezone": "UTC"},
                "policies": {"overlap": "allow", "misfire": "run_once"},
                "jobs": [{"name": f"j{i}", **job} for i in range(jobs)],
            }
            self.api.post("/api/v1/plans", json=document).raise_for_status()

    def wait_ended(self, prefix: str, jobs: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        ended = 0
        while time.monotonic() < deadline:
            (ended,) = self.db.execute(
                "SELECT count(*) FROM job_runs jr JOIN plan_runs pr ON pr.id = jr.plan_run_id "
                "WHERE pr.plan_path LIKE ? AND jr.status IN ('COMPLETE', 'ERROR', 'KILLED')",
                (f"{prefix}-%",),
            ).fetchone()
            if ended >= jobs:
                return
            time.sleep(0.2)
        raise RuntimeError(f"only {ended} of {jobs} job runs ended in {timeout}s")

    def rows(self, prefix: str) -> list[tuple[datetime, datetime | None, float | None, str]]:
        """(ready, ended, process start, status) of each job run."""
        found = []
        for ready, ended, status, text in self.db.execute(
            "SELECT coalesce(jr.wake_at, jr.created_at), jr.ended_at, jr.status, "
            "(SELECT group_concat(o.chunk, '') FROM job_run_output o WHERE o.job_run_id = jr.id)"
            " FROM job_runs jr JOIN plan_runs pr ON pr.id = jr.plan_run_id "
            "WHERE pr.plan_path LIKE ?",
            (f"{prefix}-%",),
        ):
            started = float(text) if text and text.strip() else None
            found.append((_when(ready), _when(ended) if ended else None, started, status))
        return found

    def cpu(self) -> tuple[float, float]:
        """CPU seconds used so far by the server and by the agents together."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = []
        for process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                used.append(0.0)
                continue
            used.append((int(fields[11]) + int(fields[12])) / ticks)  # utime + stime
        return (used[0] if used else 0.0), sum(used[1:])

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latencies(rows: list[tuple[datetime, datetime | None, float | None, str]]) -> list[float]:
    return [(started - ready.timestamp()) * 1000 for ready, _, started, _ in rows if started]


def fire_cron(seconds: int, after: float) -> tuple[str, float]:
    """A Quartz cron firing once a second for ``seconds`` seconds, the first at least
    ``after`` seconds from now (within one minute), and that first fire's time."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=math.ceil(after))
    if start.second + seconds > 60:
        start = start.replace(second=0) + timedelta(minutes=1)
    last = start.second + seconds - 1
    seconds_field = str(start.second) if seconds == 1 else f"{start.second}-{last}"
    cron = f"{seconds_field} {start.minute} {start.hour} {start.day} {start.month} ? {start.year}"
    return cron, start.timestamp()


def scenario(
    bench: Bench,
    prefix: str,
    target: str,
    agent: str | None,
    *,
    plans: int,
    per_run: int,
    seconds: int,
    label: str,
) -> Measured:
    """``plans`` plans of ``per_run`` jobs, each firing once a second for ``seconds`` s."""
    cron, first_fire = fire_cron(seconds, after=3 + plans * 0.15)
    bench.plans(prefix, plans, per_run, agent, cron)
    total = plans * per_run * seconds
    while time.time() < first_fire:  # CPU counted from the first fire on
        time.sleep(0.01)
    server_before, agents_before = bench.cpu()
    bench.wait_ended(prefix, total)
    server_after, agents_after = bench.cpu()
    rows = bench.rows(prefix)
    first = min(ready for ready, _, _, _ in rows)
    last = max(ended for _, ended, _, _ in rows if ended is not None)
    waits = latencies(rows)
    failed = sum(1 for *_, status in rows if status != "COMPLETE")
    late = first.timestamp() - first_fire
    if late > 1:
        print(f"  (the first fire opened {late:.1f} s late: plans took long to create)")
    return Measured(
        target,
        label,
        len(rows),
        len(rows) / (last - first).total_seconds(),
        percentile(waits, 0.5),
        percentile(waits, 0.99),
        failed,
        server_after - server_before,
        agents_after - agents_before,
    )


async def spawn_ceiling(count: int, concurrency: int) -> float:
    """Processes/s the CommandExecutor starts and reaps here, with no server."""
    job = CommandJob(name="noop", command=COMMAND)
    async with CommandExecutor() as executor:
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            async with gate:
                request = ExecutionRequest(f"c{index}", 1, job, {}, None, 4096)
                await executor.execute(request, NULL_SINK)

        begin = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in each burst")
    parser.add_argument("--rate", type=float, default=100.0, help="paced job runs/s")
    parser.add_argument("--seconds", type=int, default=10, help="length of a paced scenario")
    parser.add_argument("--per-run", type=int, default=10, help="jobs per paced plan run")
    parser.add_argument("--slots", type=int, default=64, help="slots per agent and node")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.seconds = 200, 3
    ceiling = asyncio.run(spawn_ceiling(args.jobs, args.slots))
    print(f"spawn ceiling (CommandExecutor, no server): {ceiling:,.0f} processes/s", flush=True)
    results: list[Measured] = []
    folder = tempfile.mkdtemp(prefix="agent-bench-")
    print(f"folder: {folder}", flush=True)
    bench = Bench(Path(folder), args.slots)
    try:
        bench.start_server()
        targets: list[tuple[str, str | None, int]] = [
            ("server", None, 0),
            ("1 agent", "a1", 1),
            ("4 agents", "label:bench", 4),
        ]
        for target, agent, agents in targets:
            while len(bench.keys) < agents:
                name = f"a{len(bench.keys) + 1}"
                bench.start_agent(name)
                bench.keys[name] = name
            slug = target.replace(" ", "-")
            for measured in (
                scenario(
                    bench,
                    f"burst-{slug}",
                    target,
                    agent,
                    plans=args.jobs // args.per_run,
                    per_run=args.per_run,
                    seconds=1,
                    label="burst",
                ),
                scenario(
                    bench,
                    f"paced-{slug}",
                    target,
                    agent,
                    plans=max(1, round(args.rate / args.per_run)),
                    per_run=args.per_run,
                    seconds=args.seconds,
                    label=f"paced {args.rate:g}/s",
                ),
            ):
                results.append(measured)
                print(
                    f"{measured.target:9} {measured.scenario:12} {measured.jobs:6} job runs "
                    f"{measured.per_second:8,.0f}/s  dispatch p50 {measured.p50_ms:7.1f} ms "
                    f"p99 {measured.p99_ms:7.1f} ms  not complete {measured.failed}  CPU ms per "
                    f"job run: server {1000 * measured.server_cpu / measured.jobs:.1f}, "
                    f"agents {1000 * measured.agents_cpu / measured.jobs:.1f}",
                    flush=True,
                )
    finally:
        bench.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(
        "| target | scenario | job runs | job runs/s | dispatch p50 ms | p99 ms "
        "| server CPU ms/job run | agents CPU ms/job run |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for m in results:
        print(
            f"| {m.target} | {m.scenario} | {m.jobs} | {m.per_second:,.0f} | "
            f"{m.p50_ms:.1f} | {m.p99_ms:.1f} | {1000 * m.server_cpu / m.jobs:.1f} "
            f"| {1000 * m.agents_cpu / m.jobs:.1f} |"
        )


if __name__ == "__main__":
    main()
