"""The job reaper against real processes: what it kills when its node goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from jobplan.engine.executors._reaper import GroupReaper
from support.api import wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def sleeper(sleepers: list[subprocess.Popen[bytes]], job_run_id: str) -> subprocess.Popen[bytes]:
    """A job-like process group: a shell with a child, carrying the job run's id."""
    process = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 300 & wait"],
        env={"PATH": os.environ["PATH"], "JOBPLAN_JOB_RUN_ID": job_run_id},
        start_new_session=True,
    )
    sleepers.append(process)
    return process


def test_closing_kills_registered_and_announced_jobs_but_not_forgotten_ones(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    reaper = GroupReaper()
    registered = sleeper(sleepers, "jr-registered")
    reaper.register(reaper.announce("jr-registered"), registered.pid)
    announced = sleeper(sleepers, "jr-announced")  # its node died before registering it
    reaper.announce("jr-announced")
    finished = sleeper(sleepers, "jr-finished")
    token = reaper.announce("jr-finished")
    reaper.register(token, finished.pid)
    reaper.forget(token)
    reaper.close()
    wait_for(lambda: registered.poll() is not None, 10, "the registered job to be killed")
    wait_for(lambda: announced.poll() is not None, 10, "the announced job to be killed")
    assert registered.returncode == announced.returncode == -signal.SIGKILL
    assert finished.poll() is None, "a forgotten job is not the reaper's any more"


def test_a_dead_reaper_is_restarted_and_told_every_running_job(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    reaper = GroupReaper()
    first = sleeper(sleepers, "jr-1")
    reaper.register(reaper.announce("jr-1"), first.pid)
    old_pid = reaper.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: not alive(old_pid), 10, "the reaper to die")
    second = sleeper(sleepers, "jr-2")
    reaper.register(reaper.announce("jr-2"), second.pid)
    assert reaper.pid not in (None, old_pid)
    reaper.close()
    wait_for(lambda: first.poll() is not None, 10, "the first job to be killed")
    wait_for(lambda: second.poll() is not None, 10, "the second job to be killed")
