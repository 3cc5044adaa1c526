"""How the command executor starts and awaits its processes (``executors/_spawn.py``): the same
results whichever way a command's end is awaited (a pidfd on the loop, or a thread where pidfds
are unavailable) and on either event loop the project runs on (asyncio's for agents, uvloop's
for ``jobplan serve``); and no thread per running command."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop

from jobplan.engine.executors import CommandExecutor, ExecutionRequest, ExecutionResult
from jobplan.model import CommandJob

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pidfd, /proc")

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
LOOPS: dict[str, Runner] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


class Sink:
    def __init__(self, expected: int = 0) -> None:
        self.text = ""
        self.pids: list[int] = []
        self.expected = expected
        self.all_started = asyncio.Event()

    def write(self, chunk: str) -> None:
        self.text += chunk

    def process_started(self, pid: int) -> None:
        self.pids.append(pid)
        if len(self.pids) == self.expected:
            self.all_started.set()


def request(command: str, timeout: float | None = None, **fields: Any) -> ExecutionRequest:
    job = CommandJob(name="job", command=command, **fields)
    return ExecutionRequest("run-1", 1, job, {"P": "$(x)"}, timeout, 4096)


def cases(tmp: Path) -> list[ExecutionRequest]:
    """Output, stdin, exit codes, signals, environment, working directory, timeouts with a
    group left behind, and a command that cannot start."""
    return [
        request('echo out; echo err >&2; cat; echo "$P" $JOBPLAN_ATTEMPT'),
        request("exit 3", success_exit_codes=[0, 1]),
        request("echo before; kill -9 $$"),
        request("pwd", working_directory=str(tmp)),
        request("sleep 300 & echo started; wait", timeout=0.1),
        request("trap '' TERM; echo stubborn; sleep 300", timeout=0.1),
        request("sleep 300 & echo left; exit 0"),
    ]


def run_cases(runner: Runner, tmp: Path, *, use_pidfd: bool) -> list[tuple[ExecutionResult, str]]:
    async def scenario() -> list[tuple[ExecutionResult, str]]:
        async with CommandExecutor(kill_grace_seconds=0.1, use_pidfd=use_pidfd) as executor:
            sinks = [Sink() for _ in cases(tmp)]
            results = await asyncio.gather(
                *(executor.execute(r, s) for r, s in zip(cases(tmp), sinks, strict=True))
            )
        async with CommandExecutor(shell=str(tmp / "no-such-shell"), use_pidfd=use_pidfd) as bad:
            unstartable = await bad.execute(request("true"), Sink())
        return [*zip(results, (s.text for s in sinks), strict=True), (unstartable, "")]

    outcome: list[tuple[ExecutionResult, str]] = runner(scenario())
    return outcome


def test_every_way_of_awaiting_a_command_gives_the_same_results(tmp_path: Path) -> None:
    plain = run_cases(asyncio.run, tmp_path, use_pidfd=False)
    assert [r.exit_code for r, _ in plain] == [0, 3, -9, 0, -15, -9, 0, None]
    assert plain[0][0].output == "out\nerr\n$(x) 1\n"
    assert plain[4][0].timed_out and plain[4][0].reason == "timed out after 0.1s"
    assert plain[7][0].reason is not None
    assert plain[7][0].reason.startswith("could not start the command")
    assert run_cases(asyncio.run, tmp_path, use_pidfd=True) == plain
    assert run_cases(uvloop.run, tmp_path, use_pidfd=True) == plain


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_running_commands_take_no_thread_each(loop: str, tmp_path: Path) -> None:
    """Python 3.11's asyncio subprocesses cost a waiting thread per running command (and,
    under uvloop, a fork of the whole server); the executor's pidfds cost none."""
    count = 6
    go = tmp_path / "go"

    async def scenario() -> int:
        sink = Sink(expected=count)
        async with CommandExecutor(kill_grace_seconds=0.2) as executor:
            before = {thread.ident for thread in threading.enumerate()}
            command = f"while [ ! -e {go} ]; do sleep 0.02; done"
            tasks = [
                asyncio.create_task(executor.execute(request(command), sink)) for _ in range(count)
            ]
            await sink.all_started.wait()
            during = len({thread.ident for thread in threading.enumerate()} - before)
            go.touch()
            results = await asyncio.gather(*tasks)
        assert all(r.succeeded for r in results)
        return during

    assert LOOPS[loop](scenario()) == 0
