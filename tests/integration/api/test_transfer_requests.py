"""Transfer jobs store their request as a typed document with a format version (on both
databases): new jobs write version 1, rows written before the version was recorded still
run, and a row this server cannot read fails its job saying why instead of stopping the
worker."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from jobplan.model import PlanDocument, Role
from jobplan.service.caller import Caller
from jobplan.service.container import Services
from jobplan.service.transfers import ExportOptions, ImportOptions, TransferKind
from jobplan.store import accounts, new_id, transfers, utcnow
from jobplan.store.records import TransferJobRecord


def _caller(services: Services) -> Caller:
    with services.database.transaction() as conn:
        tenant = accounts.insert_tenant(conn, "requests", "requests", {})
    return Caller(
        user_id=new_id(),
        username="requests-admin",
        tenant_id=tenant.id,
        tenant_name="requests",
        role=Role.ADMIN,
    )


def _plan(name: str = "stored") -> PlanDocument:
    return PlanDocument.model_validate(
        {
            "name": name,
            "folder": "formats",
            "jobs": [{"name": "extract", "kind": "command", "command": "echo extract"}],
        }
    )


def _old_caller(caller: Caller) -> dict[str, Any]:
    """The caller snapshot as jobplan wrote it before request documents had a version."""
    return {
        "user_id": caller.user_id,
        "username": caller.username,
        "tenant_name": caller.tenant_name,
        "role": str(caller.role),
        "is_system_admin": caller.is_system_admin,
        "scopes": None,
        "api_key_id": None,
    }


def _old_export_request(caller: Caller, version_id: str) -> dict[str, Any]:
    """An export request exactly as the code before format versions stored it
    (``asdict(ExportOptions)`` with the file name, the selected versions, the timeout)."""
    return {
        "caller": _old_caller(caller),
        "options": {
            "folders": ["formats"],
            "plans": [],
            "plan_ids": [],
            "version_ids": [],
            "version_filter": "all",
            "file_filter": "migrate",
            "with_tokens": False,
            "context_name": "keep",
            "include_history": False,
            "source_system": None,
            "correlation_id": None,
            "file_name": "package.zip",
        },
        "version_ids": [version_id],
        "timeout_seconds": 600.0,
    }


def _queue(services: Services, caller: Caller, kind: str, request: dict[str, Any]) -> str:
    """A queued job row written directly, as another (older or newer) server would."""
    now = utcnow()
    job_id = new_id()
    record = TransferJobRecord(
        id=job_id,
        tenant_id=caller.tenant_id,
        kind=kind,
        status="created",
        progress=0,
        request=request,
        result=None,
        reason=None,
        created_by=caller.user_id,
        created_by_name=caller.username,
        source_system=None,
        correlation_id=None,
        file_name="package.zip" if kind == "export" else "bundle.zip",
        file_size=None,
        file_sha256=None,
        node_id=None,
        cancel_requested=False,
        created_at=now,
        started_at=None,
        finished_at=None,
        deadline_at=now + timedelta(seconds=600),
        expires_at=None,
    )
    with services.database.transaction() as conn:
        transfers.insert(conn, record)
    return job_id


def _stored(services: Services, caller: Caller, kind: TransferKind, job_id: str) -> dict[str, Any]:
    with services.database.read() as conn:
        job = transfers.get(conn, caller.tenant_id, str(kind), job_id)
    assert job is not None
    return job.request


def _bundle(services: Services, caller: Caller) -> bytes:
    job = services.transfers.create_export(caller, ExportOptions(folders=("formats",)))
    assert services.transfers.run_next("test")
    path, _ = services.transfers.export_file(caller, job.id)
    return path.read_bytes()


def test_new_jobs_store_a_versioned_request(services: Services) -> None:
    caller = _caller(services)
    services.plans.create(caller, _plan())
    export = services.transfers.create_export(caller, ExportOptions(folders=("formats",)))
    stored = _stored(services, caller, TransferKind.EXPORT, export.id)
    assert stored["format_version"] == transfers.REQUEST_FORMAT_VERSION == 1
    assert isinstance(transfers.load_request("export", stored), transfers.ExportRequest)
    services.transfers.run_next("test")
    imported = services.transfers.create_import(
        caller,
        io.BytesIO(_bundle(services, caller)),
        ImportOptions(tokens={"env": "prod"}, folder="copies"),
    )
    stored = _stored(services, caller, TransferKind.IMPORT, imported.id)
    assert stored["format_version"] == 1
    request = transfers.load_request("import", stored)
    assert isinstance(request, transfers.ImportRequest)
    assert request.options.tokens == {"env": "prod"}
    assert request.options.folder == "copies"


def test_rows_written_before_the_version_still_run(services: Services) -> None:
    caller = _caller(services)
    stored = services.plans.create(caller, _plan())
    export_id = _queue(services, caller, "export", _old_export_request(caller, stored.version.id))
    assert services.transfers.run_next("test")
    export = services.transfers.get(caller, TransferKind.EXPORT, export_id)
    assert export.status == "completed", export.reason
    bundle = services.transfers.export_file(caller, export_id)[0].read_bytes()

    import_id = _queue(
        services,
        caller,
        "import",
        {
            "caller": _old_caller(caller),
            "options": {
                "tokens": {},
                "on_conflict": "abort",
                "dry_run": True,
                "folder": "",
                "file_name": "bundle.zip",
                "size": len(bundle),
            },
            "timeout_seconds": 600.0,
        },
    )
    upload = services.transfers.files.prepare(caller.tenant_id, import_id, ".upload")
    upload.write_bytes(bundle)
    assert services.transfers.run_next("test")
    imported = services.transfers.get(caller, TransferKind.IMPORT, import_id)
    assert imported.status == "completed", imported.reason
    assert imported.result is not None and imported.result["unchanged"] == ["formats/stored"]


def test_a_request_in_an_unknown_format_fails_its_job_not_the_worker(
    services: Services,
) -> None:
    caller = _caller(services)
    stored = services.plans.create(caller, _plan())
    future = {**_old_export_request(caller, stored.version.id), "format_version": 2}
    future_id = _queue(services, caller, "export", future)
    broken = _old_export_request(caller, stored.version.id)
    del broken["caller"]
    broken_id = _queue(services, caller, "export", broken)
    upload_id = _queue(services, caller, "import", {"format_version": 7, "options": {}})
    upload = services.transfers.files.prepare(caller.tenant_id, upload_id, ".upload")
    upload.write_bytes(b"PK")

    for _ in range(3):
        assert services.transfers.run_next("test")
    job = services.transfers.get(caller, TransferKind.EXPORT, future_id)
    assert job.status == "failed"
    assert job.reason == (
        "the export request was stored in format 2; this server reads format 1 "
        "(was it written by a newer server?)"
    )
    job = services.transfers.get(caller, TransferKind.EXPORT, broken_id)
    assert job.status == "failed"
    assert job.reason == "the stored export request cannot be read: caller: Field required"
    job = services.transfers.get(caller, TransferKind.IMPORT, upload_id)
    assert job.status == "failed"
    assert job.reason is not None and "stored in format 7" in job.reason
    assert not upload.exists(), "the failed import's upload is removed"

    # the worker goes on with the next job
    later = services.transfers.create_export(caller, ExportOptions(folders=("formats",)))
    assert services.transfers.run_next("test")
    assert services.transfers.get(caller, TransferKind.EXPORT, later.id).status == "completed"


def test_a_redacted_request_still_loads(services: Services) -> None:
    """A finished import keeps only its token names; the document still reads."""
    caller = _caller(services)
    services.plans.create(caller, _plan())
    job = services.transfers.create_import(
        caller, io.BytesIO(_bundle(services, caller)), ImportOptions(tokens={"env": "prod"})
    )
    services.transfers.cancel(caller, TransferKind.IMPORT, job.id)
    stored = _stored(services, caller, TransferKind.IMPORT, job.id)
    request = transfers.load_request("import", stored)
    assert isinstance(request, transfers.ImportRequest)
    assert request.options.tokens == ["env"]
    assert request.format_version == 1


def test_the_write_that_ends_a_job_forgets_its_token_values(services: Services) -> None:
    """Token values may be secrets: the transaction that ends a job (completed, failed,
    cancelled) also drops them, so no reader ever sees an ended job still holding them (a
    separate later write left a window where a finished job's status call raced it)."""
    caller = _caller(services)
    services.plans.create(caller, _plan())
    bundle = _bundle(services, caller)
    ends = {
        "completed": lambda conn, job_id: transfers.finish(
            conn, job_id, "completed", expires_at=utcnow()
        ),
        "failed": lambda conn, job_id: transfers.finish(
            conn, job_id, "failed", expires_at=utcnow(), reason="broken"
        ),
        "cancelled": lambda conn, job_id: transfers.mark_cancelled(conn, job_id, utcnow()),
    }
    for status, end in ends.items():
        job = services.transfers.create_import(
            caller, io.BytesIO(bundle), ImportOptions(tokens={"env": "s3cr3t"})
        )
        assert _stored(services, caller, TransferKind.IMPORT, job.id)["options"]["tokens"] == {
            "env": "s3cr3t"
        }
        with services.database.transaction() as conn:
            assert end(conn, job.id)
        stored = _stored(services, caller, TransferKind.IMPORT, job.id)
        assert services.transfers.get(caller, TransferKind.IMPORT, job.id).status == status
        assert stored["options"]["tokens"] == ["env"], status
