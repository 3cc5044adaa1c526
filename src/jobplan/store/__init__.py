"""Database access: SQLAlchemy Core tables, repositories and Alembic migrations.

SQLite (WAL) in the data folder by default; PostgreSQL through ``JOBPLAN_DATABASE_URL``.
Database errors are translated into :mod:`jobplan.errors` here, never above.
"""

from jobplan.store import accounts, credentials, plans, runs, transfers
from jobplan.store._util import new_id, utcnow
from jobplan.store.database import Database

__all__ = ["Database", "accounts", "credentials", "new_id", "plans", "runs", "transfers", "utcnow"]
