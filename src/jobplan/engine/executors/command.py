"""The ``command`` executor: run a job's command through ``/bin/sh`` in its own process group.

What the command gets:

* **Text**: the job's ``command`` exactly as the plan author wrote it, run as
  ``/bin/sh -c <command>``. Nothing is ever substituted into it.
* **Environment**: a small safe base (``PATH``, ``HOME``, ``LANG`` and ``TZ`` copied from the
  server's environment when it has them; nothing else of the server's leaks), then the job's
  ``environment``, then the request's ``environment`` (the merged parameters, which win), then
  ``JOBPLAN_JOB_RUN_ID``, ``JOBPLAN_ATTEMPT`` and ``JOBPLAN_JOB_NAME``. Parameters therefore
  reach a script only as ``$NAME``: a value such as ``$(rm -rf /)`` stays an inert string.
* **stdin** is ``/dev/null``; stdout and stderr share one pipe, so they interleave in the order
  the command wrote them.

How it ends:

* The shell leads a new session and process group; every process it starts (unless it calls
  ``setsid`` itself) is in that group.
* On timeout or cancellation: SIGTERM to the group, then SIGKILL to whatever is left after
  ``kill_grace_seconds``.
* When the shell exits on its own, the job is over: processes it left in its group (``cmd &``
  without ``wait``) get the same SIGTERM-then-SIGKILL treatment, so nothing outlives its job.
* Output is read until the pipe closes, or for at most ``drain_seconds`` after the group is
  gone (a process that escaped the group with ``setsid`` may hold the pipe open forever).
* When the node dies, even by SIGKILL, its jobs die with it: the executor's reaper process
  (see :mod:`._reaper`) SIGKILLs every job's process group, so a job retried elsewhere never
  overlaps an orphan of the dead node. :meth:`CommandExecutor.close` ends the reaper.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Mapping

from jobplan.engine.executors._output import OutputCapture
from jobplan.engine.executors._reaper import GroupReaper
from jobplan.engine.executors._spawn import Child, spawn
from jobplan.engine.executors.base import (
    ExecutionRequest,
    ExecutionResult,
    OutputSink,
    notify_process_started,
)
from jobplan.engine.masking import Masker
from jobplan.logging import get_logger
from jobplan.model import CommandJob

__all__ = ["INHERITED_VARIABLES", "CommandExecutor"]

INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "TZ")
"""Variables of the server's environment passed on to commands by default."""

_log = get_logger(__name__)
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_POLL_SECONDS = 0.02


