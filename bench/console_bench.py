"""Console benchmark: server time of the console's pages against the JSON API answering the
same data, with 10,000 plans and 1,000,000 job runs in a SQLite store.

Seeding (not timed): one tenant, plans in 100 folders, each plan with two versions of a
five-job document (a time gate, then extract -> transform -> load, and a report that waits
for load or for not-transform); ``--job-runs / 5`` plan runs of five job runs each, spread
over 90 days and skewed as real histories are: 1% of the plans hold half of the runs and
plan 0 alone 5% of them (its runs are the worst case of every per-plan query); plan 1 has
302 versions (edited daily for most of a year), the others two. About 93%
of runs COMPLETE, 6% ERROR (a failed job, the rest SKIPPED), 1% ENDED, the newest of a few
plans RUNNING; per-plan statistics as the engine keeps them. Rows go in with the driver's
``executemany`` in creation order, as a scheduler would have written them.

Measured: the app from ``create_app`` with the engine off, signed in once through
``/signin`` (console cookie) and ``/oauth/token`` (API bearer token), driven in-process
with Starlette's ``TestClient``. The server time of each request is taken inside the ASGI
app (from the call to the last body chunk), so the test client's own cost is left out.
Each scenario pairs a page with the API calls returning the same data: the plans page with
``GET /api/v1/plans`` and ``/api/v1/folders`` plus, per plan, its last 10 runs and its
figures (two calls a plan: the API has no batch read of them); because that makes the API
side 102 calls, the first page is also set against the two list calls alone ("vs list API
only", the strictest bound), and so is a page three quarters down the list (its OFFSET is
the point). The plan page with the plan, its versions, its figures, its latest run and that
run's job runs; the run page with the run (and job runs) and the plan version it ran; the
grid with the plan, its last 25 runs and each run's job runs.
The plan page is measured on plan 0 and on plan 1. After a warm-up, the page and its API
calls alternate (order swapped each round) so machine noise hits both. Printed: p50/p95 per
page and per API set, the page/API ratio of the medians and of p95, and the SQL statements
per page (and per API set). ``--profile`` prints a cProfile of the slowest page. Run:
``python bench/console_bench.py`` (3-7 minutes, a third of it seeding; ``--store DIR``
keeps the seeded store for the next run; ``--plans N --job-runs N --requests N`` for other
sizes).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, insert, select

from jobplan.api import create_app
from jobplan.model import PlanDocument
from jobplan.service.bootstrap import bootstrap_admin
from jobplan.service.container import Services
from jobplan.service.plans import PLAN_FORMAT_VERSION
from jobplan.settings import Settings
from jobplan.store import Database, new_id
from jobplan.store.runs import new_run_ids
from jobplan.store.tables import folders, job_runs, plan_stats, plan_versions, plans
from jobplan.store.tables import tenants as tenants_table

USER, PASSWORD = "bench", "bench-password-123"
JOBS = ("gate", "extract", "transform", "load", "report")
FOLDERS = 100
DAYS = 90
BATCH = 20_000
EDITED = 302  # versions of plan 1
TARGET_P95_MS = 150.0
TARGET_RATIO = 2.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _document(name: str, folder: str) -> dict[str, Any]:
    return PlanDocument.model_validate(
        {
            "name": name,
            "folder": folder,
            "description": "nightly load of the ledger",
            "window": {"cron": "0 15 2 ? * MON-FRI", "timezone": "Europe/London"},
            "jobs": [
                {"name": "gate", "kind": "time", "cron": "0 0 1 * * ?", "timezone": "UTC"},
                {"name": "extract", "kind": "command", "command": "echo x", "depends_on": "gate"},
                {
                    "name": "transform",
                    "kind": "command",
                    "command": "echo t",
                    "depends_on": "extract",
                },
                {"name": "load", "kind": "command", "command": "echo l", "depends_on": "transform"},
                {
                    "name": "report",
                    "kind": "command",
                    "command": "echo r",
                    "depends_on": {"or": ["load", {"not": "transform"}]},
                },
            ],
        }
    ).model_dump(mode="json")


def _runs_per_plan(plan_count: int, run_count: int) -> list[int]:
    """Half the runs on the busiest 1% of plans, plan 0 alone 5%; the rest spread evenly."""
    hot = max(1, plan_count // 100)
    counts = [0] * plan_count
    counts[0] = run_count // 20
    hot_share = run_count // 2 - counts[0]
    for index in range(1, hot):
        counts[index] = hot_share // max(1, hot - 1)
    rest = run_count - sum(counts)
    cold = plan_count - hot
    for index in range(hot, plan_count):
        counts[index] = rest // cold + (1 if index - hot < rest % cold else 0)
    return counts


_RUN_COLUMNS = (
    "id, tenant_id, plan_id, plan_path, plan_version_id, version, status, trigger, "
    "scheduled_for, created_at, started_at, ended_at, parameters, history, reason, created_by"
)
_RUN_INSERT = f"INSERT INTO plan_runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 16)})"
_JOB_COLUMNS = (
    "id, tenant_id, plan_run_id, job_name, kind, status, attempt, retries, stop_requested, "
    "created_at, queued_at, started_at, ended_at, exit_code, reason, flags, acknowledged"
)
_JOB_INSERT = f"INSERT INTO job_runs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 17)})"


def _text(origin: datetime, seconds: int) -> str:
    """``origin`` (naive UTC, whole seconds) + ``seconds`` as the store keeps instants on
    SQLite: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return (origin + timedelta(seconds=seconds)).isoformat(" ") + ".000000"


