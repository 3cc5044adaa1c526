"""The executor contract: what the runner hands an executor, and what it gets back.

An executor runs one attempt of one job. The runner resolves everything first (parameters,
timeout, output cap) into an :class:`ExecutionRequest`; the executor returns an
:class:`ExecutionResult`. Job failures (a non-zero exit code, an HTTP 500, a refused
connection, a timeout) are *results*, never exceptions. The only exception an executor lets
out on purpose is :class:`asyncio.CancelledError`, after it has stopped the work: cancelling
the task that awaits :meth:`Executor.execute` is how an operator's *stop* reaches a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jobplan.model import Job

__all__ = [
    "NULL_SINK",
    "ExecutionRequest",
    "ExecutionResult",
    "Executor",
    "NullSink",
    "OutputSink",
    "ServiceResolver",
    "notify_process_started",
]


@dataclass(frozen=True, slots=True)
class ExecutionRequest:
    """One attempt of one job, fully resolved by the runner."""

    job_run_id: str
    """Id of the job run; given to commands as ``JOBPLAN_JOB_RUN_ID``."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, ...; given as ``JOBPLAN_ATTEMPT``."""
    job: Job
    """The job document (:class:`~jobplan.model.CommandJob`, :class:`~jobplan.model.HttpJob`,
    ...)."""
    environment: dict[str, str]
    """Plan, run and job parameters, already merged by the runner (later levels win)."""
    timeout_seconds: float | None
    """Stop the attempt after this long. None: the job's own ``timeout_seconds`` if it has
    one, otherwise no timeout."""
    output_limit_bytes: int
    """Most bytes of output (command) or response body (http) kept in the result."""
    tenant_id: str = ""
    """Tenant of the job run: whose service registry resolves an http job's ``service``."""
    secrets: tuple[str, ...] = ()
    """The secret values the attempt's environment or request holds (``${secret:NAME}``):
    executors mask them (``***``) in the output they capture and forward."""


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """How an attempt ended."""

    succeeded: bool
    reason: str | None
    """Why it failed, for people (``"exit code 3 (expected 0)"``); None on success."""
    exit_code: int | None = None
    """Command jobs: the exit code, or minus the signal number if a signal killed the shell
    (``-9`` for SIGKILL); None if the command never started."""
    http_status: int | None = None
    """HTTP jobs: the final response status; None if no response arrived."""
    output: str = ""
    """Captured output (command: stdout and stderr interleaved in arrival order; http: the
    response body), decoded as UTF-8 with invalid bytes replaced, at most
    ``output_limit_bytes`` bytes before decoding."""
    output_truncated: bool = False
    """True if output was left out to respect the cap."""
    timed_out: bool = False
    """True if the attempt was stopped because it ran past its timeout."""


class OutputSink(Protocol):
    """Receives output while a job runs, for live tailing."""

    def write(self, chunk: str) -> None:
        """Take the next piece of output, already decoded. Called from the event loop, so it
        must not block; exceptions are logged and otherwise ignored."""


def notify_process_started(sink: OutputSink, pid: int) -> None:
    """Tell a sink that offers ``process_started(pid)`` which process group runs the job (the
    engine records it, so a restarted server can kill what a dead one left behind)."""
    started = getattr(sink, "process_started", None)
    if callable(started):
        started(pid)


class NullSink:
    """An :class:`OutputSink` that discards everything."""

    __slots__ = ()

    def write(self, chunk: str) -> None:
        """Discard ``chunk``."""


NULL_SINK = NullSink()
"""A shared :class:`NullSink`."""


class ServiceResolver(Protocol):
    """The tenant's service registry, as HTTP jobs naming a ``service`` see it (Volt MX)."""

    async def base_url(self, tenant_id: str, service: str) -> str | None:
        """The base URL of ``service`` in ``tenant_id``'s registry
        (``https://host/services/Orders``), or None if it is not registered there. Lookup
        failures (e.g. the database is down) raise; the executor reports them as a failed
        attempt."""


class Executor(Protocol):
    """Runs one kind of job."""

    async def execute(self, request: ExecutionRequest, sink: OutputSink) -> ExecutionResult:
        """Run ``request`` and report how it ended, passing output to ``sink`` as it arrives.

        Job failures are results, not exceptions. Raises :class:`TypeError` if the job is of a
        kind this executor does not run. On cancellation (an operator's *stop*) the executor
        stops the work first (commands: kills the whole process group) and then re-raises
        :class:`asyncio.CancelledError`.
        """
        ...