class CommandExecutor:
    """Runs :class:`~jobplan.model.CommandJob` attempts as local processes.

    ``kill_grace_seconds``: time between SIGTERM and SIGKILL when stopping a job.
    ``drain_seconds``: how long to keep reading output once the job's processes are gone.
    ``base_environment``: the variables every command starts with; None copies
    :data:`INHERITED_VARIABLES` from the server's environment (read once, here).
    ``working_directory``: where commands without a ``working_directory`` run, and what relative
    ones are relative to; None: the server's current directory.
    ``use_pidfd``: await each command's end through a pidfd on the event loop (see
    :mod:`._spawn`); False waits in a thread per command, as happens anyway where pidfds are
    not available (kept selectable so both paths stay tested).

    Use as ``async with CommandExecutor(...)`` or call :meth:`close` when done: it keeps a small
    reaper process that kills the running jobs if this process dies.
    """

    def __init__(
        self,
        *,
        kill_grace_seconds: float = 5.0,
        drain_seconds: float = 2.0,
        base_environment: Mapping[str, str] | None = None,
        working_directory: str | os.PathLike[str] | None = None,
        shell: str = "/bin/sh",
        use_pidfd: bool = True,
    ) -> None:
        if kill_grace_seconds < 0 or drain_seconds < 0:
            raise ValueError("kill_grace_seconds and drain_seconds must not be negative")
        self.kill_grace_seconds = kill_grace_seconds
        self.drain_seconds = drain_seconds
        if base_environment is None:
            base_environment = {
                name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ
            }
        self._base_environment = dict(base_environment)
        self._working_directory = (
            None if working_directory is None else os.fspath(working_directory)
        )
        self._shell = shell
        self.use_pidfd = use_pidfd
        self._reaper = GroupReaper()

    async def __aenter__(self) -> CommandExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reaper process (jobs still running are killed with it). Idempotent."""
        self._reaper.close()

    async def execute(self, request: ExecutionRequest, sink: OutputSink) -> ExecutionResult:
        """Run the command; see the module docstring for what it gets and how it is stopped."""
        job = request.job
        if not isinstance(job, CommandJob):
            raise TypeError(f"CommandExecutor cannot run {job.kind} jobs")
        environment = self._environment(request, job)
        if isinstance(environment, str):
            return ExecutionResult(succeeded=False, reason=environment)
        cwd = self._resolve_directory(job.working_directory)
        problem = _check_directory(cwd)
        if problem is not None:
            return ExecutionResult(succeeded=False, reason=problem)
        timeout = request.timeout_seconds
        if timeout is None and job.timeout_seconds is not None:
            timeout = float(job.timeout_seconds)
        capture = OutputCapture(
            request.output_limit_bytes, sink, keep_tail=True, masker=Masker(request.secrets)
        )
        attempt = _Attempt(self, request.job_run_id, capture)
        token = self._reaper.announce(request.job_run_id)
        try:
            started = await attempt.start([self._shell, "-c", job.command], environment, cwd)
            if isinstance(started, str):
                return ExecutionResult(succeeded=False, reason=started)
            if attempt.pid is not None:
                self._reaper.register(token, attempt.pid)
                notify_process_started(sink, attempt.pid)
            timed_out, returncode = await attempt.supervise(limit_seconds=timeout)
        finally:
            self._reaper.forget(token)  # the group is gone (supervise waits for it)
        return _result(job, returncode, timed_out, timeout, capture)

    def _environment(self, request: ExecutionRequest, job: CommandJob) -> dict[str, str] | str:
        """The command's environment, or why it cannot have one."""
        environment = dict(self._base_environment)
        for source in (job.environment, request.environment):
            for name, value in source.items():
                if _ENV_NAME_RE.fullmatch(name) is None:
                    return (
                        f"invalid environment variable name {name!r}: a name must start with a "
                        "letter or '_' and contain only letters, digits and '_'"
                    )
                if "\x00" in value:
                    return f"environment variable {name!r} contains a NUL character"
                environment[name] = value
        environment["JOBPLAN_JOB_RUN_ID"] = request.job_run_id
        environment["JOBPLAN_ATTEMPT"] = str(request.attempt)
        environment["JOBPLAN_JOB_NAME"] = job.name
        return environment

    def _resolve_directory(self, directory: str | None) -> str | None:
        if directory is None:
            return self._working_directory
        if self._working_directory is None:
            return directory
        return os.path.join(self._working_directory, directory)