def _job_row(
    job_id: str,
    tenant_id: str,
    run_id: str,
    job: str,
    kind: str,
    status: str,
    created: str,
    started: str | None,
    ended: str | None,
    exit_code: int | None,
    reason: str | None,
) -> tuple[Any, ...]:
    return (
        job_id, tenant_id, run_id, job, kind, status, 1, 0, 0,
        created, started, started, ended, exit_code, reason, "[]", 0,
    )  # fmt: skip


def seed(database: Database, tenant_id: str, plan_count: int, job_run_count: int) -> str:
    """Fill the store; returns plan 0's id (the busiest plan)."""
    rng = random.Random(12)
    now = datetime.now(UTC).replace(microsecond=0)
    folder_paths = [f"team{i // 10:02d}/area{i % 10}" for i in range(FOLDERS)]
    folder_rows = [
        {"id": new_id(), "tenant_id": tenant_id, "path": p, "description": "", "created_at": now}
        for p in sorted({f.split("/")[0] for f in folder_paths} | set(folder_paths))
    ]
    plan_rows, version_rows, plan_info = [], [], []
    template = _document("x", "y")
    for index in range(plan_count):
        folder, name = folder_paths[index % FOLDERS], f"ledger-{index:05d}"
        plan_id = new_id()
        document = {**template, "name": name, "folder": folder}
        # plan 1 was edited daily for most of a year: EDITED versions; the others have two
        majors = range(1, (EDITED if index == 1 else 2) + 1)
        numbered = [(new_id(), f"{major}.0.0", major) for major in majors]
        current_id, current = numbered[-1][0], numbered[-1][1]
        for version_id, version, major in numbered:
            version_rows.append(
                {
                    "id": version_id,
                    "plan_id": plan_id,
                    "tenant_id": tenant_id,
                    "version": version,
                    "major": major,
                    "minor": 0,
                    "patch": 0,
                    "format_version": PLAN_FORMAT_VERSION,
                    "document": {**document, "version": version},
                    "comment": "",
                    "created_by": USER,
                    "created_at": now - timedelta(days=len(numbered) + DAYS - major),
                }
            )
        plan_rows.append(
            {
                "id": plan_id,
                "tenant_id": tenant_id,
                "folder": folder,
                "name": name,
                "enabled": index % 7 != 0,
                "current_version_id": current_id,
                "current_version": current,
                "created_at": now - timedelta(days=DAYS + 2),
                "updated_at": now - timedelta(days=DAYS),
                "next_fire_time": now + timedelta(minutes=rng.randrange(1, 60 * 24 * 3)),
                "last_fire_time": None,
            }
        )
        plan_info.append((plan_id, f"{folder}/{name}", current_id, current))
    with database.transaction() as conn:
        conn.execute(insert(folders), folder_rows)
        conn.execute(insert(plans), plan_rows)
        conn.execute(insert(plan_versions), version_rows)

    # every run's creation time, then ids in that order (UUIDv7, as the scheduler's)
    span = DAYS * 86_400
    counts = _runs_per_plan(plan_count, job_run_count // len(JOBS))
    schedule: list[tuple[int, int]] = []
    for index, count in enumerate(counts):
        schedule += [(int(rng.random() * span), index) for _ in range(count)]
    schedule.sort()
    newest: dict[int, int] = {}
    for at, index in schedule:
        newest[index] = at
    origin = (now - timedelta(seconds=span)).replace(tzinfo=None)
    stats: dict[int, list[Any]] = {}
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA cache_size = -262144")  # 256 MiB: index inserts stay in memory
        for start in range(0, len(schedule), BATCH):
            part = schedule[start : start + BATCH]
            ids = iter(new_run_ids(len(part) * (1 + len(JOBS))))
            runs: list[tuple[Any, ...]] = []
            jobs: list[tuple[Any, ...]] = []
            for at, index in part:
                plan_id, path, version_id, version = plan_info[index]
                running = newest[index] == at and index % 50 == 3
                roll = rng.random()
                status = (
                    "RUNNING"
                    if running
                    else "COMPLETE"
                    if roll < 0.93
                    else "ERROR"
                    if roll < 0.99
                    else "ENDED"
                )
                failed_at = 1 + int(roll * 1000) % (len(JOBS) - 2) if status == "ERROR" else -1
                run_id = next(ids)
                created = _text(origin, at)
                moment = at + 1
                for position, job in enumerate(JOBS):
                    kind = "time" if position == 0 else "command"
                    if running and position >= 2:
                        state = "RUNNING" if position == 2 else "WAITING"
                        started = _text(origin, moment) if position == 2 else None
                        jobs.append(
                            _job_row(
                                next(ids),
                                tenant_id,
                                run_id,
                                job,
                                kind,
                                state,
                                created,
                                started,
                                None,
                                None,
                                None,
                            )
                        )
                        continue
                    if 0 <= failed_at < position:
                        jobs.append(
                            _job_row(
                                next(ids),
                                tenant_id,
                                run_id,
                                job,
                                kind,
                                "SKIPPED",
                                created,
                                None,
                                None,
                                None,
                                None,
                            )
                        )
                        continue
                    took = 2 + int(rng.random() * 600)
                    failed = position == failed_at
                    jobs.append(
                        _job_row(
                            next(ids),
                            tenant_id,
                            run_id,
                            job,
                            kind,
                            "ERROR" if failed else "COMPLETE",
                            created,
                            _text(origin, moment),
                            _text(origin, moment + took),
                            1 if failed else 0,
                            "exit code 1" if failed else None,
                        )
                    )
                    moment += took
                ended = None if running else _text(origin, moment)
                runs.append(
                    (
                        run_id,
                        tenant_id,
                        plan_id,
                        path,
                        version_id,
                        version,
                        status,
                        "schedule" if roll < 0.97 else "manual",
                        created,
                        created,
                        created,
                        ended,
                        "{}",
                        "FULL",
                        "load failed" if status == "ERROR" else None,
                        "scheduler",
                    )
                )
                figures = stats.setdefault(index, [0, 0, 0, 0, 0.0, None, None])
                figures[0] += 1
                figures[1] += status == "COMPLETE"
                figures[2] += status == "ERROR"
                figures[3] += status == "ENDED"
                if ended is not None:
                    figures[4] += moment - at
                figures[5], figures[6] = status, now - timedelta(seconds=span - at)
            cursor.execute("BEGIN")
            cursor.executemany(_RUN_INSERT, runs)
            cursor.executemany(_JOB_INSERT, jobs)
            raw.commit()
            print(f"seeded {start + len(part):,} runs", file=sys.stderr, end="\r")
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    print(file=sys.stderr)
    with database.transaction() as conn:
        conn.execute(
            insert(plan_stats),
            [
                {
                    "plan_id": plan_info[index][0],
                    "tenant_id": tenant_id,
                    "total": f[0],
                    "succeeded": f[1],
                    "failed": f[2],
                    "ended": f[3],
                    "total_duration_seconds": f[4],
                    "last_status": f[5],
                    "last_run_at": f[6],
                }
                for index, f in stats.items()
            ],
        )
    return plan_info[0][0]


class ServerTimer:
    """ASGI wrapper: the time from the app's call to the last chunk of the response body."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0
        self.profiler: cProfile.Profile | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if self.profiler is not None:
            self.profiler.enable()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - started

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if self.profiler is not None:
                self.profiler.disable()


Fetch = Callable[[str], Any]
Case = tuple[str, str, Callable[[Fetch], None]]


def scenarios(
    plan_id: str, run_id: str, version: str, plan_count: int, edited_id: str | None
) -> list[Case]:
    """(name, page path, the API calls giving the same data). The API calls work their
    way as a client would: from one answer to the next call."""
    search = f"ledger-{plan_count // 2:05d}"[:-1]  # ten plans
    deep = max(1, plan_count * 3 // 4 // 50)  # three quarters down the list

    def plans_list(query: str, every: bool) -> Callable[[Fetch], None]:
        """The plans and folders; with ``every``, also each plan's last 10 runs and
        figures (two calls a plan: the API has no batch read of them)."""

        def calls(fetch: Fetch) -> None:
            listed = fetch(f"/api/v1/plans?recursive=true&limit=50{query}")
            fetch("/api/v1/folders?limit=200")
            for plan in listed if every else []:
                fetch(f"/api/v1/runs?plan={plan['id']}&limit=10")
                fetch(f"/api/v1/plans/{plan['id']}/stats")

        return calls

    def plan_calls_of(plan: str) -> Callable[[Fetch], None]:
        def calls(fetch: Fetch) -> None:
            fetch(f"/api/v1/plans/{plan}")
            fetch(f"/api/v1/plans/{plan}/versions")
            fetch(f"/api/v1/plans/{plan}/stats")
            newest = fetch(f"/api/v1/runs?plan={plan}&limit=1")[0]["id"]
            fetch(f"/api/v1/runs/{newest}")

        return calls

    def run_calls(fetch: Fetch) -> None:
        fetch(f"/api/v1/runs/{run_id}")
        fetch(f"/api/v1/plans/{plan_id}/versions/{version}")

    def grid_calls(fetch: Fetch) -> None:
        fetch(f"/api/v1/plans/{plan_id}")
        for run in fetch(f"/api/v1/runs?plan={plan_id}&limit=25"):
            fetch(f"/api/v1/runs/{run['id']}")

    return [
        ("plans, first page", "/plans", plans_list("", True)),
        ("  vs list API only *", "/plans", plans_list("", False)),
        (f"plans, search {search}", f"/plans?q={search}", plans_list(f"&q={search}", True)),
        (
            f"plans, page {deep} *",
            f"/plans?page={deep}",
            plans_list(f"&offset={(deep - 1) * 50}", False),
        ),
        ("plan (busiest)", f"/plans/{plan_id}", plan_calls_of(plan_id)),
        *(
            [(f"plan, {EDITED} versions", f"/plans/{edited_id}", plan_calls_of(edited_id))]
            if edited_id
            else []
        ),
        ("run", f"/runs/{run_id}", run_calls),
        ("grid, 25 runs", f"/plans/{plan_id}/grid?runs=25", grid_calls),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=10_000, help="plans in the store")
    parser.add_argument("--job-runs", type=int, default=1_000_000, help="job runs (5 a run)")
    parser.add_argument("--requests", type=int, default=60, help="timed rounds per scenario")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    parser.add_argument("--profile", action="store_true", help="cProfile the slowest page")
    parser.add_argument(
        "--store",
        type=Path,
        help="keep the seeded store in this folder and reuse it next time (default: a "
        "temporary folder, seeded afresh)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.store or Path(tmp))


def run(args: argparse.Namespace, home: Path) -> None:
    settings = Settings(
        home=home,  # type: ignore[arg-type]
        engine_enabled=False,
        admin_user=USER,
        admin_password=PASSWORD,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )
    settings.ensure_home()
    database = Database(f"sqlite:///{home / 'bench.db'}")
    database.upgrade()
    services = Services(settings, database)
    services.bootstrap = bootstrap_admin(database, settings, services.passwords)
    with database.read() as conn:
        tenant_id = conn.execute(select(tenants_table.c.id)).scalar_one()
        plan_id = conn.execute(
            select(plans.c.id).where(plans.c.name == "ledger-00000")
        ).scalar_one_or_none()
    if plan_id is None:
        started = time.perf_counter()
        plan_id = seed(database, tenant_id, args.plans, args.job_runs)
        print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with database.read() as conn:  # a kept store has its own sizes
        edited_id = conn.execute(
            select(plans.c.id).where(plans.c.name == "ledger-00001")
        ).scalar_one_or_none()
        args.plans = conn.execute(select(func.count()).select_from(plans)).scalar_one()
        args.job_runs = conn.execute(select(func.count()).select_from(job_runs)).scalar_one()
    timer = ServerTimer(create_app(settings, services))
    statements: list[str] = []
    event.listen(
        database.engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: statements.append(sql),
    )
    try:
        with TestClient(timer) as client:
            response = client.post("/signin", data={"username": USER, "password": PASSWORD})
            assert response.status_code == 200, response.text[:300]
            token = client.post(
                "/oauth/token",
                data={"grant_type": "password", "username": USER, "password": PASSWORD},
            ).json()["access_token"]
            api = {"Authorization": f"Bearer {token}"}
            latest = client.get(f"/api/v1/runs?plan={plan_id}&limit=1", headers=api).json()
            cases = scenarios(plan_id, latest[0]["id"], latest[0]["version"], args.plans, edited_id)
            results = measure(client, timer, api, cases, args, statements)
            report(results, args)
            if args.profile:
                slowest = max(results, key=lambda r: percentile(r[1], 0.95))
                profile(client, timer, next(c for c in cases if c[0] == slowest[0])[1])
    finally:
        services.close()
        database.dispose()


Result = tuple[str, list[float], list[float], int, int]


def measure(
    client: TestClient,
    timer: ServerTimer,
    api: dict[str, str],
    cases: list[Case],
    args: argparse.Namespace,
    statements: list[str],
) -> list[Result]:
    spent = [0.0]

    def get(path: str, headers: dict[str, str] | None = None) -> Any:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        spent[0] += timer.last * 1000
        return response.json() if headers else None

    def api_round(calls: Callable[[Fetch], None]) -> float:
        spent[0] = 0.0
        calls(lambda path: get(path, api))
        return spent[0]

    def page_round(path: str) -> float:
        spent[0] = 0.0
        get(path)
        return spent[0]

    results: list[Result] = []
    for name, page_path, calls in cases:
        pages: list[float] = []
        apis: list[float] = []
        for round_number in range(args.warmup + args.requests):
            if round_number % 2:
                page_ms, api_ms = page_round(page_path), api_round(calls)
            else:
                api_ms = api_round(calls)
                page_ms = page_round(page_path)
            if round_number >= args.warmup:
                pages.append(page_ms)
                apis.append(api_ms)
        statements.clear()
        page_round(page_path)
        page_statements = len(statements)
        statements.clear()
        api_round(calls)
        results.append((name, pages, apis, page_statements, len(statements)))
        print(f"{name}: done", file=sys.stderr)
    return results


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"{args.plans:,} plans, {args.job_runs:,} job runs ({args.job_runs // len(JOBS):,} "
        f"plan runs); {args.requests} timed requests per page"
    )
    print(
        f"{'page':<26}{'p50 ms':>8}{'p95 ms':>8}{'API p50':>9}{'API p95':>9}"
        f"{'x p50':>7}{'x p95':>7}{'SQL':>5}{'API SQL':>8}  targets"
    )
    for name, pages, apis, page_sql, api_sql in results:
        p50, p95 = percentile(pages, 0.5), percentile(pages, 0.95)
        a50, a95 = percentile(apis, 0.5), percentile(apis, 0.95)
        less = name.endswith("*")  # the API side returns less than the page
        met = p95 <= TARGET_P95_MS and (less or p50 / a50 <= TARGET_RATIO)
        print(
            f"{name:<26}{p50:>8.1f}{p95:>8.1f}{a50:>9.1f}{a95:>9.1f}"
            f"{p50 / a50:>7.2f}{p95 / a95:>7.2f}{page_sql:>5}{api_sql:>8}  "
            f"{'met' if met else 'MISSED'}"
        )
    print(
        "Server time in ms (inside the ASGI app). API: the sum of the API calls giving the "
        "same data, measured in the same rounds. x: page / API. SQL: statements per request "
        f"(API: for all its calls). Targets: page p95 <= {TARGET_P95_MS:.0f} ms and "
        f"page/API <= {TARGET_RATIO:.0f}x (*: the API side is the list calls only and returns "
        "less than the page, so only the p95 target applies)."
    )


def profile(client: TestClient, timer: ServerTimer, path: str) -> None:
    """cProfile of 20 requests of ``path``. The app runs on the test client's event-loop
    thread and sync handlers on a thread pool; for the profile they run inline on the loop
    (FastAPI's ``run_in_threadpool`` replaced), so one profiler on that thread sees all."""
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    fastapi.routing.run_in_threadpool = inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = inline  # type: ignore[assignment]
    timer.profiler = cProfile.Profile()
    for _ in range(20):
        client.get(path)
    out = io.StringIO()
    pstats.Stats(timer.profiler, stream=out).sort_stats("cumulative").print_stats(45)
    timer.profiler = None
    print(f"cProfile of 20 x GET {path}, server side (cumulative):")
    print(out.getvalue())


if __name__ == "__main__":
    main()
