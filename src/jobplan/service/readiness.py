"""Whether this node is ready to serve: the components ``/readyz`` reports.

Each check is real: the database answers a query (within a short timeout, so a dead or hung
server makes the node unready at once instead of hanging the probe), its schema is at the
code's migration head, and each loop of the engine, the writer and the transfer threads have
completed a pass recently. Reasons are our own short sentences: no host names, SQL or
exception messages (those go to the log), so the report may be shown to anyone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text

from jobplan.engine.engine import LOOPS, Engine
from jobplan.logging import get_logger
from jobplan.service.transfer_worker import TransferWorker
from jobplan.settings import Settings
from jobplan.store import Database
from jobplan.store.database import migration_head

__all__ = [
    "DATABASE_TIMEOUT",
    "STALE_INTERVALS",
    "Component",
    "Readiness",
    "ReadinessProbe",
    "State",
]

log = get_logger(__name__)

#: Seconds the database has to answer the readiness query.
DATABASE_TIMEOUT = 2.0
#: A loop is stale after this many of its intervals (or ``JOBPLAN_LOOP_STALE_SECONDS``).
STALE_INTERVALS = 3


class State(StrEnum):
    OK = "ok"
    FAILING = "failing"
    OFF = "off"  # not run on this node: does not make it unready


@dataclass(frozen=True, slots=True)
class Component:
    state: State
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    components: dict[str, Component]

    @property
    def ready(self) -> bool:
        return all(c.state is not State.FAILING for c in self.components.values())


class ReadinessProbe:
    """Checks one node. Built when the node has started its engine and transfer threads
    (``None`` for those it does not run)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        engine: Engine | None,
        transfers: TransferWorker | None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.engine = engine
        self.transfers = transfers
        self.head = migration_head()
        self._query: asyncio.Future[str | None] | None = None

    async def check(self) -> Readiness:
        components = dict(await self._database())
        components.update(self._engine())
        components["transfers"] = self._transfers()
        return Readiness(components)

    # --- database -------------------------------------------------------------------------

    async def _database(self) -> list[tuple[str, Component]]:
        # one query in flight at a time: a hung server must not pile up threads, one per probe
        if self._query is None or self._query.done():
            self._query = asyncio.ensure_future(asyncio.to_thread(self._revision))
        try:
            revision = await asyncio.wait_for(asyncio.shield(self._query), DATABASE_TIMEOUT)
        except TimeoutError:
            reason = f"no answer within {DATABASE_TIMEOUT:g} s"
            return [("database", _failing(reason)), ("migrations", _failing("unknown: " + reason))]
        except Exception as exc:
            log.warning("readiness_database_failed", error=str(exc.__cause__ or exc))
            reason = f"the query failed ({type(exc.__cause__ or exc).__name__})"
            return [("database", _failing(reason)), ("migrations", _failing("unknown: " + reason))]
        database = Component(State.OK, f"answered ({self.database.dialect})")
        if revision == self.head:
            return [("database", database), ("migrations", Component(State.OK, f"at {revision}"))]
        return [
            ("database", database),
            (
                "migrations",
                _failing(
                    f"the database is at {revision or 'no revision'}, the code at {self.head}"
                ),
            ),
        ]

    def _revision(self) -> str | None:
        with self.database.read() as conn:
            if conn.dialect.name == "postgresql":
                timeout = int(DATABASE_TIMEOUT * 1000)
                conn.execute(text(f"SET LOCAL statement_timeout = {timeout}"))
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return None if value is None else str(value)

    # --- engine ---------------------------------------------------------------------------

    def _engine(self) -> dict[str, Component]:
        engine = self.engine
        if engine is None:
            off = Component(State.OFF, "this node runs no engine (JOBPLAN_ENGINE_ENABLED=false)")
            return dict.fromkeys((*LOOPS, "writer"), off)
        now = time.monotonic()
        floor = self.settings.loop_stale_seconds
        components: dict[str, Component] = {}
        for name, interval in engine.intervals().items():
            age = now - engine.beats[name]
            limit = max(STALE_INTERVALS * interval, floor)
            detail = f"last pass {age:.1f} s ago (stale after {limit:g} s)"
            components[name] = Component(State.OK if age <= limit else State.FAILING, detail)
        writer = engine.writer
        busy = writer.busy_since
        if not writer.alive:
            components["writer"] = _failing("the writer thread has stopped")
        elif busy is None:
            components["writer"] = Component(State.OK, "idle")
        else:
            age = now - busy
            detail = f"writing a batch for {age:.1f} s (stale after {floor:g} s)"
            components["writer"] = Component(State.OK if age <= floor else State.FAILING, detail)
        return components

    def _transfers(self) -> Component:
        worker = self.transfers
        if worker is None:
            return Component(
                State.OFF, "this node runs no transfer threads (JOBPLAN_TRANSFER_WORKERS=0)"
            )
        alive = worker.threads
        if alive < worker.expected:
            return _failing(f"{worker.expected - alive} of {worker.expected} threads have stopped")
        # a pass may run a whole export or import, which is closed after its timeout
        limit = self.settings.transfer_timeout_seconds + self.settings.loop_stale_seconds
        oldest = time.monotonic() - min(worker.beats.values(), default=time.monotonic())
        detail = (
            f"{alive} of {worker.expected} threads alive; "
            f"longest pass {oldest:.1f} s (stale after {limit:g} s)"
        )
        return Component(State.OK if oldest <= limit else State.FAILING, detail)


def _failing(detail: str) -> Component:
    return Component(State.FAILING, detail)
