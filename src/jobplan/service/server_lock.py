"""One server per SQLite data folder: an OS file lock held for the server's lifetime.

A second server on the same SQLite database would recover the first one's running jobs as
interrupted and kill them. ``jobplan serve`` therefore takes an exclusive ``flock`` on
``server.lock`` in the database's folder before opening anything, and keeps it until it exits.
The kernel releases the lock when the process ends in any way (also ``kill -9``), so a restart
after a crash is never blocked by a stale file. Nodes sharing a PostgreSQL database coordinate
through row leases instead and take no lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from jobplan.errors import Conflict
from jobplan.settings import Settings

__all__ = ["LOCK_NAME", "ServerLock", "sqlite_folder"]

LOCK_NAME = "server.lock"


def sqlite_folder(settings: Settings) -> Path | None:
    """The folder of the SQLite database file in use; ``None`` for other databases (and for
    an in-memory SQLite database, which no other process can open)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser().resolve().parent


@dataclass
class ServerLock:
    """The held lock; :meth:`release` (or process exit) frees it."""

    folder: Path
    _handle: IO[str] | None

    @classmethod
    def acquire(cls, settings: Settings) -> ServerLock | None:
        """Lock the SQLite data folder for this process, or raise :class:`Conflict` naming the
        folder and the process holding it. ``None`` when the database is not SQLite."""
        folder = sqlite_folder(settings)
        if folder is None:
            return None
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / LOCK_NAME
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise Conflict(
                f"data folder {folder} is in use by a jobplan server ({holder}); "
                f"one server per SQLite data folder (lock: {path})"
            ) from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n")
        handle.flush()
        return cls(folder, handle)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.close()  # closing the descriptor drops the flock
            self._handle = None
