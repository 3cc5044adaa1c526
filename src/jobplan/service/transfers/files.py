"""The transfer folder: one folder per tenant holding each job's files, named by job id.

``<job>.upload`` is an uploaded bundle waiting for its import, ``<job>.zip.part`` an export
being written and ``<job>.zip`` a finished export (renamed from its ``.part`` file once
complete, so a download never sees half a file)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import IO

from jobplan.errors import TooLarge
from jobplan.store.records import TransferJobRecord

__all__ = ["CHUNK", "CappedFile", "PackageTooLarge", "TransferFiles"]

CHUNK = 1024 * 1024


class PackageTooLarge(Exception):
    """An export outgrew its tenant's package limit while it was written."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the package would exceed the limit of {cap} bytes")


class CappedFile:
    """A file being written that hashes what passes and refuses to grow past ``cap``.

    Writes are gathered into chunks of about ``CHUNK`` bytes before they are hashed and
    passed on: the zip writer makes several small writes per entry (three or four per entry
    for the central directory alone)."""

    def __init__(self, raw: IO[bytes], cap: int) -> None:
        self._raw = raw
        self._cap = cap
        self.size = 0
        self.digest = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes) -> int:
        size = len(data)
        self.size += size
        if self.size > self._cap:
            raise PackageTooLarge(self._cap)
        self._pending.append(data)
        self._pending_size += size
        if self._pending_size >= CHUNK:
            self._drain()
        return size

    def _drain(self) -> None:
        if self._pending:
            chunk = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self.digest.update(chunk)
            self._raw.write(chunk)

    def flush(self) -> None:
        self._drain()
        self._raw.flush()

    def tell(self) -> int:
        return self.size

    def seekable(self) -> bool:
        return False


class TransferFiles:
    """The files of transfer jobs under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, tenant_id: str, job_id: str, suffix: str) -> Path:
        return self.directory / tenant_id / f"{job_id}{suffix}"

    def prepare(self, tenant_id: str, job_id: str, suffix: str) -> Path:
        """A job file's path, its tenant's folder created (readable by this user only)."""
        path = self.path(tenant_id, job_id, suffix)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def receive(self, upload: IO[bytes], target: Path, cap: int) -> int:
        """Copy ``upload`` into ``target`` chunk by chunk; its size. Refused (and nothing
        kept) past ``cap`` bytes."""
        try:
            with open(target, "wb") as out:
                size = 0
                while chunk := upload.read(CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise TooLarge(
                            f"the bundle is larger than the tenant's limit of {cap} bytes",
                            field="file",
                        )
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return size

    def discard(self, job: TransferJobRecord, *suffixes: str) -> None:
        for suffix in suffixes:
            self.path(job.tenant_id, job.id, suffix).unlink(missing_ok=True)

    def remove_tenant(self, tenant_id: str) -> None:
        """Delete a deleted tenant's bundle files (its jobs went with it)."""
        shutil.rmtree(self.directory / tenant_id, ignore_errors=True)
