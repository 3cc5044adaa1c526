"""Bundle export and import: jobplan's format layer and its service path, against two peers.

Run: ``.venv/bin/python bench/bundle_bench.py`` (no arguments; 5-10 minutes on a busy
2-core machine) or with ``--quick`` for a smoke run (a tenth of the jobs, one repeat).

Workloads: one plan of 10,000 command jobs (100 stages of 100, each job depending on the one
before, agents and ``or``/``not`` conditions between stages), and 100 plans of 100 jobs.

What is measured, each in a fresh subprocess (so the figures do not pollute each other):

- **format**: :func:`jobplan.bundle.write_bundle` into a file, :func:`read_bundle` from it.
- **service**: an export job (``TransferService.create_export`` then ``run_next``, which
  reads the plans from SQLite, writes, fsyncs and records the job) and an import job
  (``create_import`` of the file then ``run_next``: checks, validates and stores every plan
  in one transaction) over a real SQLite database in a temporary folder.
- **peer json+zip**: the same plan documents (``model_dump(mode="json")``) as one
  ``json.dumps(sort_keys=True, indent=2)`` entry per job plus one per plan, into a deflated
  ``zipfile`` at level 6, zipfile's default (jobplan writes level 1); import is
  ``json.loads`` of every entry, putting the jobs
  back and ``PlanDocument.model_validate``. The least any one-file-per-job zip exporter pays:
  no Ikasan mapping, no checksums, no manifest, no read-back, no hostile-zip checks.
- **peer PyYAML**: a Rundeck-like export — every plan in one YAML file (``yaml.dump`` with
  libyaml's ``CSafeDumper``); import is ``CSafeLoader`` and ``model_validate``.

Wall time and CPU time are each the best of the repeats, untraced (CPU time is steadier on
a busy machine); the closing lines also give the first run's wall time, which for the export
job includes validating the stored plan documents (later runs find them validated). Peak
memory is measured in a separate pass of the same subprocess with :mod:`tracemalloc`: the
most memory the operation allocated on top of what was live before it (Python allocations
only). The history rows export one plan of 10 jobs with ``include_history`` and a growing
number of runs, to show that memory stays flat while the runs are streamed.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from jobplan.bundle import BundlePlan, read_bundle, write_bundle
from jobplan.model import PlanDocument, Role
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.transfers import ExportOptions, ImportOptions, TransferKind
from jobplan.settings import Settings
from jobplan.store import accounts, new_id
from jobplan.store import runs as run_store
from jobplan.store.records import JobRunRecord, PlanRunRecord

EXPORT_TARGET_S = 2.0
IMPORT_TARGET_S = 5.0
STAMP = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


# --- workloads ------------------------------------------------------------------------------


def _stage_jobs(stage: int, count: int, first: int) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    for j in range(count):
        i = first + j
        job: dict[str, Any] = {
            "name": f"job-{i:05d}",
            "kind": "command",
            "command": f"./run --part {i}",
            "agent": f"agent-{i % 4}",
        }
        if j:
            job["depends_on"] = f"job-{i - 1:05d}"
        elif stage:
            job["depends_on"] = {"or": [f"job-{i - 1:05d}", {"not": f"job-{i - 2:05d}"}]}
        jobs.append(job)
    return jobs


def one_plan(stages: int) -> list[PlanDocument]:
    """One plan of ``stages`` stages of 100 jobs."""
    body = [{"name": f"stage-{s:03d}", "jobs": _stage_jobs(s, 100, s * 100)} for s in range(stages)]
    return [PlanDocument.model_validate({"name": "big", "folder": "perf", "stages": body})]


def many_plans(count: int) -> list[PlanDocument]:
    """``count`` plans of 100 jobs each, in ten folders."""
    return [
        PlanDocument.model_validate(
            {
                "name": f"plan-{p:03d}",
                "folder": f"perf/group-{p % 10}",
                "window": {"cron": "0 0 2 * * ?", "timezone": "Europe/London"},
                "jobs": _stage_jobs(0, 100, 0),
            }
        )
        for p in range(count)
    ]


def workload(name: str) -> list[PlanDocument]:
    kind, size = name.split(":")
    return one_plan(int(size) // 100) if kind == "one" else many_plans(int(size) // 100)


def describe(name: str) -> str:
    kind, size = name.split(":")
    jobs = int(size)
    if kind == "one":
        return f"1 plan x {jobs:,} jobs"
    return f"{jobs // 100} plans x 100 jobs"


# --- peers ----------------------------------------------------------------------------------


def _split(node: dict[str, Any], jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan (or stage) with each job replaced by its name; the jobs go to ``jobs``."""
    jobs.extend(node["jobs"])
    return {
        **node,
        "jobs": [job["name"] for job in node["jobs"]],
        "stages": [_split(stage, jobs) for stage in node["stages"]],
    }


