"""API benchmark: requests/s and p99 of three native calls on one real server process,
against a bare Starlette endpoint answering the same JSON in the same run.

The jobplan side is ``python -m jobplan serve`` (uvicorn, as ``make run`` starts it) on a
fresh SQLite home, with its scheduler on: one plan of 10 jobs (a time gate that opens in
2099 and nine commands after it, so runs stay open and nothing is spawned) and 200 started
runs. The calls, each authenticated with an API key (``X-API-Key``):

* ``GET /api/v1/plans/{id}``: one plan with its document;
* ``GET /api/v1/runs?plan={id}&limit=50``: a page of 50 runs;
* ``POST /api/v1/plans/{id}/runs`` with ``{"force": true}``: start a run (durable before it
  answers).

The peer is a bare Starlette app under the same uvicorn (same loop, same HTTP parser, one
worker): one route per call, answering the very JSON jobplan answered (parsed once, then
serialised on every request by ``JSONResponse``), without authentication, database or
validation: the framework's ceiling. Target: each read ≥ 0.5 of the ceiling's requests/s.

The load generator runs in its own process: ``--connections`` keep-alive HTTP/1.1
connections on raw sockets driven by one selector loop (no HTTP library: a request is one
``send`` and a response is parsed from its ``Content-Length``), each connection sending its
next request as soon as the previous answer is complete (closed loop). It reports its own
CPU time per request next to the server's (``/proc/<pid>/stat``), so one sees that it is not
the bottleneck. Server CPU per request is the steadier figure on a shared machine: requests/s
moves with what else runs, CPU time per request much less.

Rounds alternate the ceiling and jobplan for each call (``--rounds``, each
``--seconds`` long); the best round of each is reported (the least disturbed by the machine's
other work) with the median round beside it. Run: ``python bench/api_bench.py``
(about a minute; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

USER, PASSWORD = "bench", "bench-password-123"
TARGET = 0.5
RUNS = 200
JOBS = 10

PLAN = {
    "name": "api-bench",
    "folder": "bench",
    "description": "ten jobs behind a time gate that opens in 2099",
    "window": {"cron": "0 0 0 1 1 ? 2099", "timezone": "UTC"},
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

# --- the peer: a bare Starlette app answering the same JSON --------------------------------

_PEER = """
import json, sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
import uvicorn

answers = json.load(open(sys.argv[1]))

def endpoint(key, status):
    async def answer(request):
        return JSONResponse(answers[key], status_code=status)
    return answer

app = Starlette(routes=[
    Route("/plan", endpoint("plan", 200)),
    Route("/runs", endpoint("runs", 200)),
    Route("/start", endpoint("start", 201), methods=["POST"]),
])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None, access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, path: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not come up")


def call(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load generator -----------------------------------------------------------------


def _load(
    port: int, raw: bytes, connections: int, seconds: float, out: Any
) -> None:  # pragma: no cover - runs in its own process
    selector = selectors.DefaultSelector()
    socks = []
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
    latencies: list[float] = []
    errors = 0
    state: dict[socket.socket, list[Any]] = {}
    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + seconds
    for s in socks:
        state[s] = [time.perf_counter(), b""]
        s.send(raw)
        selector.register(s, selectors.EVENT_READ)
    while selector.get_map():
        for key, _ in selector.select(timeout=1.0):
            s = key.fileobj  # type: ignore[assignment]
            assert isinstance(s, socket.socket)
            entry = state[s]
            chunk = s.recv(1 << 20)
            if not chunk:
                raise SystemExit("server closed the connection")
            buffer = entry[1] + chunk
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                entry[1] = buffer
                continue
            head = buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at) if b"\r\n" in head[at:] else None])
            if len(buffer) < head_end + 4 + length:
                entry[1] = buffer
                continue
            now = time.perf_counter()
            if not head.startswith((b"http/1.1 200", b"http/1.1 201")):
                errors += 1
            latencies.append(now - entry[0])
            if now >= end:
                selector.unregister(s)
                continue
            entry[0], entry[1] = now, b""
            s.send(raw)
    elapsed = time.perf_counter() - start
    out.send((latencies, errors, elapsed, time.process_time() - cpu0))
    for s in socks:
        s.close()


