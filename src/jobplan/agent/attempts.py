"""One job run attempt on the agent: its execution task, its live output and its result.

An :class:`Attempt` is the :class:`~jobplan.engine.executors.OutputSink` of its execution, as
the engine's own running record is on a server node: output is streamed up to the attempt's
cap (``output_limit_bytes``), and a head-and-tail copy is kept for the result when more came.
Output is cut into numbered :class:`~jobplan.agent.protocol.OutputChunk`\\s when the sender
takes it; a chunk keeps its number until the server acknowledges it, so a resend after a
network failure is recognised (and ignored) by the server.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from pydantic import TypeAdapter

from jobplan.agent.protocol import Assignment, OutputChunk, RunResult
from jobplan.engine.executors import (
    NULL_SINK,
    CommandExecutor,
    ExecutionRequest,
    ExecutionResult,
)
from jobplan.engine.executors._output import OutputCapture
from jobplan.engine.filewatch import poll_files
from jobplan.model import CommandJob, FileJob, Job

__all__ = ["Attempt", "Ending", "execute"]

_JOB: TypeAdapter[Job] = TypeAdapter(Job)
_CHUNK_CHARS = 64 * 1024
"""Longest text of one output chunk (a long burst is sent as several)."""


class Ending(Enum):
    """Why the agent cancelled an attempt (None: it ended by itself)."""

    STOP = "stopped by an operator"
    DROP = "no longer this agent's"
    SHUTDOWN = "the agent shut down while it ran"
    REFUSED = "the server refused the agent"


@dataclass(eq=False)
class Attempt:
    """An attempt the agent holds, from its claim until the server has its result."""

    assignment: Assignment
    task: asyncio.Task[None] | None = None
    ending: Ending | None = None
    next_seq: int = 0
    kept: int = 0
    truncated: bool = False
    silenced: bool = False
    """The server refused this attempt's output: send no more of it."""
    pending: list[str] = field(default_factory=list)
    capture: OutputCapture = field(init=False)

    def __post_init__(self) -> None:
        self.capture = OutputCapture(self.assignment.output_limit_bytes, NULL_SINK, keep_tail=True)

    @property
    def job_run_id(self) -> str:
        return self.assignment.job_run_id

    @property
    def attempt(self) -> int:
        return self.assignment.attempt

    def write(self, chunk: str) -> None:
        """Output as the command writes it: streamed up to the cap, head and tail kept."""
        data = chunk.encode()
        self.capture.feed(data)
        limit = self.assignment.output_limit_bytes
        if self.kept >= limit:
            self.truncated = True
            return
        if self.kept + len(data) > limit:
            chunk = data[: limit - self.kept].decode(errors="ignore")
            self.truncated = True
        self.kept += len(data)
        if not self.silenced:
            self.pending.append(chunk)

    def take_chunks(self) -> list[OutputChunk]:
        """The output written since the last call, as numbered chunks."""
        if not self.pending:
            return []
        text, self.pending = "".join(self.pending), []
        chunks = []
        for start in range(0, len(text), _CHUNK_CHARS):
            chunks.append(
                OutputChunk(
                    job_run_id=self.job_run_id,
                    attempt=self.attempt,
                    seq=self.next_seq,
                    text=text[start : start + _CHUNK_CHARS],
                )
            )
            self.next_seq += 1
        return chunks

    def result_of(self, result: ExecutionResult) -> RunResult:
        """The protocol's result for an execution that ended: the whole output travels only
        when live output was cut (head and tail), as on a server node."""
        return RunResult(
            job_run_id=self.job_run_id,
            attempt=self.attempt,
            succeeded=result.succeeded,
            reason=result.reason,
            exit_code=result.exit_code,
            output=result.output if self.truncated else "",
            output_truncated=self.truncated,
            timed_out=result.timed_out,
        )

    def cancelled_result(self) -> RunResult:
        """The result of an attempt the agent stopped (its process group is gone)."""
        self.capture.finish()
        reason = self.ending.value if self.ending is not None else "cancelled"
        return RunResult(
            job_run_id=self.job_run_id,
            attempt=self.attempt,
            succeeded=False,
            reason=reason,
            output=self.capture.text() if self.truncated else "",
            output_truncated=self.truncated,
        )


async def execute(attempt: Attempt, executor: CommandExecutor, workdir: Path) -> RunResult:
    """Run ``attempt`` to its end: a command with ``executor``, a file job as one poll.
    Raises :class:`asyncio.CancelledError` (after the process group is gone) if cancelled."""
    assignment = attempt.assignment
    try:
        job = _JOB.validate_python(assignment.job)
    except ValueError as exc:
        return _failed(attempt, f"the agent cannot read the job: {exc}")
    if isinstance(job, FileJob):
        job = _under(job, workdir)
        poll = await asyncio.to_thread(poll_files, job)
        return RunResult(
            job_run_id=attempt.job_run_id,
            attempt=attempt.attempt,
            succeeded=poll.found,
            reason=poll.reason,
            file_found=poll.found,
        )
    if not isinstance(job, CommandJob):
        return _failed(attempt, f"agents run command and file jobs, not {job.kind.value} jobs")
    request = ExecutionRequest(
        job_run_id=attempt.job_run_id,
        attempt=attempt.attempt,
        job=job,
        environment=assignment.environment,
        timeout_seconds=assignment.timeout_seconds,
        output_limit_bytes=assignment.output_limit_bytes,
        secrets=tuple(assignment.mask),
    )
    return attempt.result_of(await executor.execute(request, attempt))


def _under(job: FileJob, workdir: Path) -> FileJob:
    """A file job whose relative folders are taken relative to the agent's working folder."""
    update: dict[str, str] = {}
    if not os.path.isabs(job.path):
        update["path"] = str(workdir / job.path)
    if job.move_to is not None and not os.path.isabs(job.move_to):
        update["move_to"] = str(workdir / job.move_to)
    return job.model_copy(update=update) if update else job


def _failed(attempt: Attempt, reason: str) -> RunResult:
    return RunResult(
        job_run_id=attempt.job_run_id, attempt=attempt.attempt, succeeded=False, reason=reason
    )
