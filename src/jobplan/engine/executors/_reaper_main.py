"""The reaper: a tiny process that kills a node's command jobs when the node dies.

Run by :class:`jobplan.engine.executors._reaper.GroupReaper` as ``python -I -S <this file>``
(standard library only: it must start fast and import nothing of the server's). It reads
lines on stdin from the node:

* ``+<token> <job_run_id>``  a job is about to be started (``token``: a number naming this
  start);
* ``=<token> <pgid>``        it was started: its process group is ``pgid``;
* ``-<token>``               it is over (its group is gone).

When stdin reaches end-of-file — the node closed it, or the node died, even by SIGKILL, since
the kernel closes a dead process's descriptors — the reaper sends SIGKILL to every process
group still registered, and to the group of any process whose environment carries the id of a
job announced but not yet registered (a node killed between starting a job and registering
it), then exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

__all__ = ["main"]


def main() -> None:
    """Read registrations until end-of-file, then kill what is still registered."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the node's to handle
    announced: dict[str, str] = {}  # token -> job run id, until its group is known
    groups: dict[str, int] = {}  # token -> process group
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        kind = line[:1]
        token, _, rest = line[1:].partition(" ")
        if kind == "+":
            announced[token] = rest
        elif kind == "=" and rest.isdigit():
            announced.pop(token, None)
            groups[token] = int(rest)
        elif kind == "-":
            announced.pop(token, None)
            groups.pop(token, None)
    kill_all(set(groups.values()), set(announced.values()))


def kill_all(groups: set[int], pending: set[str]) -> None:
    """SIGKILL ``groups``, and the groups of the processes of the ``pending`` job run ids
    (found by their environment)."""
    groups = set(groups)
    if pending:
        groups.update(_groups_of(pending))
    for pgid in groups:
        if pgid > 1 and pgid != os.getpgrp():
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)


def _groups_of(job_run_ids: set[str]) -> set[int]:
    """Process groups of the processes whose environment names one of ``job_run_ids``."""
    wanted = {f"JOBPLAN_JOB_RUN_ID={job_run_id}".encode() for job_run_id in job_run_ids}
    groups: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return groups
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = set(handle.read().split(b"\0"))
            if environ.isdisjoint(wanted):
                continue
            groups.add(os.getpgid(int(entry)))
        except OSError:
            continue
    return groups


if __name__ == "__main__":
    main()
