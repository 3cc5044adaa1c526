"""The agent protocol's logic: what ``POST /api/v1/agent/{hello,claim,heartbeat,output,
results}`` do for an authenticated agent (docs/agents.md#protocol).

Every change is one transaction per request (a batch of claims, chunks or results together),
through the engine's writer when this process runs an engine (group commit, shared with the
engine's own transactions), else in a worker thread. A ``claim`` long-poll holds no thread
while it waits: it awaits :class:`AgentHub` (woken at once by changes made in this process)
and re-reads the database at least every :data:`RECHECK_SECONDS` (changes made by other
nodes: new work, stop requests, a revocation).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection

from jobplan import __version__
from jobplan.agent.protocol import (
    PROTOCOL_VERSION,
    Assignment,
    ClaimAnswer,
    ClaimRequest,
    HeartbeatAnswer,
    HeartbeatRequest,
    Held,
    HelloAnswer,
    HelloRequest,
    OutputAnswer,
    OutputRequest,
    Refusal,
    ResultOutcome,
    ResultsAnswer,
    ResultsRequest,
    RunResult,
)
from jobplan.engine.executors.base import ExecutionResult
from jobplan.engine.masking import Masker
from jobplan.engine.state import RunState, Ticket
from jobplan.engine.writer import Writer
from jobplan.errors import AuthenticationFailed, Conflict
from jobplan.model import JobRunStatus
from jobplan.model._types import AGENT_LABEL_PREFIX
from jobplan.service.caller import AgentIdentity
from jobplan.settings import Settings
from jobplan.store import Database, accounts, committed
from jobplan.store import agents as agent_store
from jobplan.store import runs as store
from jobplan.store.records import JobRunRecord

__all__ = ["RECHECK_SECONDS", "AgentHub", "AgentProtocol", "targets_of"]

T = TypeVar("T")
#: Longest a waiting ``claim`` goes without reading the database (stop requests and work
#: that other nodes record reach the agent within this, plus the answer's trip).
RECHECK_SECONDS = 0.5


def targets_of(agent: AgentIdentity) -> list[str]:
    """The ``job_runs.agent`` values an agent takes: its name and each of its labels."""
    return [agent.name, *(f"{AGENT_LABEL_PREFIX}{label}" for label in agent.labels)]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AgentHub:
    """Wakes waiting ``claim`` long-polls. :meth:`wake` is safe from any thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def event(self) -> asyncio.Event:
        """The event the next :meth:`wake` sets (call from the event loop)."""
        loop = asyncio.get_running_loop()
        if self._event is None or loop is not self._loop:  # (a new loop: a restarted app)
            self._loop, self._event = loop, asyncio.Event()
        return self._event

    def wake(self) -> None:
        loop = self._loop
        if loop is None:
            return  # nobody has waited yet
        with suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, None
        if event is not None:
            event.set()


@dataclass(frozen=True, slots=True)
class _Probe:
    revoked: bool
    due: bool
    stops: list[str]


