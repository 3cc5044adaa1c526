"""Starting a command's shell cheaply from a large process, and waiting for it on the loop.

Why not ``asyncio.create_subprocess_exec``: under uvloop (what ``jobplan serve`` runs on) it
is libuv's ``uv_spawn``, a full ``fork()`` of the server's whole heap that blocks the event loop
until the child has exec'ed — measured at 11 ms of the server's CPU per spawn with a 200 MB
heap, and 12 spawns/s (docs/performance.md#agents). With the standard loop it costs a thread per
child (the threaded child watcher of Python 3.11).

Here the shell is started by :class:`subprocess.Popen`, which uses ``vfork()`` (no copy of the
parent's page tables, the parent paused only until the child exec's) with ``close_fds`` and a
new session, and its exit is awaited through a *pidfd* (Linux 5.3+) registered with the event
loop: no thread, no signal handler, no polling. Where ``pidfd_open`` is missing or refused
(another OS, an old kernel, a seccomp filter), a small thread per child waits instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Callable

__all__ = ["Child", "spawn"]


class Child:
    """A started process: its pid, and its exit status once :meth:`wait` has seen it end.

    The process is reaped exactly once, by this object (nothing else waits for it: it is not
    an asyncio subprocess, so no child watcher knows it)."""

    def __init__(self, process: subprocess.Popen[bytes], *, use_pidfd: bool = True) -> None:
        self._process = process
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._pidfd: int | None = None
        if use_pidfd:
            self._pidfd = _pidfd_open(process.pid)
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._on_pidfd)
        else:
            threading.Thread(
                target=self._wait_in_thread, name=f"jobplan-wait-{process.pid}", daemon=True
            ).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal) once reaped, else ``None``."""
        return self._process.returncode if self._exited.done() else None

    async def wait(self) -> int:
        """Wait for the process to end; its exit status. Cancelling the wait leaves the
        process running and watched (a later :meth:`wait` still sees its end)."""
        return await asyncio.shield(self._exited)

    def _on_pidfd(self) -> None:
        # readable: the process has ended (it is a zombie now), so this wait does not block
        self._close_pidfd()
        self._settle(self._process.wait())

    def _close_pidfd(self) -> None:
        fd, self._pidfd = self._pidfd, None
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)

    def _wait_in_thread(self) -> None:
        returncode = self._process.wait()
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._settle, returncode)

    def _settle(self, returncode: int) -> None:
        if not self._exited.done():
            self._exited.set_result(returncode)


def spawn(
    argv: list[str],
    *,
    environment: dict[str, str],
    cwd: str | None,
    output_fd: int,
    use_pidfd: bool = True,
) -> Child:
    """Start ``argv`` in a new session (it leads its own process group), stdin from
    ``/dev/null``, stdout and stderr to ``output_fd``, no other descriptor of this process
    inherited. Raises :class:`OSError` when it cannot start (no such program, directory...)."""
    process = subprocess.Popen(  # noqa: S603 - the job's command, run as its author wrote it
        argv,
        stdin=subprocess.DEVNULL,
        stdout=output_fd,
        stderr=output_fd,
        cwd=cwd,
        env=environment,
        close_fds=True,
        start_new_session=True,
    )
    try:
        return Child(process, use_pidfd=use_pidfd)
    except BaseException:  # could not watch it: do not leave it running unwatched
        _kill_and_reap(process)
        raise


def _kill_and_reap(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, 9)
    process.wait()


def _pidfd_open(pid: int) -> int | None:
    opener: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:  # ENOSYS (old kernel), EPERM (seccomp), ...: wait in a thread instead
        return None