def _join(node: dict[str, Any], jobs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        **node,
        "jobs": [jobs[name] for name in node["jobs"]],
        "stages": [_join(stage, jobs) for stage in node["stages"]],
    }


def peer_zip_export(documents: list[PlanDocument], path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        for index, document in enumerate(documents):
            jobs: list[dict[str, Any]] = []
            skeleton = _split(document.model_dump(mode="json"), jobs)
            base = f"plans/{index:05d}-{document.name}"
            out.writestr(f"{base}/plan.json", json.dumps(skeleton, sort_keys=True, indent=2))
            for job in jobs:
                text = json.dumps(job, sort_keys=True, indent=2, ensure_ascii=False)
                out.writestr(f"{base}/jobs/{job['name']}.json", text.encode())


def peer_zip_import(path: Path) -> list[PlanDocument]:
    skeletons: dict[str, dict[str, Any]] = {}
    jobs: dict[str, dict[str, dict[str, Any]]] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            base, _, rest = name.partition("/jobs/")
            data = json.loads(archive.read(name))
            if rest:
                jobs.setdefault(base, {})[data["name"]] = data
            else:
                skeletons[name.removesuffix("/plan.json")] = data
    return [
        PlanDocument.model_validate(_join(skeleton, jobs.get(base, {})))
        for base, skeleton in skeletons.items()
    ]


def peer_yaml_export(documents: list[PlanDocument], path: Path) -> None:
    data = [document.model_dump(mode="json") for document in documents]
    with open(path, "w", encoding="utf-8") as out:
        yaml.dump(data, out, Dumper=yaml.CSafeDumper, sort_keys=True, allow_unicode=True)


def peer_yaml_import(path: Path) -> list[PlanDocument]:
    with open(path, encoding="utf-8") as source:
        data = yaml.load(source, Loader=yaml.CSafeLoader)
    return [PlanDocument.model_validate(item) for item in data]


# --- the service path -----------------------------------------------------------------------


class ServiceRig:
    """A SQLite database in ``home`` with one tenant (and its admin caller) per import."""

    def __init__(self, home: Path) -> None:
        self.services = Services.open(Settings(home=home))  # type: ignore[call-arg]
        self.tenants = 0
        self.caller = self.tenant()

    def tenant(self) -> Caller:
        self.tenants += 1
        name = f"bench-{self.tenants}"
        with self.services.database.transaction() as conn:
            record = accounts.insert_tenant(conn, name, name, {})
        return Caller(
            user_id=new_id(),
            username=f"{name}-admin",
            tenant_id=record.id,
            tenant_name=name,
            role=Role.ADMIN,
        )

    def store(self, documents: list[PlanDocument]) -> None:
        for document in documents:
            self.services.plans.create(self.caller, document)

    def export(self, history: bool = False) -> int:
        transfers = self.services.transfers
        job = transfers.create_export(
            self.caller, ExportOptions(folders=("perf",), include_history=history)
        )
        transfers.run_next("bench")
        done = transfers.get(self.caller, TransferKind.EXPORT, job.id)
        if done.status != "completed" or done.file_size is None:
            raise SystemExit(f"export job ended {done.status}: {done.reason}")
        return done.file_size

    def import_(self, bundle: Path) -> int:
        caller = self.tenant()
        transfers = self.services.transfers
        with open(bundle, "rb") as upload:
            job = transfers.create_import(caller, upload, ImportOptions())
        transfers.run_next("bench")
        done = transfers.get(caller, TransferKind.IMPORT, job.id)
        if done.status != "completed" or done.result is None:
            raise SystemExit(f"import job ended {done.status}: {done.reason}")
        return len(done.result["added"])

    def add_history(self, runs: int, jobs: int) -> None:
        """``runs`` finished runs of every plan, ``jobs`` job runs each, written in batches
        through the store's own insert functions."""
        with self.services.database.read() as conn:
            plan = self.services.plans.resolve(conn, self.caller, "perf/history")
        view = self.services.plans.get(self.caller, plan.id)
        version_id = view.version.id
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for first in range(0, runs, 500):
            plan_runs, job_runs = [], []
            for index in range(first, min(runs, first + 500)):
                began = start + timedelta(minutes=index)
                run_id = new_id()
                plan_runs.append(
                    PlanRunRecord(
                        id=run_id,
                        tenant_id=self.caller.tenant_id,
                        plan_id=plan.id,
                        plan_path=plan.path,
                        plan_version_id=version_id,
                        version="1.0.0",
                        status="COMPLETE",
                        trigger="schedule",
                        scheduled_for=began,
                        created_at=began,
                        started_at=began,
                        ended_at=began + timedelta(seconds=30),
                        deadline_at=None,
                        purge_after=None,
                        parameters={},
                        history="FULL",
                        reason=None,
                        created_by="bench",
                    )
                )
                job_runs.extend(
                    JobRunRecord(
                        id=new_id(),
                        tenant_id=self.caller.tenant_id,
                        plan_run_id=run_id,
                        job_name=f"job-{j:05d}",
                        kind="command",
                        status="SUCCEEDED",
                        attempt=1,
                        retries=0,
                        wake_at=None,
                        owner_node=None,
                        lease_until=None,
                        stop_requested=False,
                        created_at=began,
                        queued_at=began,
                        started_at=began,
                        ended_at=began + timedelta(seconds=j + 1),
                        exit_code=0,
                        http_status=None,
                        pid=1000 + j,
                        reason=None,
                        flags=[],
                        acknowledged=False,
                    )
                    for j in range(jobs)
                )
            with self.services.database.transaction() as conn:
                run_store.insert_plan_runs(conn, plan_runs)
                run_store.insert_job_runs(conn, job_runs)

    def close(self) -> None:
        self.services.close()


# --- one measurement (in a subprocess) ------------------------------------------------------


def measure(operation: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Best time of ``repeats`` untraced runs, then one traced run for the peak allocation."""
    best = cpu = float("inf")
    first: float | None = None
    result: Any = None
    for _ in range(repeats):
        gc.collect()
        began, began_cpu = time.perf_counter(), time.process_time()
        result = operation()
        elapsed = time.perf_counter() - began
        first = elapsed if first is None else first
        best = min(best, elapsed)
        cpu = min(cpu, time.process_time() - began_cpu)
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    operation()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": best,
        "first_seconds": first,
        "cpu_seconds": cpu,
        "peak_mb": (peak - before) / 2**20,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "result": result,
    }


def _write(documents: list[PlanDocument], path: Path) -> int:
    with open(path, "wb") as out:
        write_bundle(
            [BundlePlan(document) for document in documents],
            out,
            source_tenant="bench",
            created_at=STAMP,
            pause_collector=True,  # as the export job writes
        )
    return path.stat().st_size


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement described by ``spec`` and return its figures."""
    subject, operation, repeats = spec["subject"], spec["operation"], spec["repeats"]
    with tempfile.TemporaryDirectory(prefix="bundle-bench-") as tmp:
        folder = Path(tmp)
        if subject == "history":
            rig = ServiceRig(folder / "home")
            rig.store(
                [
                    PlanDocument.model_validate(
                        {"name": "history", "folder": "perf", "jobs": _stage_jobs(0, 10, 0)}
                    )
                ]
            )
            rig.add_history(spec["runs"], 10)
            figures = measure(lambda: rig.export(history=True), repeats)
            rig.close()
            return figures
        documents = workload(spec["workload"])
        bundle = folder / "bundle.zip"
        if subject == "format":
            if operation == "export":
                return measure(lambda: _write(documents, bundle), repeats)
            _write(documents, bundle)
            return measure(lambda: len(read_bundle(bundle).plans), repeats)
        if subject == "service":
            rig = ServiceRig(folder / "home")
            if operation == "export":
                rig.store(documents)
                figures = measure(rig.export, repeats)
            else:
                _write(documents, bundle)
                figures = measure(lambda: rig.import_(bundle), repeats)
            rig.close()
            return figures
        if subject == "zip":
            if operation == "export":
                return measure(lambda: peer_zip_export(documents, bundle), repeats)
            peer_zip_export(documents, bundle)
            return measure(lambda: len(peer_zip_import(bundle)), repeats)
        if subject == "yaml":
            target = folder / "plans.yaml"
            if operation == "export":
                return measure(lambda: peer_yaml_export(documents, target), repeats)
            peer_yaml_export(documents, target)
            return measure(lambda: len(peer_yaml_import(target)), repeats)
    raise SystemExit(f"unknown measurement {spec}")


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"measurement {spec} failed:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# --- the report -----------------------------------------------------------------------------


@dataclass
class Row:
    operation: str
    subject: str
    seconds: float
    first_seconds: float
    cpu_seconds: float
    peak_mb: float
    rss_mb: float


SUBJECTS = {
    "format": "jobplan bundle (format layer)",
    "service": "jobplan export/import job (SQLite)",
    "zip": "peer: json.dumps + zipfile",
    "yaml": "peer: one PyYAML file",
}


def rows_for(name: str, repeats: int) -> Iterator[Row]:
    for operation in ("export", "import"):
        for subject in SUBJECTS:
            spec = {"workload": name, "subject": subject, "operation": operation}
            figures = run_child({**spec, "repeats": repeats})
            yield Row(
                operation,
                subject,
                figures["seconds"],
                figures["first_seconds"],
                figures["cpu_seconds"],
                figures["peak_mb"],
                figures["rss_mb"],
            )


def print_table(name: str, rows: list[Row]) -> None:
    print(f"\n### {describe(name)}\n")
    print("| operation | what | time s | CPU s | x json+zip | x PyYAML | peak MB | RSS MB |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        peers = {r.subject: r.seconds for r in rows if r.operation == row.operation}
        print(
            f"| {row.operation} | {SUBJECTS[row.subject]} | {row.seconds:.2f} "
            f"| {row.cpu_seconds:.2f} "
            f"| {row.seconds / peers['zip']:.1f} | {row.seconds / peers['yaml']:.1f} "
            f"| {row.peak_mb:.0f} | {row.rss_mb:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 jobs, 1 repeat")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = child(json.loads(args.child))
        print(json.dumps(figures))
        return
    jobs = 1_000 if args.quick else 10_000
    repeats = 1 if args.quick else 3
    history_runs = (0, 250, 1_000) if args.quick else (0, 1_000, 4_000)
    print(
        f"Bundles of {jobs:,} jobs; time = best of {repeats} runs, each measurement in its own "
        "process; peak MB = most memory allocated during one run (tracemalloc).\n"
        "x json+zip, x PyYAML: time divided by the peer's time for the same operation; "
        "RSS MB: the measuring process's peak resident size (setup included)."
    )
    big = {}
    for name in (f"one:{jobs}", f"many:{jobs}"):
        rows = list(rows_for(name, repeats))
        print_table(name, rows)
        big[name] = rows
    print("\n### Export with history (one plan of 10 jobs, 10 job runs per run)\n")
    print("| runs in history | export job s | peak MB |")
    print("|--:|--:|--:|")
    for runs in history_runs:
        figures = run_child(
            {"subject": "history", "operation": "export", "runs": runs, "repeats": 1}
        )
        print(f"| {runs:,} | {figures['seconds']:.2f} | {figures['peak_mb']:.1f} |")
    print()
    for name, rows in big.items():
        for row in rows:
            if row.subject not in ("format", "service"):
                continue
            target = EXPORT_TARGET_S if row.operation == "export" else IMPORT_TARGET_S
            verdict = "meets" if row.seconds <= target else "MISSES"
            print(
                f"{describe(name)}, {SUBJECTS[row.subject]} {row.operation}: "
                f"{row.seconds:.2f} s (first run {row.first_seconds:.2f} s), "
                f"{verdict} the {target:g} s target"
            )


if __name__ == "__main__":
    main()