class AgentProtocol:
    """The five calls, for one process (one per :class:`~jobplan.service.container.Services`)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        state: RunState,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._db = database
        self._settings = settings
        self._state = state
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._clock = clock
        self.hub = AgentHub()
        #: the engine's writer when this process runs an engine (set by ``hosted_engine``)
        self.writer: Writer | None = None
        #: called after results were recorded (dependants may now be due): wakes the engine
        self.on_results: Callable[[], None] = lambda: None
        #: stop requests already told to each agent by a ``claim`` answer of this process
        self._told: dict[str, set[str]] = {}
        #: the secret values of the attempts agents hold, to mask what they send back (filled
        #: when this process hands an attempt out, else resolved again on first use)
        self._masks: dict[tuple[str, int], Masker] = {}
        self._closing = False

    @property
    def closing(self) -> bool:
        """Whether this node's shutdown has begun (see :meth:`begin_shutdown`)."""
        return self._closing

    def begin_shutdown(self) -> None:
        """This node is going away: waiting ``claim`` long-polls answer at once with nothing
        (a server stopping gracefully waits for open requests), later ones claim nothing, and
        the hosted engine leaves agents' job runs alone (their agents reconnect to another
        node, or this one's next start gives them a fresh lease). Safe from any thread."""
        self._closing = True
        self.hub.wake()

    def reopen(self) -> None:
        """This node serves again (an application started anew on the same services)."""
        self._closing = False

    def _masker(self, conn: Connection, job_run_id: str, attempt: int) -> Masker:
        """The masker of one attempt: the secret values its job received. Agents mask their
        output themselves (``Assignment.mask``); masking again here keeps an agent that does
        not (or a value it printed in some other way) out of the database."""
        key = (job_run_id, attempt)
        masker = self._masks.get(key)
        if masker is None:
            masker = Masker(self._state.secrets_of(conn, job_run_id))
            self._remember_mask(key, masker)
        return masker

    def _remember_mask(self, key: tuple[str, int], masker: Masker) -> None:
        if len(self._masks) >= _MASKS_KEPT:
            self._masks.clear()
        self._masks[key] = masker

    # --- plumbing -------------------------------------------------------------------------

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        writer = self.writer
        if writer is not None and writer.alive:
            return await writer.run(fn)
        return await asyncio.to_thread(self._write_here, fn)

    def _write_here(self, fn: Callable[[Connection], T]) -> T:
        with self._db.transaction() as conn:
            return fn(conn)

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.to_thread(self._read_here, fn)

    def _read_here(self, fn: Callable[[Connection], T]) -> T:
        with self._db.read() as conn:
            return fn(conn)

    def heartbeat_seconds(self) -> float:
        return max(0.5, self._settings.lease_seconds / 3)

    # --- hello ----------------------------------------------------------------------------

    async def hello(self, agent: AgentIdentity, request: HelloRequest) -> HelloAnswer:
        if request.protocol != PROTOCOL_VERSION:
            raise Conflict(
                f"this server speaks agent protocol {PROTOCOL_VERSION}, the agent "
                f"{request.protocol}: upgrade the older one"
            )
        now = self._clock()

        def tx(conn: Connection) -> tuple[str, list[str]]:
            tenant = accounts.get_tenant(conn, agent.tenant_id)
            agent_store.record_contact(
                conn,
                agent.agent_id,
                now,
                host=request.host,
                version=request.version,
                slots=request.slots,
                connected=True,
            )
            name = tenant.name if tenant is not None else agent.tenant_id
            return name, _renew(conn, agent.agent_id, request.holding, now + self._lease)

        tenant, drop = await self._write(tx)
        self._told.pop(agent.agent_id, None)  # a new connection: tell it every stop again
        settings = self._settings
        return HelloAnswer(
            agent_id=agent.agent_id,
            name=agent.name,
            tenant=tenant,
            labels=list(agent.labels),
            lease_seconds=settings.lease_seconds,
            heartbeat_seconds=self.heartbeat_seconds(),
            max_wait_seconds=min(30.0, max(1.0, settings.lease_seconds)),
            output_limit_bytes=settings.output_limit_bytes,
            server_version=__version__,
            drop=drop,
        )

    # --- heartbeat ------------------------------------------------------------------------

    async def heartbeat(self, agent: AgentIdentity, request: HeartbeatRequest) -> HeartbeatAnswer:
        now = self._clock()
        lease_until = now + self._lease

        def tx(conn: Connection) -> tuple[list[str], list[str]]:
            agent_store.record_contact(conn, agent.agent_id, now)
            drop = _renew(conn, agent.agent_id, request.holding, lease_until)
            return drop, store.stop_requests_for(conn, agent.agent_id)

        drop, stops = await self._write(tx)
        return HeartbeatAnswer(lease_until=lease_until.isoformat(), stop=stops, drop=drop)

    # --- claim ----------------------------------------------------------------------------

    async def claim(self, agent: AgentIdentity, request: ClaimRequest) -> ClaimAnswer:
        """Up to ``free`` job runs to start, and the stop requests of those it holds; waits
        up to ``wait_seconds`` while there is neither."""
        deadline = time.monotonic() + request.wait_seconds
        told = self._told.setdefault(agent.agent_id, set())
        targets = targets_of(agent)
        first = True
        while True:
            event = self.hub.event()
            if self._closing:
                return ClaimAnswer()
            if first:
                # the first look claims what is due (a claim renews no lease: heartbeats do)
                answer = await self._claim_once(agent, targets, request.free)
                first = False
            else:
                probe = await self._read(lambda c: self._probe(c, agent, targets))
                if probe.revoked:
                    raise AuthenticationFailed(f"agent '{agent.name}' has been revoked")
                answer = None
                if (probe.due and request.free > 0) or set(probe.stops) - told:
                    answer = await self._claim_once(agent, targets, request.free)
            if answer is not None:
                new_stops = set(answer.stop) - told
                told.intersection_update(answer.stop)
                told.update(answer.stop)
                if answer.assignments or new_stops:
                    return answer
            left = deadline - time.monotonic()
            if left <= 0:
                return ClaimAnswer(stop=sorted(told))
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(RECHECK_SECONDS, left))

    def _probe(self, conn: Connection, agent: AgentIdentity, targets: list[str]) -> _Probe:
        record = agent_store.get_agent(conn, agent.agent_id)
        revoked = record is None or record.revoked_at is not None
        now = self._clock()
        return _Probe(
            revoked,
            store.has_due_for_agent(conn, agent.tenant_id, targets, now),
            store.stop_requests_for(conn, agent.agent_id),
        )

    async def _claim_once(self, agent: AgentIdentity, targets: list[str], free: int) -> ClaimAnswer:
        now = self._clock()
        limit = self._settings.output_limit_bytes

        def tx(conn: Connection) -> tuple[list[Ticket], list[str]]:
            agent_store.record_contact(conn, agent.agent_id, now)
            # renews nothing: what it claims is leased afresh, heartbeats renew what it holds
            tickets = self._state.claim_for_agent(
                conn, agent.agent_id, agent.tenant_id, targets, now, free
            )
            return tickets, store.stop_requests_for(conn, agent.agent_id)

        tickets, stops = await self._write(tx)
        metrics = self._state.metrics
        for ticket in tickets:
            jr = ticket.job_run
            self._remember_mask((jr.id, jr.attempt), Masker(ticket.secrets))
            if jr.kind == "command":  # handed to the agent: its start delay, as a node's
                metrics.job_started(jr.wake_at or jr.queued_at, now)
        return ClaimAnswer(
            assignments=[_assignment(ticket, limit) for ticket in tickets], stop=stops
        )

    # --- output ---------------------------------------------------------------------------

    async def output(self, agent: AgentIdentity, request: OutputRequest) -> OutputAnswer:
        limit = self._settings.output_limit_bytes

        def tx(conn: Connection) -> OutputAnswer:
            keys = sorted({(c.job_run_id, c.attempt) for c in request.chunks})
            rows = {jr.id: jr for jr in store.holdings(conn, [key[0] for key in keys])}
            refused: dict[str, str] = {}
            held: list[tuple[str, int]] = []
            for job_run_id, attempt in keys:
                why = _why_not_running(rows.get(job_run_id), agent, attempt)
                if why is None:
                    held.append((job_run_id, attempt))
                else:
                    refused.setdefault(job_run_id, why)
            sizes = store.output_sizes(conn, held, [c.seq for c in request.chunks])
            accepted = 0
            inserts: list[tuple[str, int, int, str]] = []
            for chunk in sorted(request.chunks, key=lambda c: (c.job_run_id, c.attempt, c.seq)):
                key = (chunk.job_run_id, chunk.attempt)
                if key not in sizes:
                    continue
                accepted += 1
                kept, seqs = sizes[key]
                if chunk.seq in seqs or kept >= limit:
                    continue  # sent before (idempotent), or past the cap
                text = self._masker(conn, chunk.job_run_id, chunk.attempt).mask(chunk.text)
                data = text.encode()
                if kept + len(data) > limit:
                    text = data[: limit - kept].decode(errors="ignore")
                seqs.add(chunk.seq)
                sizes[key] = (kept + len(text.encode()), seqs)
                inserts.append((chunk.job_run_id, chunk.attempt, chunk.seq, text))
            store.insert_output(conn, inserts)
            return OutputAnswer(
                accepted=accepted,
                refused=[Refusal(job_run_id=i, reason=r) for i, r in sorted(refused.items())],
            )

        return await self._write(tx)

    # --- results --------------------------------------------------------------------------

    async def results(self, agent: AgentIdentity, request: ResultsRequest) -> ResultsAnswer:
        now = self._clock()

        def tx(conn: Connection) -> list[ResultOutcome]:
            outcomes: list[ResultOutcome] = []
            for result in request.results:
                logged = committed.mark(conn)
                savepoint = conn.begin_nested()
                try:
                    why = self._record(conn, agent, result, now)
                except Exception as exc:  # one bad result must not sink the others
                    savepoint.rollback()
                    committed.discard_since(conn, logged)
                    why = f"could not be recorded: {type(exc).__name__}"
                else:
                    savepoint.commit()
                outcomes.append(
                    ResultOutcome(
                        job_run_id=result.job_run_id,
                        outcome="recorded" if why is None else "refused",
                        reason=why,
                    )
                )
            return outcomes

        outcomes = await self._write(tx)
        if any(o.outcome == "recorded" for o in outcomes):
            self.on_results()  # what depended on them may be due: the engine and agents look
            self.hub.wake()
        return ResultsAnswer(results=outcomes)

    def _record(
        self, conn: Connection, agent: AgentIdentity, result: RunResult, now: datetime
    ) -> str | None:
        """Record one result; ``None`` when recorded, else why it was refused."""
        jr = store.get_job_run(conn, result.job_run_id)
        if result.file_found is not None:
            why = _why_not_polling(jr, agent, result.attempt)
            if why is not None:
                return why
            self._state.file_polled(
                conn, result.job_run_id, agent.agent_id, result.file_found, now, result.reason
            )
            return None
        why = _why_not_running(jr, agent, result.attempt)
        if why is not None:
            return why
        masker = self._masker(conn, result.job_run_id, result.attempt)
        self._masks.pop((result.job_run_id, result.attempt), None)
        result = result.model_copy(
            update={
                "output": masker.mask(result.output),
                "reason": masker.mask(result.reason) if result.reason is not None else None,
            }
        )
        if result.output_truncated and result.output:
            # live output kept only the head; the result's head and tail replace it
            store.replace_output(conn, result.job_run_id, result.attempt, result.output)
        execution = ExecutionResult(
            succeeded=result.succeeded,
            reason=result.reason,
            exit_code=result.exit_code,
            output=result.output,
            output_truncated=result.output_truncated,
            timed_out=result.timed_out,
        )
        if not self._state.finish(conn, result.job_run_id, agent.agent_id, execution, now):
            return "the job run is no longer held by this agent"
        return None