class _Attempt:
    """One running command: its process, its process group and its output pipe."""

    def __init__(self, executor: CommandExecutor, job_run_id: str, capture: OutputCapture):
        self._grace = executor.kill_grace_seconds
        self._drain_seconds = executor.drain_seconds
        self._capture = capture
        self._log = _log.bind(job_run_id=job_run_id)
        self._use_pidfd = executor.use_pidfd
        self._process: Child | None = None
        self._pipe_closed: asyncio.Future[None] | None = None
        self._transport: asyncio.ReadTransport | None = None

    @property
    def pid(self) -> int | None:
        """The shell's pid, which is also its process group id."""
        return self._process.pid if self._process is not None else None

    async def start(
        self, argv: list[str], environment: dict[str, str], cwd: str | None
    ) -> str | None:
        """Start the process with its output pipe connected; or say why it could not start."""
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        try:
            try:
                self._process = spawn(
                    argv,
                    environment=environment,
                    cwd=cwd,
                    output_fd=write_fd,
                    use_pidfd=self._use_pidfd,
                )
            finally:
                os.close(write_fd)  # the child has its copy; EOF comes when all copies close
            self._pipe_closed = loop.create_future()
            protocol = _PipeReader(self._capture, self._pipe_closed)
            self._transport, _ = await loop.connect_read_pipe(lambda: protocol, pipe)
        except OSError as exc:
            pipe.close()
            if self._process is not None:
                _signal_group(self._process.pid, signal.SIGKILL)
                await self._process.wait()
            return f"could not start the command: {_describe_os_error(exc)}"
        except BaseException:  # cancelled while starting: the job has barely begun, kill it
            pipe.close()
            if self._process is not None:
                _signal_group(self._process.pid, signal.SIGKILL)
                await self._process.wait()
            raise
        return None

    async def supervise(self, *, limit_seconds: float | None) -> tuple[bool, int]:
        """Wait for the command (at most ``limit_seconds``), stop its group and collect its
        output. Returns (timed out, exit status). On cancellation, stops the group and
        re-raises."""
        assert self._process is not None and self._transport is not None
        process = self._process
        try:
            timed_out = False
            try:
                async with asyncio.timeout(limit_seconds):
                    await process.wait()
            except TimeoutError:
                timed_out = True
                self._log.info("command timed out; stopping its process group")
            await self._stop_group()
            await self._drain()
        except asyncio.CancelledError:
            self._log.info("command cancelled; stopping its process group")
            await self._stop_group()
            raise
        finally:
            self._transport.close()
            if process.returncode is None:  # interrupted while stopping: no more grace
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        self._capture.finish()
        assert process.returncode is not None
        return timed_out, process.returncode

    async def _stop_group(self) -> None:
        """SIGTERM the process group, SIGKILL it after the grace period, reap the shell."""
        assert self._process is not None
        pgid = self._process.pid  # start_new_session: the shell's pid is the group id
        if not await _group_alive(pgid):
            await self._process.wait()
            return
        if self._process.returncode is not None:
            self._log.info("command left processes behind; stopping them")
        _signal_group(pgid, signal.SIGTERM)
        if not await _wait_group_gone(pgid, self._grace):
            self._log.info("process group outlived the grace period; killing it")
            _signal_group(pgid, signal.SIGKILL)
        await self._process.wait()

    async def _drain(self) -> None:
        """Read output until the pipe closes, for at most ``drain_seconds``."""
        assert self._pipe_closed is not None
        await asyncio.wait([self._pipe_closed], timeout=self._drain_seconds)
        if not self._pipe_closed.done():
            self._log.warning(
                "output pipe still open after the command ended (held by a process outside "
                "its process group); closing it"
            )


class _PipeReader(asyncio.Protocol):
    """Feeds the output pipe to the capture as it arrives."""

    def __init__(self, capture: OutputCapture, closed: asyncio.Future[None]) -> None:
        self._capture = capture
        self._closed = closed

    def data_received(self, data: bytes) -> None:
        self._capture.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def _result(
    job: CommandJob,
    returncode: int,
    timed_out: bool,
    timeout: float | None,
    capture: OutputCapture,
) -> ExecutionResult:
    reason: str | None = None
    if timed_out:
        reason = f"timed out after {timeout:g}s"
    elif returncode < 0:
        reason = f"killed by signal {_signal_name(-returncode) or -returncode}"
    elif returncode not in job.success_exit_codes:
        reason = f"exit code {returncode} (expected {_expected(job.success_exit_codes)})"
        name = _signal_name(returncode - 128) if returncode > 128 else None
        if name is not None:
            reason += f", which usually means a process was killed by {name}"
    return ExecutionResult(
        succeeded=reason is None,
        reason=reason,
        exit_code=returncode,
        output=capture.text(),
        output_truncated=capture.truncated,
        timed_out=timed_out,
    )


def _expected(codes: list[int]) -> str:
    if len(codes) == 1:
        return str(codes[0])
    return "one of " + ", ".join(str(code) for code in codes)


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def _check_directory(path: str | None) -> str | None:
    if path is None:
        return None
    if not os.path.exists(path):
        return f"working directory {path!r} does not exist"
    if not os.path.isdir(path):
        return f"working directory {path!r} is not a directory"
    return None


def _describe_os_error(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename!r}" if exc.filename else text


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        # A member changed identity (a setuid program); the rest of the group still got it.
        _log.warning("not allowed to signal every process in group", pgid=pgid, signal=signum.name)


async def _wait_group_gone(pgid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for the group to have no live member; True if it has none."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await _group_alive(pgid):
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    return True


async def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # The group exists, but perhaps only as zombies that nobody reaps (a container whose init
    # does not reap orphans): look closer, off the event loop.
    return await asyncio.to_thread(_has_running_member, pgid)


def _has_running_member(pgid: int) -> bool:
    """Scan ``/proc`` for a non-zombie process of group ``pgid``; True if we cannot tell."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] not in (b"Z", b"X"):
            return True
    return False
