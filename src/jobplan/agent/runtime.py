"""The agent process: connects to the server, claims job runs, runs them, reports them.

Four named loops share one :class:`ServerLink`:

* **claim** — long-polls ``claim`` with the number of free slots and starts what it gets.
  With every slot busy it still long-polls (``free: 0``) so stop requests arrive at once, and
  gives that call up as soon as a slot frees (nothing can be claimed by a ``free: 0`` call,
  so giving it up loses nothing).
* **heartbeat** — every ``heartbeat_seconds`` renews the leases of what the agent holds;
  the answer carries stop requests and the job runs to drop.
* **sender** — every :data:`FLUSH_SECONDS`, and at once when a result is ready, sends the
  output written since (numbered chunks), then the results whose output is all sent. Both
  are kept until the server acknowledges them, so they survive network failures and server
  restarts; a result the server refuses (the job run is no longer this agent's) is dropped.
* **shutdown** — on SIGTERM/SIGINT: stops claiming, kills the running jobs (their process
  groups), reports them as failed ("the agent shut down while it ran": the server retries
  them per their policy) for at most ``report_seconds``, and ends.

When a call fails for want of a server (:class:`ServerUnavailable`), the loop that saw it
reconnects: jittered backoff capped at a heartbeat interval (so the agent is back within
its lease once the server is), moving round-robin through the server URLs, until a
``hello`` (with the job runs still held) succeeds; the other loops wait for that. Running jobs
keep running meanwhile. When the server refuses the agent (:class:`AgentRefused`: a revoked
key), every running job is killed and :meth:`AgentRuntime.run` raises.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from jobplan import __version__
from jobplan.agent.attempts import Attempt, Ending, execute
from jobplan.agent.link import AgentRefused, Backoff, ServerLink, ServerUnavailable, sleep_or_event
from jobplan.agent.protocol import (
    MAX_BATCH,
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
    OutputChunk,
    OutputRequest,
    ResultsAnswer,
    ResultsRequest,
    RunResult,
)
from jobplan.engine.executors import CommandExecutor
from jobplan.logging import get_logger

__all__ = ["FLUSH_SECONDS", "AgentConfig", "AgentRuntime"]

_log = get_logger(__name__)
FLUSH_SECONDS = 0.2
"""Longest live output waits on the agent before it is sent."""
_REQUEST_TEXT = 1024 * 1024
"""Most output text in one ``output`` request (more goes in the next one)."""


@dataclass(frozen=True)
class AgentConfig:
    """How ``jobplan agent`` was started (validated by the CLI)."""

    servers: list[str]
    key: str = field(repr=False)
    workdir: Path
    slots: int = 4
    kill_grace_seconds: float = 5.0
    report_seconds: float = 10.0
    """At shutdown, how long to keep trying to report the killed jobs' results."""
    host: str = field(default_factory=socket.gethostname)
    verify: ssl.SSLContext | bool = True


