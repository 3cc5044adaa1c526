"""Command jobs die with their node: the node side of the reaper process.

A node killed with SIGKILL runs no clean-up code, so its command jobs would run on as
orphans — and on PostgreSQL another node may retry them while they do. Each
:class:`~jobplan.engine.executors.CommandExecutor` therefore keeps one small helper process
(``_reaper_main.py``, in a session of its own so signals meant for the node's process group do
not reach it) and tells it, over a pipe, which process groups run jobs. When the node dies the
kernel closes the pipe; the reaper sees end-of-file and SIGKILLs every group still registered.

Why a separate process rather than a parent-death signal on each job: ``PR_SET_PDEATHSIG``
reaches only the process it is set on (the job's shell), not the shell's children and
grandchildren; it fires when the *thread* that forked the job exits, not the process; and
setting it needs code run between fork and exec, which is not safe in a threaded server. A pipe
closes exactly when the node's process is gone, whatever thread started the job.

A job is announced to the reaper before it is started and registered with its process group
right after, so a node killed in between is covered too (the reaper then finds the job's
processes by the ``JOBPLAN_JOB_RUN_ID`` in their environment). If the reaper itself dies, the
next message restarts it and registers the running groups again.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import IO

from jobplan.logging import get_logger

__all__ = ["GroupReaper"]

_log = get_logger(__name__)
_SCRIPT = Path(__file__).with_name("_reaper_main.py")


class GroupReaper:
    """Registers a node's running command jobs with a reaper process that outlives the node.

    Thread-safe. The reaper process starts on first use; :meth:`close` (or garbage collection)
    ends it — and with it, any job still registered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, tuple[str, int | None]] = {}  # token -> (job run id, pgid)
        self._tokens = itertools.count(1)
        self._channel = _Channel()
        self._finalizer = weakref.finalize(self, self._channel.close)

    def announce(self, job_run_id: str) -> int:
        """A job is about to start (its processes carry ``JOBPLAN_JOB_RUN_ID=job_run_id``);
        returns the token naming this start in :meth:`register` and :meth:`forget`."""
        if "\n" in job_run_id:
            raise ValueError("a job run id must not contain a line break")
        with self._lock:
            token = next(self._tokens)
            self._jobs[token] = (job_run_id, None)
            self._send(f"+{token} {job_run_id}")
            return token

    def register(self, token: int, pgid: int) -> None:
        """The job started as ``token`` runs in process group ``pgid``."""
        with self._lock:
            if token in self._jobs:
                self._jobs[token] = (self._jobs[token][0], pgid)
                self._send(f"={token} {pgid}")

    def forget(self, token: int) -> None:
        """The job is over: its process group is gone (or it never started)."""
        with self._lock:
            if self._jobs.pop(token, None) is not None:
                self._send(f"-{token}")

    def close(self) -> None:
        """End the reaper process (it kills the jobs still registered, if any). Does not
        wait for it: it exits on its own once it has read the end of its input."""
        self._finalizer()

    @property
    def pid(self) -> int | None:
        """The reaper's pid, if it runs."""
        return self._channel.pid

    def _send(self, line: str) -> None:
        if self._channel.send(line):
            return
        # no reaper (first use), or it died: start one and tell it everything again
        self._channel.restart()
        lines = []
        for token, (job_run_id, pgid) in self._jobs.items():
            lines.append(f"+{token} {job_run_id}")
            if pgid is not None:
                lines.append(f"={token} {pgid}")
        if lines and not self._channel.send("\n".join(lines)):
            _log.warning("job reaper unavailable: jobs may outlive this node if it is killed")


class _Channel:
    """The reaper process and the write end of its stdin (no reference to the owner, so the
    owner's finalizer can close it).

    Only this process holds the write end: Popen's pipes are close-on-exec, and subprocess
    closes every other descriptor in the children it starts (jobs included)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._stdin: IO[bytes] | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def send(self, text: str) -> bool:
        if self._stdin is None:
            return False
        try:
            self._stdin.write(text.encode() + b"\n")
            self._stdin.flush()
        except OSError:  # BrokenPipeError: the reaper died
            self._stop()
            return False
        return True

    def restart(self) -> None:
        self._stop()
        if self._closed:
            return
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our interpreter and our script
                [sys.executable or "python3", "-I", "-S", str(_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            _log.warning("could not start the job reaper", error=str(exc))
            return
        self._stdin = self._process.stdin

    def close(self) -> None:
        self._closed = True
        self._stop()

    def _stop(self) -> None:
        process, stdin = self._process, self._stdin
        self._process = self._stdin = None
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.close()
        if process is not None and process.poll() is None:
            # it exits once it has read end-of-file and killed what was left: collect it off
            # this thread (this may run in a garbage collection on the event loop's thread)
            threading.Thread(
                target=_collect, args=(process,), name="jobplan-reaper-exit", daemon=True
            ).start()


def _collect(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