def load(
    port: int, pid: int, method: str, path: str, body: bytes, headers: dict[str, str], args: Any
) -> dict[str, float]:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    receiver, sender = multiprocessing.Pipe(duplex=False)
    server_cpu = cpu_seconds(pid)
    process = multiprocessing.Process(
        target=_load, args=(port, raw, args.connections, args.seconds, sender)
    )
    process.start()
    latencies, errors, elapsed, client_cpu = receiver.recv()
    process.join()
    server_cpu = cpu_seconds(pid) - server_cpu
    if errors:
        raise SystemExit(f"{errors} requests to {path} failed")
    latencies.sort()
    count = len(latencies)
    return {
        "rps": count / elapsed,
        "p50": latencies[count // 2] * 1000,
        "p99": latencies[min(count - 1, int(count * 0.99))] * 1000,
        "server_us": server_cpu / count * 1e6,
        "client_us": client_cpu / count * 1e6,
    }


# --- the run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per call and server")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 1.0, 1
    with tempfile.TemporaryDirectory(prefix="api-bench-") as home:
        run(args, Path(home))


def run(args: argparse.Namespace, home: Path) -> None:
    port, peer_port = free_port(), free_port()
    env = {
        **os.environ,
        "JOBPLAN_HOME": str(home),
        "JOBPLAN_PORT": str(port),
        "JOBPLAN_HOST": "127.0.0.1",
        "JOBPLAN_ADMIN_USER": USER,
        "JOBPLAN_ADMIN_PASSWORD": PASSWORD,
        "JOBPLAN_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jobplan", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peer = None
    try:
        wait_up(port, "/livez")
        token = _token(port)
        bearer = {"Authorization": f"Bearer {token}"}
        key = call(port, "POST", "/api/v1/api-keys", {"name": "bench"}, bearer)["key"]
        auth = {"X-API-Key": key}
        plan = call(port, "POST", "/api/v1/plans", PLAN, auth)
        plan_id = plan["id"]
        for _ in range(RUNS):
            call(port, "POST", f"/api/v1/plans/{plan_id}/runs", {"force": True}, auth)
        answers = {
            "plan": call(port, "GET", f"/api/v1/plans/{plan_id}", None, auth),
            "runs": call(port, "GET", f"/api/v1/runs?plan={plan_id}&limit=50", None, auth),
            "start": call(port, "POST", f"/api/v1/plans/{plan_id}/runs", {"force": True}, auth),
        }
        answers_file = home / "answers.json"
        answers_file.write_text(json.dumps(answers))
        peer = subprocess.Popen(
            [sys.executable, "-c", _PEER, str(answers_file), str(peer_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_up(peer_port, "/plan")
        start_body = json.dumps({"force": True}).encode()
        cases = [
            ("GET one plan", "GET", f"/api/v1/plans/{plan_id}", "/plan", b"", True),
            ("GET 50 runs", "GET", f"/api/v1/runs?plan={plan_id}&limit=50", "/runs", b"", True),
            ("POST start a run", "POST", f"/api/v1/plans/{plan_id}/runs", "/start", start_body,
             False),
        ]  # fmt: skip
        print(
            f"jobplan server pid {server.pid}, peer pid {peer.pid}; {args.connections} "
            f"connections, {args.rounds} rounds of {args.seconds:.0f} s; load "
            f"{os.getloadavg()[0]:.1f}",
            file=sys.stderr,
        )
        rows = []
        for name, method, path, peer_path, body, read in cases:
            ours: list[dict[str, float]] = []
            theirs: list[dict[str, float]] = []
            for index in range(args.rounds):
                order = [(True, ours), (False, theirs)]
                for is_ours, into in order if index % 2 == 0 else order[::-1]:
                    if is_ours:
                        into.append(load(port, server.pid, method, path, body, auth, args))
                    else:
                        into.append(load(peer_port, peer.pid, method, peer_path, body, {}, args))
            rows.append((name, read, ours, theirs))
        report(rows)
    finally:
        for process in (server, peer):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def _token(port: int) -> str:
    data = urllib.parse.urlencode(
        {"grant_type": "password", "username": USER, "password": PASSWORD}
    ).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/oauth/token", data=data)
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.loads(response.read())["access_token"])


def _best(rounds: list[dict[str, float]]) -> dict[str, float]:
    return max(rounds, key=lambda r: r["rps"])


def report(rows: list[tuple[str, bool, list[dict[str, float]], list[dict[str, float]]]]) -> None:
    print(
        f"{'call':<18} {'server':<9} {'req/s':>8} {'median':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'srv µs/req':>10} {'gen µs/req':>10}"
    )
    verdicts = []
    for name, read, ours, theirs in rows:
        for label, rounds in (("jobplan", ours), ("starlette", theirs)):
            best = _best(rounds)
            median = statistics.median(r["rps"] for r in rounds)
            print(
                f"{name:<18} {label:<9} {best['rps']:>8.0f} {median:>8.0f} {best['p50']:>7.2f} "
                f"{best['p99']:>7.2f} {best['server_us']:>10.0f} {best['client_us']:>10.0f}"
            )
        ratio = _best(ours)["rps"] / _best(theirs)["rps"]
        cpu_ratio = _best(theirs)["server_us"] / _best(ours)["server_us"]
        target = f"target ≥ {TARGET}: {'met' if ratio >= TARGET else 'MISSED'}" if read else ""
        verdicts.append(
            f"{name}: {ratio:.2f} of the ceiling's req/s (by server CPU per request "
            f"{cpu_ratio:.2f}) {target}"
        )
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
