"""The command executor against real processes: capture, environment, exit codes, kills."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import tracemalloc
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jobplan.engine.executors import (
    NULL_SINK,
    CommandExecutor,
    ExecutionRequest,
    ExecutionResult,
    OutputSink,
)
from jobplan.model import CommandJob, HttpJob

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="checks processes through /proc"
)

GRACE = 0.2


class RecordingSink:
    """Keeps every chunk written to it."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, chunk: str) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def request(
    command: str,
    *,
    params: dict[str, str] | None = None,
    timeout: float | None = None,
    limit: int = 1_000_000,
    **job_fields: Any,
) -> ExecutionRequest:
    return ExecutionRequest(
        job_run_id="run-1",
        attempt=2,
        job=CommandJob(name="job", command=command, **job_fields),
        environment=params or {},
        timeout_seconds=timeout,
        output_limit_bytes=limit,
    )


def execute(
    req: ExecutionRequest,
    sink: OutputSink = NULL_SINK,
    executor: CommandExecutor | None = None,
) -> ExecutionResult:
    executor = executor or CommandExecutor(kill_grace_seconds=GRACE, drain_seconds=0.3)
    return run(executor.execute(req, sink))


def gone(pid: int) -> bool:
    """True if ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def wait_gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())


def has_content(path: Path) -> bool:
    return path.exists() and bool(path.read_text().strip())


async def wait_for_file(path: Path, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not has_content(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.01)


# --- success, output and exit codes -----------------------------------------------------------


def test_success_captures_stdout_and_stderr_in_arrival_order() -> None:
    sink = RecordingSink()
    result = execute(request("echo out1; echo err1 >&2; echo out2; echo err2 >&2"), sink)
    assert result.succeeded
    assert result.reason is None
    assert result.exit_code == 0
    assert result.output == "out1\nerr1\nout2\nerr2\n"
    assert not result.output_truncated and not result.timed_out
    assert sink.text == result.output


def test_stdin_is_dev_null() -> None:
    result = execute(request("cat; echo done"))
    assert result.succeeded
    assert result.output == "done\n"


@pytest.mark.parametrize(
    ("command", "codes", "succeeded", "reason"),
    [
        ("exit 3", [0], False, "exit code 3 (expected 0)"),
        ("exit 3", [0, 3], True, None),
        ("exit 0", [1, 2], False, "exit code 0 (expected one of 1, 2)"),
        ("exit 1", [1, 2], True, None),
    ],
)
def test_exit_codes(command: str, codes: list[int], succeeded: bool, reason: str | None) -> None:
    result = execute(request(command, success_exit_codes=codes))
    assert result.succeeded is succeeded
    assert result.reason == reason
    assert result.exit_code == int(command.split()[1])


def test_shell_killed_by_signal() -> None:
    result = execute(request("echo before; kill -9 $$"))
    assert not result.succeeded
    assert result.reason == "killed by signal SIGKILL"
    assert result.exit_code == -9
    assert result.output == "before\n"


def test_child_killed_by_signal_is_explained() -> None:
    result = execute(request("sh -c 'kill -9 $$'; exit $?"))  # "; exit" stops an exec
    assert result.exit_code == 137
    assert result.reason == (
        "exit code 137 (expected 0), which usually means a process was killed by SIGKILL"
    )


def test_non_utf8_output_is_replaced_not_fatal() -> None:
    sink = RecordingSink()
    result = execute(request(r"printf 'caf\351 \377\376 ok\n'"), sink)
    assert result.succeeded
    assert result.output == "caf\ufffd \ufffd\ufffd ok\n"
    assert sink.text == result.output


# --- environment ------------------------------------------------------------------------------


def test_parameters_arrive_as_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_SECRET", "do-not-leak")
    monkeypatch.setenv("LANG", "C.UTF-8")
    executor = CommandExecutor()  # reads the server's environment now
    req = request(
        'echo "$REGION|$SHARED|$ONLY_JOB|$JOBPLAN_JOB_RUN_ID|$JOBPLAN_ATTEMPT|$JOBPLAN_JOB_NAME"'
        '; echo "secret=${SERVER_SECRET-unset} lang=$LANG path=${PATH:+set}"',
        params={"REGION": "emea", "SHARED": "from-parameters"},
        environment={"SHARED": "from-job", "ONLY_JOB": "job-value"},
    )
    result = execute(req, executor=executor)
    assert result.succeeded, result.reason
    assert result.output == (
        "emea|from-parameters|job-value|run-1|2|job\nsecret=unset lang=C.UTF-8 path=set\n"
    )


def test_explicit_base_environment_replaces_the_inherited_one() -> None:
    executor = CommandExecutor(base_environment={"PATH": "/usr/bin:/bin", "GREETING": "hi"})
    result = execute(request('echo "$GREETING ${HOME-nohome}"'), executor=executor)
    assert result.output == "hi nohome\n"


def test_hostile_parameter_values_are_passed_literally(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    victim = tmp_path / "victim"
    victim.mkdir()
    hostile = f"$(touch {marker}); rm -rf {victim}; `touch {marker}` && touch {marker} \"'\n"
    result = execute(request('printf "%s" "$VALUE"; echo; echo $VALUE', params={"VALUE": hostile}))
    assert result.succeeded, result.reason
    assert result.output.startswith(hostile + "\n")
    assert not marker.exists()
    assert victim.is_dir()


@pytest.mark.parametrize("name", ["BAD-NAME", "1ST", "", "A B"])
def test_invalid_environment_name_is_a_failed_result(name: str) -> None:
    result = execute(request("echo should-not-run", params={name: "x"}))
    assert not result.succeeded
    assert result.reason is not None
    assert f"invalid environment variable name {name!r}" in result.reason
    assert result.exit_code is None
    assert result.output == ""


def test_nul_in_environment_value_is_a_failed_result() -> None:
    result = execute(request("true", params={"VALUE": "a\x00b"}))
    assert not result.succeeded
    assert result.reason == "environment variable 'VALUE' contains a NUL character"


# --- working directory ------------------------------------------------------------------------


def test_working_directory(tmp_path: Path) -> None:
    result = execute(request("pwd", working_directory=str(tmp_path)))
    assert result.succeeded
    assert result.output == f"{tmp_path}\n"


def test_relative_working_directory_is_relative_to_the_executors(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    executor = CommandExecutor(working_directory=tmp_path)
    assert execute(request("pwd"), executor=executor).output == f"{tmp_path}\n"
    result = execute(request("pwd", working_directory="sub"), executor=executor)
    assert result.output == f"{tmp_path / 'sub'}\n"


def test_missing_working_directory_is_a_failed_result(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = execute(request("echo should-not-run", working_directory=str(missing)))
    assert not result.succeeded
    assert result.reason == f"working directory {str(missing)!r} does not exist"
    (tmp_path / "file").write_text("")
    result = execute(request("true", working_directory=str(tmp_path / "file")))
    assert result.reason == f"working directory {str(tmp_path / 'file')!r} is not a directory"


def test_unstartable_shell_is_a_failed_result(tmp_path: Path) -> None:
    executor = CommandExecutor(shell=str(tmp_path / "no-such-shell"))
    result = execute(request("true"), executor=executor)
    assert not result.succeeded
    assert result.reason is not None
    assert result.reason.startswith("could not start the command: No such file or directory")


# --- timeouts, stops and stray processes ------------------------------------------------------


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    result = execute(
        request(f"sleep 300 & echo $! > {pid_file}; echo started; sleep 300", timeout=0.5)
    )
    assert not result.succeeded
    assert result.timed_out
    assert result.reason == "timed out after 0.5s"
    assert result.exit_code == -15  # the shell died of the SIGTERM
    assert result.output == "started\n"
    assert wait_gone(read_pid(pid_file))


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    result = execute(
        request(f"trap '' TERM; sleep 300 & echo $! > {pid_file}; sleep 300", timeout=0.3)
    )
    assert result.timed_out
    assert result.reason == "timed out after 0.3s"
    assert result.exit_code == -9
    assert wait_gone(read_pid(pid_file))


def test_job_timeout_applies_when_the_request_has_none(tmp_path: Path) -> None:
    result = execute(request("sleep 300", timeout_seconds=1))
    assert result.timed_out
    assert result.reason == "timed out after 1s"


def test_cancellation_kills_the_group_and_reraises(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    inner_pid_file = tmp_path / "inner-pid"
    executor = CommandExecutor(kill_grace_seconds=GRACE)
    sink = RecordingSink()

    async def scenario() -> None:
        task = asyncio.create_task(
            executor.execute(
                request(
                    f"sh -c 'sleep 300 & echo $! > {inner_pid_file}; wait' & "
                    f"echo $! > {pid_file}; echo up; wait"
                ),
                sink,
            )
        )
        await wait_for_file(inner_pid_file)
        deadline = time.monotonic() + 5
        while sink.text != "up\n":
            assert time.monotonic() < deadline, "no live output"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert sink.text == "up\n"
    assert wait_gone(read_pid(pid_file))
    assert wait_gone(read_pid(inner_pid_file))


@pytest.mark.parametrize("yields", [0, 1, 2, 3, 5, 8])
def test_cancellation_while_starting_leaves_nothing_behind(tmp_path: Path, yields: int) -> None:
    pid_file = tmp_path / "pid"
    executor = CommandExecutor(kill_grace_seconds=GRACE)

    async def scenario() -> None:
        task = asyncio.create_task(
            executor.execute(request(f"echo $$ > {pid_file}; sleep 300"), NULL_SINK)
        )
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    if pid_file.exists() and pid_file.read_text().strip():
        assert wait_gone(read_pid(pid_file))


def test_processes_left_behind_are_stopped_without_hanging(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # The background sleep holds the output pipe open; the job still ends when the shell does.
    result = execute(request(f"sleep 300 & echo $! > {pid_file}; echo done"))
    assert result.succeeded
    assert result.output == "done\n"
    assert wait_gone(read_pid(pid_file))


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid(1)")
def test_pipe_held_by_an_escaped_process_does_not_hang(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    result = execute(request(f"setsid sleep 30 & echo $! > {pid_file}; echo done"))
    try:
        assert result.succeeded
        assert result.output == "done\n"
        assert time.monotonic() - started < 20  # far less than the sleep: it did not wait
    finally:
        pid = read_pid(pid_file)
        if not gone(pid):
            os.kill(pid, 9)


# --- output cap and live output ---------------------------------------------------------------


def test_output_cap_keeps_head_and_tail_in_bounded_memory() -> None:
    produced = 20_000_000
    limit = 10_000
    sink_bytes = 0

    class CountingSink:
        def write(self, chunk: str) -> None:
            nonlocal sink_bytes
            sink_bytes += len(chunk)

    tracemalloc.start()
    try:
        result = execute(
            request(f"echo first; yes | head -c {produced}; echo last", limit=limit),
            CountingSink(),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.succeeded
    assert result.output_truncated
    assert len(result.output.encode()) <= limit
    assert result.output.startswith("first\ny\ny\n")
    assert result.output.endswith("y\ny\nlast\n")
    assert " bytes omitted ...]\n" in result.output
    omitted = int(result.output.split("\n[... ")[1].split(" ")[0])
    total = len("first\n") + produced + len("last\n")
    kept = len(result.output.encode()) - len(f"\n[... {omitted} bytes omitted ...]\n")
    assert kept + omitted == total
    assert sink_bytes == total  # the live sink sees everything
    assert peak < 8_000_000  # far less than the 20 MB produced


def test_output_under_the_cap_is_not_truncated() -> None:
    result = execute(request("printf 'x%.0s' $(seq 100)", limit=100))
    assert result.output == "x" * 100
    assert not result.output_truncated


def test_tiny_cap_keeps_the_head_only() -> None:
    result = execute(request("printf 'abcdefghij'", limit=4))
    assert result.output == "abcd"
    assert result.output_truncated


def test_sink_receives_output_while_the_command_runs() -> None:
    sink = RecordingSink()
    executor = CommandExecutor(kill_grace_seconds=GRACE)

    async def scenario() -> ExecutionResult:
        task = asyncio.create_task(executor.execute(request("echo a; sleep 1; echo b"), sink))
        deadline = time.monotonic() + 5
        while "a" not in sink.text:
            assert time.monotonic() < deadline, "no live output"
            await asyncio.sleep(0.01)
        assert not task.done()
        assert "b" not in sink.text
        return await task

    result = run(scenario())
    assert result.output == "a\nb\n"
    assert sink.text == "a\nb\n"


def test_a_failing_sink_does_not_fail_the_job() -> None:
    class BrokenSink:
        def write(self, chunk: str) -> None:
            raise RuntimeError("sink is broken")

    result = execute(request("echo hello"), BrokenSink())
    assert result.succeeded
    assert result.output == "hello\n"


def test_other_job_kinds_are_refused() -> None:
    job = HttpJob(name="job", url="http://127.0.0.1/")
    req = ExecutionRequest("run-1", 1, job, {}, None, 100)
    with pytest.raises(TypeError, match="cannot run http jobs"):
        execute(req)
