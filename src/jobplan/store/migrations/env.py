"""Alembic environment: runs migrations on the engine handed over by ``Database``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from jobplan.store.database import FIRST_START_LOCK, serialise
from jobplan.store.tables import metadata

config = context.config
engine: Engine = config.attributes["engine"]

sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    if sqlite:
        # Batch mode rebuilds a table by copying it and dropping the old one; with foreign
        # keys on, SQLite would first delete every row referencing it (ON DELETE CASCADE: a
        # rebuilt ``users`` would take every membership and key with it). The pragma only
        # works outside a transaction, so it is set on the raw connection before ours begins.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        # two nodes migrating one PostgreSQL database at once take turns: the second waits
        # here until the first commits, then reads the version it left and has nothing to do
        # (without it both would create the same tables and one would fail). The lock opens
        # the transaction the migrations run in, and is held until the commit below.
        serialise(connection, FIRST_START_LOCK)
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if sqlite:  # the connection goes back to the pool: foreign keys on again
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
