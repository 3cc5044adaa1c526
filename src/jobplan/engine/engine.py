"""The engine: one per ``jobplan serve`` process. Owns the writer and the named loops.

Loops (each a small method, run as a named task):

- ``scheduler``   opens plan runs of due windows, sleeping until the next due fire, and
                  the next runs of running backfills (also opened as a backfill run ends);
- ``dispatcher``  claims due job runs and starts their executions or file polls;
- ``control``     every half second: stop requests, TTLs, output flushing;
- ``heartbeat``   keeps this node's leases alive and recovers the job runs of dead nodes,
                  and purges history (runs, tokens, sent messages, audit records) past
                  its retention;
- ``notifier``    sends the notification outbox's due messages (webhooks, emails), with
                  retries and backoff.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, func, select

from jobplan import __version__
from jobplan.engine.delivery import Deliverer, DeliveryResult
from jobplan.engine.documents import VersionCache
from jobplan.engine.executors._output import OutputCapture
from jobplan.engine.executors.base import (
    NULL_SINK,
    ExecutionRequest,
    ExecutionResult,
    Executor,
)
from jobplan.engine.filewatch import poll_files
from jobplan.engine.masking import Masker, StreamMasker
from jobplan.engine.scheduler import WindowScheduler
from jobplan.engine.state import RunState, Ticket
from jobplan.engine.writer import Writer
from jobplan.logging import get_logger
from jobplan.model import FileJob, JobRunStatus
from jobplan.settings import Settings
from jobplan.store import Database, credentials, new_id
from jobplan.store import audit as audit_log
from jobplan.store import nodes as node_store
from jobplan.store import notifications as outbox
from jobplan.store import runs as store
from jobplan.store.committed import call_after_commit
from jobplan.store.records import NotificationRecord
from jobplan.store.tables import job_runs, plans

__all__ = ["LOOPS", "Engine"]

log = get_logger(__name__)
_NOTIFIER_POLL = 0.5
_CONTROL_EVERY = 0.5
#: nodes not heard of for this long are forgotten (docs/operations.md#nodes)
_NODE_RETENTION = timedelta(days=7)

#: The loops every engine runs, in start order.
LOOPS = ("scheduler", "dispatcher", "control", "heartbeat", "notifier")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Running:
    """An execution in flight on this node, with its unflushed output."""

    ticket: Ticket
    limit: int
    task: asyncio.Task[None] | None = None
    on_started: Callable[[str, int], None] | None = None
    pending: list[str] = field(default_factory=list)
    next_seq: int = 0
    kept: int = 0
    truncated: bool = False
    overdue: bool = False
    capture: OutputCapture = field(init=False)
    masker: Masker = field(init=False)
    _masking: StreamMasker = field(init=False)

    def __post_init__(self) -> None:
        # head and tail of everything written, for an attempt killed before its executor
        # could return its own (an operator's kill cancels the execution)
        self.capture = OutputCapture(self.limit, NULL_SINK, keep_tail=True)
        # the attempt's secret values, masked in whatever it writes, whichever executor
        self.masker = Masker(self.ticket.secrets)
        self._masking = self.masker.stream()

    def write(self, chunk: str) -> None:
        """Live output for followers, masked and kept up to the cap (the final record keeps
        the tail too: see :meth:`Engine._finish_tx`)."""
        self._append(self._masking.feed(chunk))

    def end_output(self) -> None:
        """The attempt wrote its last chunk: let out what masking held back."""
        self._append(self._masking.flush())

    def _append(self, chunk: str) -> None:
        if not chunk:
            return
        self.capture.feed(chunk.encode())
        if self.kept >= self.limit:
            self.truncated = True
            return
        size = len(chunk.encode())
        if self.kept + size > self.limit:
            chunk = chunk.encode()[: self.limit - self.kept].decode(errors="ignore")
            self.truncated = True
        self.kept += size
        self.pending.append(chunk)

    def process_started(self, pid: int) -> None:
        """The command's process group is known: record it for crash clean-up."""
        if self.on_started is not None:
            self.on_started(self.ticket.job_run.id, pid)

    def take(self) -> tuple[int, list[str]]:
        chunks, self.pending = self.pending, []
        start, self.next_seq = self.next_seq, self.next_seq + len(chunks)
        return start, chunks


