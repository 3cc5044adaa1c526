"""The database handle: engine creation, transactions and migrations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError

from jobplan.errors import InvalidInput, StoreError
from jobplan.logging import get_logger
from jobplan.store import committed

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["FIRST_START_LOCK", "Database", "migration_head", "serialise"]

MIGRATIONS = Path(__file__).parent / "migrations"
_NUMBERED = re.compile(r"^(\d{4})_\w+\.py$")
log = get_logger(__name__)

# PostgreSQL advisory lock key (an arbitrary bigint: b"jobplan\x01") held by migrations and by
# the first-admin bootstrap, so two nodes starting at once on one empty database take turns
FIRST_START_LOCK = 0x6A6F62706C616E01


def serialise(connection: Connection, key: int) -> None:
    """Hold PostgreSQL advisory lock ``key`` until ``connection``'s transaction ends (other
    transactions asking for it wait). SQLite needs none: a write transaction there already
    holds the whole database (BEGIN IMMEDIATE)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@cache
def migration_head() -> str:
    """The revision of the newest migration, without importing Alembic: migrations are
    numbered files (``0018_history_keyset_indexes.py`` is revision ``0018``, revising
    ``0017``), so the head is the highest number (a test checks it is Alembic's own head)."""
    numbers = [
        match[1]
        for path in (MIGRATIONS / "versions").iterdir()
        if (match := _NUMBERED.match(path.name))
    ]
    return max(numbers)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take control of transactions from pysqlite so BEGIN is ours (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit is on disk before we acknowledge it, even across power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writes take the lock up front (IMMEDIATE), so two writers never deadlock upgrading a
    # read lock; reads begin DEFERRED and never wait for writers (WAL).
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One database (SQLite file or PostgreSQL) and its connection pool."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        options: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(self.url, **options)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.
        Events recorded with :func:`jobplan.store.committed.after_commit` are logged once the
        commit has succeeded."""
        try:
            with self.engine.begin() as connection:
                committed.reset(connection)
                yield connection
                pending = committed.take(connection)
        except OperationalError as exc:
            # the cause (host, port, file) is for the log, not for clients
            log.error("database_unavailable", error=str(exc.orig))
            raise StoreError("the database is unavailable; try again later") from exc
        except DataError as exc:
            raise InvalidInput(
                "a value cannot be stored (e.g. it contains a NUL character or is out of range)"
            ) from exc
        if pending:
            committed.emit(pending)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads, in one transaction for a consistent view; on SQLite it
        takes no write lock."""
        try:
            with self.engine.connect() as connection:
                connection = connection.execution_options(sqlite_begin="DEFERRED")
                with connection.begin():
                    yield connection
        except OperationalError as exc:
            log.error("database_unavailable", error=str(exc.orig))
            raise StoreError("the database is unavailable; try again later") from exc

    def alembic_config(self) -> Config:
        """Alembic configuration pointing at our migrations and this database."""
        from alembic.config import Config  # imported when a migration runs, not at each start

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``. At the head already (every start but the
        first after an upgrade), that is one query, without Alembic."""
        if revision == "head" and self.revision() == migration_head():
            return
        from alembic import command

        try:
            command.upgrade(self.alembic_config(), revision)
        except SQLAlchemyError as exc:
            raise StoreError(f"migration failed: {exc}") from exc

    def revision(self) -> str | None:
        """The revision in ``alembic_version``, read with one query (``None`` when the table
        is missing or cannot be read: then :meth:`upgrade` lets Alembic decide and report)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = rows.scalars().all()
        except SQLAlchemyError:
            return None
        return versions[0] if len(versions) == 1 else None

    def current_revision(self) -> str | None:
        """The migration revision the database is at (``None`` when empty)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            revision: str | None = MigrationContext.configure(connection).get_current_revision()
            return revision

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
