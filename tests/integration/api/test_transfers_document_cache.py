"""Export jobs validate a stored plan version once and reuse the document: the bundles are
the same as without the cache, a new version is never answered with an older document, and
the cache stays within its job budget (on both databases)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from jobplan.bundle import read_bundle
from jobplan.model import PlanDocument, Role
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.plans import PLAN_FORMAT_VERSION
from jobplan.service.transfers import ExportOptions, TransferKind
from jobplan.service.transfers import documents as documents_module
from jobplan.service.transfers.documents import DocumentCache
from jobplan.store import accounts, new_id
from jobplan.store.records import PlanVersionRecord


def _caller(services: Services) -> Caller:
    with services.database.transaction() as conn:
        tenant = accounts.insert_tenant(conn, "cache", "cache", {})
    return Caller(
        user_id=new_id(),
        username="cache-admin",
        tenant_id=tenant.id,
        tenant_name="cache",
        role=Role.ADMIN,
    )


def _plan(command: str = "./run", jobs: int = 3) -> PlanDocument:
    return PlanDocument.model_validate(
        {
            "name": "cached",
            "folder": "perf",
            "jobs": [
                {"name": f"job-{i}", "kind": "command", "command": f"{command} {i}"}
                for i in range(jobs)
            ],
        }
    )


def _export(services: Services, caller: Caller, **options: Any) -> bytes:
    transfers = services.transfers
    job = transfers.create_export(caller, ExportOptions(folders=("perf",), **options))
    assert transfers.run_next("test")
    done = transfers.get(caller, TransferKind.EXPORT, job.id)
    assert done.status == "completed", done.reason
    path, _ = transfers.export_file(caller, job.id)
    return path.read_bytes()


def _entries(bundle: bytes) -> dict[str, bytes]:
    """Every entry but the manifest (which dates the export)."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {
            info.filename: archive.read(info)
            for info in archive.infolist()
            if info.filename != "manifest.json"
        }


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The version ids load_document validated."""
    seen: list[str] = []
    real = documents_module.load_document

    def counting(record: PlanVersionRecord) -> PlanDocument:
        seen.append(record.id)
        return real(record)

    monkeypatch.setattr(documents_module, "load_document", counting)
    return seen


def test_a_version_is_validated_once_and_the_bundle_is_unchanged(
    services: Services, loads: list[str]
) -> None:
    caller = _caller(services)
    stored = services.plans.create(caller, _plan()).document
    first = _export(services, caller)
    second = _export(services, caller)
    assert len(loads) == 1
    assert _entries(second) == _entries(first)
    (plan,) = read_bundle(io.BytesIO(second)).plans
    assert plan.document == stored


def test_a_new_version_is_exported_as_stored(services: Services, loads: list[str]) -> None:
    caller = _caller(services)
    services.plans.create(caller, _plan())
    _export(services, caller)
    services.plans.apply(caller, _plan(command="./changed"))
    latest = read_bundle(io.BytesIO(_export(services, caller, version_filter="latest")))
    assert [plan.document.jobs[0].command for plan in latest.plans] == ["./changed 0"]
    every = read_bundle(io.BytesIO(_export(services, caller)))
    assert sorted(plan.document.jobs[0].command for plan in every.plans) == [
        "./changed 0",
        "./run 0",
    ]
    assert len(loads) == 2, "each version validated once"


def _record(document: PlanDocument, version_id: str) -> PlanVersionRecord:
    return PlanVersionRecord(
        id=version_id,
        plan_id="plan",
        tenant_id="tenant",
        version="1.0.0",
        format_version=PLAN_FORMAT_VERSION,
        document=document.model_dump(mode="json"),
        comment="",
        created_by="test",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_the_cache_keeps_to_its_job_budget(loads: list[str]) -> None:
    cache = DocumentCache(max_jobs=5)
    small = [_record(_plan(jobs=2), f"v{i}") for i in range(3)]
    big = _record(_plan(jobs=6), "big")
    for record in small:
        assert cache.load(record) == _plan(jobs=2)
    assert loads == ["v0", "v1", "v2"]  # 6 jobs > 5: v0 went
    cache.load(small[2])
    cache.load(small[1])
    assert loads == ["v0", "v1", "v2"]
    cache.load(small[0])
    assert loads == ["v0", "v1", "v2", "v0"]  # v2 was the least recently used
    cache.load(small[2])
    assert loads[-1] == "v2"
    for _ in range(2):
        assert cache.load(big) == _plan(jobs=6)  # larger than the budget: never kept
    assert loads[-2:] == ["big", "big"]
    cache.load(small[0])
    assert loads[-1] == "big", "the oversized document evicted nothing"
