"""Lifecycle events are logged only once their change has committed: never for a change that
rolled back, whether its whole transaction did or only its savepoint in a writer batch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from jobplan.engine.writer import Writer
from jobplan.store import Database
from jobplan.store.committed import after_commit


class Recorder:
    """Stands in for a structlog logger: keeps what was logged."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'jobplan.db'}")
    with db.transaction() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return db


def test_logged_after_the_commit_and_not_after_a_rollback(database: Database) -> None:
    log = Recorder()
    with database.transaction() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        after_commit(conn, log, "thing.done", x=1)  # type: ignore[arg-type]
        assert log.lines == [], "nothing is told before the commit"
    assert log.lines == [("info", "thing.done", {"x": 1})]

    with pytest.raises(RuntimeError), database.transaction() as conn:
        after_commit(conn, log, "thing.undone", "warning")  # type: ignore[arg-type]
        raise RuntimeError("rolled back")
    # the pooled connection's next transaction does not inherit the rolled back event
    with database.transaction() as conn:
        after_commit(conn, log, "thing.next")  # type: ignore[arg-type]
    assert [event for _, event, _ in log.lines] == ["thing.done", "thing.next"]


def test_a_change_rolled_back_in_a_writer_batch_is_not_logged(database: Database) -> None:
    log = Recorder()

    def good(n: int) -> Any:
        def change(conn: Connection) -> int:
            conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            after_commit(conn, log, "change.done", n=n)  # type: ignore[arg-type]
            return n

        return change

    def bad(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t VALUES (99)"))
        after_commit(conn, log, "change.done", n=99)  # type: ignore[arg-type]
        raise ValueError("this change fails")

    async def scenario() -> list[Any]:
        writer = Writer(database)
        writer.start()
        try:
            # queued together: one batch, one transaction, a savepoint per change
            return await asyncio.gather(
                writer.run(good(1)), writer.run(bad), writer.run(good(2)), return_exceptions=True
            )
        finally:
            writer.stop()

    results = asyncio.run(scenario())
    assert results[0] == 1 and isinstance(results[1], ValueError) and results[2] == 2
    assert [fields["n"] for _, _, fields in log.lines] == [1, 2]
    with database.read() as conn:
        assert sorted(conn.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