class AgentRuntime:
    """One agent process's work. :meth:`run` until :meth:`shutdown` (or a refusal)."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self._link = ServerLink(config.servers, config.key, verify=config.verify)
        self._executor: CommandExecutor | None = None
        self._session: HelloAnswer | None = None
        self._generation = 0
        self._reconnecting = asyncio.Lock()
        self._attempts: dict[str, Attempt] = {}
        self._running: set[str] = set()
        self._unsent: list[OutputChunk] = []
        self._results: dict[str, RunResult] = {}
        self._slot_freed = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loops: dict[str, asyncio.Task[None]] = {}

    # --- life cycle ---------------------------------------------------------------------

    def shutdown(self) -> None:
        """Ask :meth:`run` to end gracefully (signal handlers call this)."""
        self._stopping.set()

    @property
    def session(self) -> HelloAnswer | None:
        """The last ``hello`` answer: who the server says this agent is."""
        return self._session

    async def run(self) -> None:
        """Connect and work until :meth:`shutdown`; raises :class:`AgentRefused` when the
        server refuses the agent (its running jobs are killed first)."""
        self._executor = CommandExecutor(
            kill_grace_seconds=self.config.kill_grace_seconds,
            working_directory=self.config.workdir,
        )
        try:
            await self._first_hello()
            if self._stopping.is_set():
                return
            try:
                async with asyncio.TaskGroup() as group:
                    for name, loop in (
                        ("claim", self._claim_loop),
                        ("heartbeat", self._heartbeat_loop),
                        ("sender", self._sender_loop),
                        ("shutdown", self._shutdown_loop),
                    ):
                        self._loops[name] = group.create_task(loop(), name=f"agent-{name}")
            except* AgentRefused as refused:
                raise refused.exceptions[0] from None
        finally:
            await self._kill_all(Ending.REFUSED)
            self._executor.close()
            await self._link.aclose()

    async def _first_hello(self) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                await self._hello()
                return
            except ServerUnavailable as exc:
                delay = backoff.next_delay()
                _log.warning("agent.server_unreachable", error=str(exc), retry_in=round(delay, 2))
                self._link.rotate()
                await sleep_or_event(self._stopping, delay)

    async def _hello(self) -> None:
        answer = await self._link.call(
            "hello",
            HelloRequest(
                protocol=PROTOCOL_VERSION,
                host=self.config.host[:255],
                version=__version__,
                slots=self.config.slots,
                holding=self._holding(),
            ),
            HelloAnswer,
        )
        self._session = answer
        _log.info(
            "agent.connected",
            server=self._link.server,
            agent=answer.name,
            tenant=answer.tenant,
            labels=answer.labels,
            holding=len(self._attempts),
            dropped=len(answer.drop),
        )
        self._drop(answer.drop)

    async def _reconnect(self, generation: int, error: ServerUnavailable) -> None:
        """Reconnect after ``error`` unless another loop already did since ``generation``."""
        async with self._reconnecting:
            if generation != self._generation:
                return
            # back within a heartbeat of the server's return: a restarted server keeps the
            # agents' job runs for one lease, then resolves them as lost
            assert self._session is not None
            backoff = Backoff(cap=min(10.0, max(0.5, self._session.heartbeat_seconds)))
            _log.warning("agent.disconnected", error=str(error), holding=len(self._attempts))
            while True:
                self._link.rotate()
                await asyncio.sleep(backoff.next_delay())
                try:
                    await self._hello()
                    break
                except ServerUnavailable as exc:
                    _log.info("agent.reconnect_failed", error=str(exc))
            self._generation += 1

    # --- claim --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            generation = self._generation
            self._slot_freed.clear()
            free = self.config.slots - len(self._running)
            try:
                answer = await self._claim(max(free, 0))
            except ServerUnavailable as exc:
                await self._reconnect(generation, exc)
                continue
            if answer is None:
                continue  # a slot freed during a free: 0 long-poll
            self._stop(answer.stop)
            for assignment in answer.assignments:
                self._start(assignment)

    async def _claim(self, free: int) -> ClaimAnswer | None:
        assert self._session is not None
        wait = min(self._session.max_wait_seconds, 20.0)
        request = ClaimRequest(free=free, wait_seconds=wait)
        if free > 0:  # never abandon a call that may claim work: its answer would be lost
            return await self._link.call("claim", request, ClaimAnswer, wait=wait)
        call = asyncio.ensure_future(self._link.call("claim", request, ClaimAnswer, wait=wait))
        freed = asyncio.ensure_future(self._slot_freed.wait())
        try:
            await asyncio.wait({call, freed}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            call.cancel()
            raise
        finally:
            freed.cancel()
        if call.done():
            return call.result()
        call.cancel()
        with suppress(asyncio.CancelledError, ServerUnavailable, AgentRefused):
            await call
        return None

    def _start(self, assignment: Assignment) -> None:
        if assignment.job_run_id in self._attempts or self._stopping.is_set():
            return
        attempt = Attempt(assignment)
        self._attempts[attempt.job_run_id] = attempt
        self._running.add(attempt.job_run_id)
        attempt.task = asyncio.create_task(
            self._execute(attempt), name=f"agent-run-{attempt.job_run_id}"
        )
        _log.debug("agent.job_started", job_run=attempt.job_run_id, attempt=attempt.attempt)

    async def _execute(self, attempt: Attempt) -> None:
        assert self._executor is not None
        try:
            result = await execute(attempt, self._executor, self.config.workdir)
        except asyncio.CancelledError:
            if attempt.ending is None:
                raise
            if attempt.ending in (Ending.DROP, Ending.REFUSED):
                return
            result = attempt.cancelled_result()
        except Exception as exc:  # an executor bug fails the job, not the agent
            _log.exception("agent.executor_failed", job_run=attempt.job_run_id)
            result = RunResult(
                job_run_id=attempt.job_run_id,
                attempt=attempt.attempt,
                reason=f"agent error: {exc}",
            )
        finally:
            self._running.discard(attempt.job_run_id)
            self._slot_freed.set()
        if self._attempts.get(attempt.job_run_id) is attempt:
            _log.debug("agent.job_ended", job_run=attempt.job_run_id, reason=result.reason)
            self._results[attempt.job_run_id] = result
            self._wake_sender.set()

    def _stop(self, job_run_ids: Iterable[str]) -> None:
        for job_run_id in job_run_ids:
            attempt = self._attempts.get(job_run_id)
            if attempt is not None and self._cancel(attempt, Ending.STOP):
                _log.info("agent.job_stopping", job_run=job_run_id)

    def _drop(self, job_run_ids: Iterable[str]) -> None:
        for job_run_id in job_run_ids:
            attempt = self._attempts.pop(job_run_id, None)
            if attempt is None:
                continue
            _log.info("agent.job_dropped", job_run=job_run_id)
            self._cancel(attempt, Ending.DROP)
            self._results.pop(job_run_id, None)
            self._unsent = [c for c in self._unsent if c.job_run_id != job_run_id]

    @staticmethod
    def _cancel(attempt: Attempt, ending: Ending) -> bool:
        if attempt.task is None or attempt.task.done() or attempt.ending is not None:
            if ending is Ending.DROP:
                attempt.ending = ending  # a result not yet queued must not be
            return False
        attempt.ending = ending
        attempt.task.cancel()
        return True

    async def _kill_all(self, ending: Ending) -> None:
        tasks = []
        for attempt in list(self._attempts.values()):
            if self._cancel(attempt, ending) and attempt.task is not None:
                tasks.append(attempt.task)
        if tasks:
            _log.info("agent.killing_jobs", count=len(tasks), why=ending.value)
            await asyncio.gather(*tasks, return_exceptions=True)

    def _holding(self) -> list[Held]:
        held = [Held(job_run_id=a.job_run_id, attempt=a.attempt) for a in self._attempts.values()]
        return held[:MAX_BATCH]

    # --- heartbeat ----------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            assert self._session is not None
            await asyncio.sleep(self._session.heartbeat_seconds)
            generation = self._generation
            try:
                answer = await self._link.call(
                    "heartbeat", HeartbeatRequest(holding=self._holding()), HeartbeatAnswer
                )
            except ServerUnavailable as exc:
                await self._reconnect(generation, exc)
                continue
            self._drop(answer.drop)
            self._stop(answer.stop)

    # --- sender -------------------------------------------------------------------------

    async def _sender_loop(self) -> None:
        while True:
            await sleep_or_event(self._wake_sender, FLUSH_SECONDS)
            self._wake_sender.clear()
            generation = self._generation
            try:
                await self._flush()
            except ServerUnavailable as exc:
                await self._reconnect(generation, exc)
                self._wake_sender.set()  # resend at once

    async def _flush(self) -> None:
        """Send the output written so far, then the results whose output is all sent."""
        for attempt in self._attempts.values():
            if not attempt.silenced:
                self._unsent.extend(attempt.take_chunks())
        while self._unsent:
            batch = _output_batch(self._unsent)
            answer = await self._link.call("output", OutputRequest(chunks=batch), OutputAnswer)
            sent = {id(chunk) for chunk in batch}
            self._unsent = [c for c in self._unsent if id(c) not in sent]
            for refusal in answer.refused:
                self._silence(refusal.job_run_id, refusal.reason)
        ready = [
            result
            for job_run_id, result in self._results.items()
            if not self._attempts[job_run_id].pending
        ][:MAX_BATCH]
        if not ready:
            return
        outcomes = await self._link.call("results", ResultsRequest(results=ready), ResultsAnswer)
        for outcome in outcomes.results:
            self._results.pop(outcome.job_run_id, None)
            self._attempts.pop(outcome.job_run_id, None)
            if outcome.outcome == "refused":
                _log.warning(
                    "agent.result_refused", job_run=outcome.job_run_id, reason=outcome.reason
                )
        if len(ready) == MAX_BATCH or any(
            not a.silenced and a.pending for a in self._attempts.values()
        ):
            self._wake_sender.set()

    def _silence(self, job_run_id: str, reason: str) -> None:
        attempt = self._attempts.get(job_run_id)
        if attempt is not None and not attempt.silenced:
            _log.info("agent.output_refused", job_run=job_run_id, reason=reason)
            attempt.silenced = True
            attempt.pending.clear()
        self._unsent = [c for c in self._unsent if c.job_run_id != job_run_id]

    # --- shutdown -----------------------------------------------------------------------

    async def _shutdown_loop(self) -> None:
        await self._stopping.wait()
        running = len(self._running)
        _log.info("agent.shutting_down", killing=running)
        self._loops["claim"].cancel()
        await self._kill_all(Ending.SHUTDOWN)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.report_seconds
        while (self._results or self._unsent) and loop.time() < deadline:
            self._wake_sender.set()
            await asyncio.sleep(0.05)
        if self._results:
            _log.warning("agent.results_unreported", count=len(self._results))
        self._loops["heartbeat"].cancel()
        self._loops["sender"].cancel()


def _output_batch(chunks: list[OutputChunk]) -> list[OutputChunk]:
    """The first chunks of ``chunks`` that fit one request."""
    batch: list[OutputChunk] = []
    size = 0
    for chunk in chunks[:MAX_BATCH]:
        if batch and size + len(chunk.text) > _REQUEST_TEXT:
            break
        batch.append(chunk)
        size += len(chunk.text)
    return batch