#: attempts whose maskers a process keeps (forgotten all at once when full: they are
#: resolved again on use)
_MASKS_KEPT = 10_000


def _assignment(ticket: Ticket, output_limit_bytes: int) -> Assignment:
    jr = ticket.job_run
    run = ticket.plan_run
    is_file = jr.kind == "file"
    job: dict[str, Any] = ticket.job.model_dump(mode="json", exclude_none=True)
    return Assignment(
        job_run_id=jr.id,
        # a file poll's attempt is the one completing it would record
        attempt=jr.attempt + 1 if is_file else jr.attempt,
        plan_run_id=run.id,
        plan=run.plan_path,
        job_name=jr.job_name,
        kind="file" if is_file else "command",
        job=job,
        environment=dict(ticket.environment),
        timeout_seconds=ticket.timeout_seconds,
        output_limit_bytes=output_limit_bytes,
        mask=list(ticket.secrets),
    )


_NOT_HELD = "not held by this agent"


def _why_not_running(jr: JobRunRecord | None, agent: AgentIdentity, attempt: int) -> str | None:
    """Why the agent may not report on attempt ``attempt`` of ``jr`` (None: it may)."""
    if jr is None or jr.tenant_id != agent.tenant_id:
        return f"{_NOT_HELD}: no such job run"
    if jr.attempt != attempt:
        return f"{_NOT_HELD}: the job run is at attempt {jr.attempt}, not {attempt}"
    if jr.status != JobRunStatus.RUNNING:
        return f"{_NOT_HELD}: attempt {attempt} has already ended ({jr.status})"
    if jr.owner_node != agent.agent_id:
        return f"{_NOT_HELD}: another agent or node runs it"
    return None