class Engine:
    """Schedules and runs plans for one node. Use as ``async with Engine(...) as engine``."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        executors: Mapping[str, Executor],
        *,
        clock: Callable[[], datetime] = _utcnow,
        versions: VersionCache | None = None,
        state: RunState | None = None,
        also_runs: Sequence[str] = (),
    ) -> None:
        """``also_runs``: what else the process runs beside the engine's loops (recorded
        with the node, e.g. ``transfers``)."""
        self.settings = settings
        self.database = database
        self.executors = executors
        self.clock = clock
        self.node_id = new_id()
        self.node_name = settings.node_name or f"{socket.gethostname()}:{os.getpid()}"
        self.loops = [*LOOPS, *also_runs]
        if state is None:
            state = RunState(
                versions or VersionCache(),
                settings.lease_seconds,
                unknown_agents=settings.unknown_agents,
            )
        self.state = state
        self.versions = state.versions
        self.metrics = state.metrics
        self.scheduler = WindowScheduler(self.state, settings.misfire_threshold_seconds, clock)
        self.writer = Writer(database)
        self._running: dict[str, _Running] = {}
        self._polling: set[str] = set()
        self._slots = asyncio.Semaphore(settings.max_concurrent_jobs)
        #: called when job runs may have become due (runs opened, jobs ended, recovered):
        #: wakes agents waiting in a claim (set by ``hosted_engine``)
        self.wake_agents: Callable[[], None] = lambda: None
        #: whether this node's shutdown has begun (set by the host: then agents' job runs whose
        #: leases run out are not resolved as lost here)
        self.closing: Callable[[], bool] = lambda: False
        self._wake_scheduler = asyncio.Event()
        self._wake_dispatcher = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        #: when each loop last completed a pass (``time.monotonic()``), for readiness
        self.beats: dict[str, float] = dict.fromkeys(LOOPS, time.monotonic())

    # --- life cycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        self._loop = asyncio.get_running_loop()
        self.writer.start()
        self._stack.callback(self.writer.stop)
        depth = self.metrics.writer_queue_depth
        depth.set_function(lambda: self.writer.depth)
        self._stack.callback(depth.set_function, lambda: 0)
        now = self.clock()
        await self.writer.run(
            lambda c: store.register_node(
                c,
                self.node_id,
                self.node_name,
                now,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                loops=self.loops,
            )
        )
        await self._recover_at_start()
        self.beats = dict.fromkeys(LOOPS, time.monotonic())
        loops = (
            ("scheduler", self._scheduler_loop),
            ("dispatcher", self._dispatcher_loop),
            ("control", self._control_loop),
            ("heartbeat", self._heartbeat_loop),
            ("notifier", self._notifier_loop),
        )
        for name, loop in loops:
            self._tasks.append(asyncio.create_task(self._guard(name, loop), name=f"jobplan-{name}"))
        log.info(
            "node.started",
            node_id=self.node_id,
            node=self.node_name,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            loops=self.loops,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        tasks = [item.task for item in self._running.values() if item.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        now = self.clock()

        def settle(conn: Connection) -> None:
            self.state.recover(conn, store.running_owned_by(conn, self.node_id), now)
            store.stop_node(conn, self.node_id, now)

        with suppress(Exception):
            await self.writer.run(settle)
        await self._stack.aclose()
        log.info(
            "node.stopped",
            node_id=self.node_id,
            node=self.node_name,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
        )

    async def _guard(self, name: str, loop: Callable[[], Any]) -> None:
        """Keep a loop alive: log and restart it after an unexpected error."""
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("engine_loop_failed", loop=name)
                await asyncio.sleep(1.0)

    def _beat(self, name: str) -> None:
        self.beats[name] = time.monotonic()

    def intervals(self) -> dict[str, float]:
        """The longest a healthy pass of each loop takes, sleep included (seconds): a loop
        is stale when its last pass is several of these old (see ``service/readiness``)."""
        settings = self.settings
        return {
            "scheduler": settings.engine_poll_seconds,
            "dispatcher": settings.engine_poll_seconds,
            "control": _CONTROL_EVERY,
            "heartbeat": _heartbeat_every(settings),
            # a pass delivers a batch at once, each message within the timeout
            "notifier": _NOTIFIER_POLL + settings.notification_timeout_seconds,
        }

    def notify(self) -> None:
        """Something changed (a plan, a run): look again now instead of at the next tick.

        Safe from any thread (the API calls it from its worker threads): the wake-up is handed
        to the engine's event loop, which asyncio events need (setting one from another thread
        neither wakes the loop nor is safe)."""
        loop = self._loop
        if loop is None:
            return  # not started: the loops look at everything when they start
        with suppress(RuntimeError):  # the loop has closed: nothing left to wake
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._wake_scheduler.set()
        self._wake_dispatcher.set()

    async def _sleep(self, event: asyncio.Event, seconds: float) -> None:
        if seconds > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=seconds)
        event.clear()

    # --- recovery -------------------------------------------------------------------------

    async def _recover_at_start(self) -> None:
        """Job runs left RUNNING by a dead process are retried or marked interrupted.

        On SQLite only one server can use the database, so every other node is dead; on
        PostgreSQL we wait for their leases to expire (see the heartbeat loop).
        """
        now = self.clock()
        # agents outlive a server's downtime: give them a lease to reconnect in before their
        # job runs count as lost (docs/agents.md#leases)
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        await self.writer.run(partial(store.extend_agent_leases, lease_until=lease_until))
        if self.database.dialect != "sqlite":
            return

        def recover(conn: Connection) -> int:
            orphans = store.running_not_owned_by(conn, self.node_id)
            for jr in orphans:
                _kill_orphan(jr.pid, jr.id)
            return self.state.recover(conn, orphans, now)

        count = await self.writer.run(recover)
        if count:
            log.warning("recovered_interrupted_job_runs", count=count)

    # --- scheduler ------------------------------------------------------------------------

    async def _scheduler_loop(self) -> None:
        ticks = self.metrics.tick_duration
        while True:
            now = self.clock()
            began = time.perf_counter()
            outcomes, following = await self.writer.run(partial(self._tick_tx, now))
            ticks.observe(time.perf_counter() - began)
            if outcomes:
                self._wake_dispatcher.set()
                self.wake_agents()
            self._beat("scheduler")
            delay = self.settings.engine_poll_seconds
            if following is not None:
                delay = min(delay, max(0.0, (following - self.clock()).total_seconds()))
            await self._sleep(self._wake_scheduler, delay)

    def _tick_tx(self, now: datetime, conn: Connection) -> tuple[bool, datetime | None]:
        """One scheduler tick, and when the next one is due, in one transaction."""
        outcomes = self.scheduler.tick(conn, now)
        backfills = self.state.advance_backfills(conn, now)
        return bool(outcomes) or bool(backfills), _next_fire_time(conn)

    # --- dispatcher -----------------------------------------------------------------------

    async def _dispatcher_loop(self) -> None:
        batch = 1000
        while True:
            now = self.clock()
            free = max(0, self.settings.max_concurrent_jobs - len(self._running))
            claim = await self.writer.run(
                partial(
                    self.state.claim,
                    node_id=self.node_id,
                    now=now,
                    limit=batch,
                    max_executions=free,
                )
            )
            for ticket in claim.tickets:
                if isinstance(ticket.job, FileJob):
                    self._start_poll(ticket)
                else:
                    self._start_execution(ticket)
            self._beat("dispatcher")
            if claim.rows >= batch and (claim.executions < free or claim.rows > claim.executions):
                continue  # more may be due right now
            following = await self.writer.run(
                partial(_next_wake_time, self.state.unknown_agents_wait)
            )
            delay = self.settings.engine_poll_seconds
            if following is not None:
                delay = min(delay, max(0.0, (following - self.clock()).total_seconds()))
            await self._sleep(self._wake_dispatcher, delay)

    def _start_execution(self, ticket: Ticket) -> None:
        job_run = ticket.job_run
        executor = self.executors.get(ticket.job.kind.value)
        running = _Running(ticket, self.settings.output_limit_bytes, on_started=self._record_pid)
        running.task = asyncio.create_task(
            self._execute(running, executor), name=f"jobplan-run-{job_run.id}"
        )
        self._running[job_run.id] = running

    def _record_pid(self, job_run_id: str, pid: int) -> None:
        self._track(
            asyncio.create_task(
                self.writer.run(partial(_set_pid, job_run_id, pid)), name="jobplan-record-pid"
            )
        )

    async def _execute(self, running: _Running, executor: Executor | None) -> None:
        ticket = running.ticket
        job_run = ticket.job_run
        try:
            if executor is None:
                result = ExecutionResult(
                    succeeded=False, reason=f"no executor for job kind '{ticket.job.kind}'"
                )
            else:
                request = ExecutionRequest(
                    job_run_id=job_run.id,
                    attempt=job_run.attempt,
                    job=ticket.job,
                    environment=ticket.environment,
                    timeout_seconds=ticket.timeout_seconds,
                    output_limit_bytes=self.settings.output_limit_bytes,
                    tenant_id=job_run.tenant_id,
                    secrets=ticket.secrets,
                )
                async with self._slots:
                    self.metrics.job_started(job_run.wake_at or job_run.queued_at, self.clock())
                    result = await executor.execute(request, running)
        except asyncio.CancelledError:
            self._running.pop(job_run.id, None)
            raise
        except Exception as exc:  # an executor bug must fail the job, not the engine
            log.exception("executor_failed", job_run=job_run.id)
            result = ExecutionResult(succeeded=False, reason=f"executor error: {exc}")
        try:
            await self.writer.run(partial(self._finish_tx, running, result, self.clock()))
        finally:
            self._running.pop(job_run.id, None)
        self._wake_dispatcher.set()
        self.wake_agents()

    def _finish_tx(
        self, running: _Running, result: ExecutionResult, now: datetime, conn: Connection
    ) -> bool:
        job_run = running.ticket.job_run
        result = _masked(result, running.masker)
        running.end_output()
        start, chunks = running.take()
        if running.truncated and result.output:
            # live output kept only the head; the executor's result keeps head and tail,
            # and the tail is where errors usually are
            store.replace_output(conn, job_run.id, job_run.attempt, result.output)
        else:
            store.append_output(conn, job_run.id, job_run.attempt, start, chunks)
        return self.state.finish(conn, job_run.id, self.node_id, result, now)

    def _start_poll(self, ticket: Ticket) -> None:
        job_run_id = ticket.job_run.id
        if job_run_id in self._polling:
            return
        self._polling.add(job_run_id)

        async def poll() -> None:
            try:
                assert isinstance(ticket.job, FileJob)
                result = await asyncio.to_thread(poll_files, ticket.job)
                now = self.clock()
                await self.writer.run(
                    lambda c: self.state.file_polled(
                        c, job_run_id, self.node_id, result.found, now, result.reason
                    )
                )
            finally:
                self._polling.discard(job_run_id)
            self._wake_dispatcher.set()
            self.wake_agents()

        self._track(asyncio.create_task(poll(), name=f"jobplan-poll-{job_run_id}"))

    # --- control --------------------------------------------------------------------------

    async def _control_loop(self) -> None:
        while True:
            now = self.clock()
            flushes = [
                (jr_id, r.ticket.job_run.attempt, *r.take())
                for jr_id, r in list(self._running.items())
                if r.pending
            ]
            overdue = [
                job_run_id
                for job_run_id, r in list(self._running.items())
                if not r.overdue
                and r.ticket.job.max_execution_seconds
                and r.ticket.job_run.started_at is not None
                and (now - r.ticket.job_run.started_at).total_seconds()
                > r.ticket.job.max_execution_seconds
            ]
            for job_run_id in overdue:
                self._running[job_run_id].overdue = True
            stops = await self.writer.run(partial(self._control_tx, flushes, overdue, now))
            for job_run_id in stops:
                running = self._running.get(job_run_id)
                if running is not None and running.task is not None and not running.task.done():
                    running.task.cancel()
                    self._track(asyncio.create_task(self._record_kill(running)))
            self._beat("control")
            await asyncio.sleep(_CONTROL_EVERY)

    def _control_tx(
        self,
        flushes: list[tuple[str, int, int, list[str]]],
        overdue: list[str],
        now: datetime,
        conn: Connection,
    ) -> list[str]:
        for job_run_id, attempt, start, chunks in flushes:
            store.append_output(conn, job_run_id, attempt, start, chunks)
        for job_run_id in overdue:  # still running past max_execution_seconds: flag it now
            self.state.flag_overdue_job(conn, job_run_id, now)
        self.state.expire_deadlines(conn, now)
        self.state.notify_overdue(conn, now)
        self.state.watch_agent_waits(
            conn, now, timedelta(seconds=self.settings.agent_grace_seconds)
        )
        return store.stop_requests_for(conn, self.node_id)

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _record_kill(self, running: _Running) -> None:
        if running.task is not None:
            with suppress(asyncio.CancelledError):
                await running.task
        running.end_output()
        capture = running.capture
        capture.finish()
        result = ExecutionResult(
            succeeded=False,
            reason="stopped by an operator",
            output=capture.text(),
            output_truncated=capture.truncated,
        )
        await self.writer.run(partial(self._finish_tx, running, result, self.clock()))
        self._wake_dispatcher.set()
        self.wake_agents()

    # --- heartbeat ------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        interval = _heartbeat_every(self.settings)
        while True:
            recovered = await self.writer.run(partial(self._heartbeat_tx, self.clock()))
            if recovered:
                log.warning("recovered_interrupted_job_runs", count=recovered)
                self._wake_dispatcher.set()
                self.wake_agents()
            self._beat("heartbeat")
            await asyncio.sleep(interval)

    def _heartbeat_tx(self, now: datetime, conn: Connection) -> int:
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)
        store.heartbeat(conn, self.node_id, now, lease_until)
        # once this node's shutdown has begun, agents cannot reach it to renew their leases:
        # their job runs are left to their reconnection elsewhere, or to the next start
        orphans = store.running_with_expired_lease(
            conn, now, 100, exclude_node=self.node_id, agents_too=not self.closing()
        )
        self.state.recover(conn, orphans, now)
        store.purge_plan_runs(conn, now, 500)
        credentials.purge_refresh_tokens(conn, now)
        outbox.purge(conn, now - timedelta(days=self.settings.notification_retention_days))
        node_store.purge_nodes(conn, now - _NODE_RETENTION)
        audit_log.purge(conn, now - timedelta(days=self.settings.audit_retention_days))
        return len(orphans)

    # --- notifier -------------------------------------------------------------------------

    async def _notifier_loop(self) -> None:
        batch = 50
        async with Deliverer(self.settings) as deliverer:
            while True:
                now = self.clock()
                if await asyncio.to_thread(self._notifications_due, now):
                    # an email talks to its server in several steps, each with the timeout
                    lease_until = now + timedelta(
                        seconds=self.settings.notification_timeout_seconds * 10 + 60
                    )
                    messages = await self.writer.run(
                        partial(
                            outbox.claim_due,
                            node_id=self.node_id,
                            now=now,
                            lease_until=lease_until,
                            limit=batch,
                        )
                    )
                    results = await asyncio.gather(
                        *(deliverer.deliver(m) for m in messages), return_exceptions=True
                    )
                    await self.writer.run(
                        partial(self._record_deliveries, messages, results, self.clock())
                    )
                    if len(messages) == batch:
                        self._beat("notifier")
                        continue  # more may be due right now
                self._beat("notifier")
                await asyncio.sleep(_NOTIFIER_POLL)

    def _notifications_due(self, now: datetime) -> bool:
        with self.database.read() as conn:
            return outbox.has_due(conn, now)

    def _record_deliveries(
        self,
        messages: list[NotificationRecord],
        results: list[DeliveryResult | BaseException],
        now: datetime,
        conn: Connection,
    ) -> None:
        settings = self.settings
        counted: list[tuple[str, str]] = []  # (channel, result) of each attempt
        metrics = self.metrics

        def count() -> None:
            for channel, outcome in counted:
                metrics.notifications.labels(channel, outcome).inc()

        call_after_commit(conn, count)
        for message, outcome in zip(messages, results, strict=True):
            result = (
                outcome
                if isinstance(outcome, DeliveryResult)
                else DeliveryResult(False, f"delivery failed: {type(outcome).__name__}")
            )
            attempts = message.attempts + 1
            if result.ok:
                outbox.mark_sent(conn, message.id, self.node_id, attempts, now)
                counted.append((message.channel, "sent"))
                log.info("notification_sent", id=message.id, kind=message.event)
                continue
            error = result.error or "failed"
            log.warning("notification_failed", id=message.id, attempt=attempts, error=error)
            if attempts >= settings.notification_max_attempts:
                outbox.mark_failed(conn, message.id, self.node_id, attempts, error)
                counted.append((message.channel, "failed"))
                continue
            counted.append((message.channel, "retry"))
            delay = min(3600.0, settings.notification_retry_seconds * 2 ** (attempts - 1))
            delay *= 1 + random.uniform(0, 0.1)  # jitter: receivers that were down recover
            outbox.mark_retry(
                conn, message.id, self.node_id, attempts, error, now + timedelta(seconds=delay)
            )


def _masked(result: ExecutionResult, masker: Masker) -> ExecutionResult:
    """``result`` with the attempt's secret values masked in its reason and output: what
    reaches the database (and so every page, log line, notification and export) is clean."""
    if not masker:
        return result
    reason = masker.mask(result.reason) if result.reason is not None else None
    return replace(result, reason=reason, output=masker.mask(result.output))


def _heartbeat_every(settings: Settings) -> float:
    """Seconds between heartbeats: a third of the lease, so two can be missed."""
    return max(0.5, settings.lease_seconds / 3)


def _set_pid(job_run_id: str, pid: int, conn: Connection) -> None:
    store.set_pid(conn, job_run_id, pid)


def _next_fire_time(conn: Connection) -> datetime | None:
    value = conn.execute(
        select(func.min(plans.c.next_fire_time)).where(plans.c.enabled.is_(True))
    ).scalar()
    return _aware(value)


def _next_wake_time(unknown_agents_wait: bool, conn: Connection) -> datetime | None:
    """When the next job run this node may claim wakes (not those waiting for agents)."""
    value = conn.execute(
        select(func.min(job_runs.c.wake_at)).where(
            job_runs.c.status == JobRunStatus.WAITING.value,
            store.on_server(unknown_agents_wait=unknown_agents_wait),
        )
    ).scalar()
    return _aware(value)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _kill_orphan(pid: int | None, job_run_id: str) -> None:
    """Kill the process group a dead server left behind for this job run — only if that pid
    still carries the job run's id in its environment (pids are reused)."""
    if not pid:
        return
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return
    if f"JOBPLAN_JOB_RUN_ID={job_run_id}".encode() not in environ.split(b"\0"):
        return
    with suppress(OSError):
        os.killpg(pid, 9)
