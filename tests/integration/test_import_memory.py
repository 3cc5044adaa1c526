"""An import job's memory stays within ``JOBPLAN_IMPORT_MEMORY_BYTES`` whatever the bundle
(issue #11, item 4): hostile bundles inside every size limit are built on the fly, imported
through the transfer service (upload, worker, reader, store) and the peak of Python
allocations during the job is measured with tracemalloc (deterministic, not timing)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobplan.model import Role
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.records import TransferJobRecord
from jobplan.service.transfers import ImportOptions, TransferKind
from jobplan.settings import Settings
from jobplan.store import accounts, new_id
from support.data import IKASAN_FIXTURES
from support.hostile import HOSTILE, write_hostile

MIB = 1024 * 1024
BUDGET = 256 * MIB  # the documented default of JOBPLAN_IMPORT_MEMORY_BYTES


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("home")
    services = Services.open(Settings(home=home))  # type: ignore[call-arg]
    yield services
    services.close()


def _caller(services: Services) -> Caller:
    name = f"t{new_id()[:8]}"
    with services.database.transaction() as conn:
        record = accounts.insert_tenant(conn, name, name, {})
    return Caller(
        user_id=new_id(), username="admin", tenant_id=record.id, tenant_name=name, role=Role.ADMIN
    )


def _import(services: Services, bundle: Path) -> tuple[TransferJobRecord, int]:
    """Import ``bundle`` as a job; the job and the peak memory (bytes) it allocated."""
    caller = _caller(services)
    transfers = services.transfers
    with open(bundle, "rb") as upload:
        job = transfers.create_import(caller, upload, ImportOptions(folder="imported"))
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        assert transfers.run_next("test")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return transfers.get(caller, TransferKind.IMPORT, job.id), peak - before


EXPECTED = {
    "profiles-arrays": ("completed", "not imported"),
    "one-60mib-profile": ("completed", "not imported"),
    "one-60mib-job": ("failed", "JSON entries of at most"),
    "30mib-of-values-job": ("failed", "values"),
    "many-2mib-jobs": ("failed", "import memory budget"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bundles_stay_within_the_memory_budget(
    services: Services, tmp_path: Path, name: str
) -> None:
    bundle = write_hostile(tmp_path / f"{name}.zip", HOSTILE[name])
    assert bundle.stat().st_size < 200 * MIB  # inside the documented archive limit
    job, peak = _import(services, bundle)
    status, words = EXPECTED[name]
    assert job.status == status, job.reason
    shown = job.reason if status == "failed" else " ".join(job.result["warnings"])  # type: ignore[index]
    assert words in shown, shown
    assert peak < BUDGET, f"{name}: {peak / MIB:.0f} MiB"


def test_the_sample_export_still_imports_within_the_budget(services: Services) -> None:
    job, peak = _import(services, IKASAN_FIXTURES / "MyFirstJobPlan.zip")
    assert job.status == "completed", job.reason
    assert peak < BUDGET