def _why_not_polling(jr: JobRunRecord | None, agent: AgentIdentity, attempt: int) -> str | None:
    if jr is None or jr.tenant_id != agent.tenant_id:
        return f"{_NOT_HELD}: no such job run"
    if jr.kind != "file":
        return f"{_NOT_HELD}: file_found reports a file job's poll; this is a {jr.kind} job"
    if jr.status != JobRunStatus.WAITING or jr.owner_node != agent.agent_id:
        return f"{_NOT_HELD}: its poll is no longer this agent's ({jr.status})"
    if jr.attempt + 1 != attempt:
        return f"{_NOT_HELD}: the poll is for attempt {jr.attempt + 1}, not {attempt}"
    return None


def _renew(
    conn: Connection, agent_id: str, holding: list[Held], lease_until: datetime
) -> list[str]:
    """Renew the leases of the attempts the agent says it holds (only those: a job run whose
    assignment never reached it runs out and is recovered); the held job runs that are no
    longer its own (to drop)."""
    if not holding:
        return []
    rows = {jr.id: jr for jr in store.holdings(conn, [h.job_run_id for h in holding])}
    drop: list[str] = []
    running: list[str] = []
    for held in holding:
        jr = rows.get(held.job_run_id)
        mine = (
            jr is not None
            and jr.owner_node == agent_id
            and (
                (jr.status == JobRunStatus.RUNNING and jr.attempt == held.attempt)
                or (jr.status == JobRunStatus.WAITING and jr.attempt + 1 == held.attempt)
            )
        )
        if not mine:
            drop.append(held.job_run_id)
        elif jr is not None and jr.status == JobRunStatus.RUNNING:
            running.append(jr.id)
    store.extend_leases(conn, agent_id, running, lease_until)
    return drop
