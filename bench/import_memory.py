"""Peak memory of an import, hostile bundles and a large valid one, against the budget.

Run: ``.venv/bin/python bench/import_memory.py`` (a few minutes; part of ``make bench``).

Each bundle is imported in a fresh subprocess, two ways:

- **jobplan**: an import job through the transfer service over SQLite (``create_import`` of
  the file, then ``run_next``: the worker's whole path — checks, reading, validation, storing).
- **peer zipfile+json**: the naive reader — ``zipfile.ZipFile.read`` and ``json.loads`` of
  every ``.json`` entry — which is what imports did with the ignored folders before.

Each row gives the tracemalloc peak (Python allocations on top of what was live before) and
the growth of the process's peak RSS during the operation, in MiB; ``JOBPLAN_IMPORT_MEMORY_BYTES``
(default 256 MiB) is what jobplan must stay under. The hostile bundles are those of
``tests/integration/test_import_memory.py`` (tests/support/hostile.py): inside every
documented size limit. The valid one is the 10,000-job plan of bench/bundle_bench.py.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the hostile bundles' builders (support.hostile)
sys.path.insert(0, str(ROOT / "bench"))

MIB = 1024 * 1024
BUDGET = 256 * MIB


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _jobplan(bundle: Path, home: Path) -> str:
    from jobplan.model import Role
    from jobplan.service.caller import Caller
    from jobplan.service.container import Services
    from jobplan.service.transfers import ImportOptions, TransferKind
    from jobplan.settings import Settings
    from jobplan.store import accounts, new_id

    services = Services.open(Settings(home=home))  # type: ignore[call-arg]
    with services.database.transaction() as conn:
        tenant = accounts.insert_tenant(conn, "bench", "bench", {})
    caller = Caller(
        user_id=new_id(), username="admin", tenant_id=tenant.id, tenant_name="bench",
        role=Role.ADMIN,
    )  # fmt: skip
    with open(bundle, "rb") as upload:
        job = services.transfers.create_import(caller, upload, ImportOptions(folder="bench"))
    measure_start()
    services.transfers.run_next("bench")
    done = services.transfers.get(caller, TransferKind.IMPORT, job.id)
    return done.status if done.status == "completed" else f"refused: {done.reason}"


def _peer(bundle: Path, home: Path) -> str:
    measure_start()
    values = []
    with zipfile.ZipFile(bundle) as archive:
        for name in archive.namelist():
            if name.endswith(".json"):
                values.append(json.loads(archive.read(name)))
    return f"parsed {len(values)} entries"


_START: dict[str, int] = {}


def measure_start() -> None:
    gc.collect()
    _START["rss"] = _rss()
    tracemalloc.start()
    _START["traced"] = tracemalloc.get_traced_memory()[0]


def child(way: str, bundle: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        outcome = (_jobplan if way == "jobplan" else _peer)(Path(bundle), Path(home))
        peak = tracemalloc.get_traced_memory()[1] - _START["traced"]
        return {
            "outcome": outcome[:90],
            "peak_mib": peak / MIB,
            "rss_mib": (_rss() - _START["rss"]) / MIB,
        }


def _valid(path: Path) -> Path:
    import bundle_bench

    from jobplan.bundle import BundlePlan, write_bundle

    with open(path, "wb") as out:
        write_bundle(
            [BundlePlan(d) for d in bundle_bench.workload("one:10000")], out, source_tenant="b"
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--child", nargs=2, metavar=("WAY", "BUNDLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    from support.hostile import HOSTILE, write_hostile

    print(f"import memory budget (JOBPLAN_IMPORT_MEMORY_BYTES): {BUDGET // MIB} MiB")
    print("| bundle | zip MiB | reader | peak MiB | RSS growth MiB | outcome |")
    print("|---|--:|---|--:|--:|---|")
    with tempfile.TemporaryDirectory() as folder:
        bundles = {"valid: 1 plan x 10,000 jobs": _valid(Path(folder) / "valid.zip")}
        for name, large in HOSTILE.items():
            bundles[name] = write_hostile(Path(folder) / f"{name}.zip", large)
        for name, path in bundles.items():
            size = path.stat().st_size / MIB
            for way in ("jobplan", "peer"):
                run = subprocess.run(
                    [sys.executable, __file__, "--child", way, str(path)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if run.returncode:
                    print(f"| {name} | {size:.1f} | {way} | - | - | crashed: {run.stderr[-200:]} |")
                    continue
                result = json.loads(run.stdout.strip().splitlines()[-1])
                label = "jobplan import job" if way == "jobplan" else "peer zipfile+json"
                print(
                    f"| {name} | {size:.1f} | {label} | {result['peak_mib']:.0f} | "
                    f"{result['rss_mib']:.0f} | {result['outcome']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
