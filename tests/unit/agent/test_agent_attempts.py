"""The agent's bookkeeping of one attempt, without a server: live output is cut into numbered
chunks and capped as on a server node (head streamed; head and tail in the result when more
came), a stopped attempt's result, and the reconnect backoff's bounds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobplan.agent.attempts import Attempt, Ending, execute
from jobplan.agent.link import Backoff
from jobplan.agent.protocol import Assignment, RunResult
from jobplan.engine.executors import CommandExecutor, ExecutionResult


def assignment(limit: int = 1024, **job: object) -> Assignment:
    return Assignment(
        job_run_id="jr-1",
        attempt=2,
        plan_run_id="run-1",
        plan="p",
        job_name="j",
        kind="command",
        job={"name": "j", "kind": "command", "command": "true", **job},
        environment={"GREETING": "hello"},
        timeout_seconds=None,
        output_limit_bytes=limit,
    )


def test_output_is_numbered_per_attempt_and_kept_until_taken() -> None:
    attempt = Attempt(assignment())
    assert attempt.take_chunks() == []
    attempt.write("a")
    attempt.write("b")
    first = attempt.take_chunks()
    attempt.write("c")
    second = attempt.take_chunks()
    assert [(c.seq, c.text, c.attempt) for c in first + second] == [(0, "ab", 2), (1, "c", 2)]


def test_live_output_stops_at_the_cap_and_the_result_carries_head_and_tail() -> None:
    attempt = Attempt(assignment(limit=1024))
    attempt.write("h" * 1000)
    attempt.write("x" * 5000 + "TAIL")
    streamed = "".join(c.text for c in attempt.take_chunks())
    assert streamed == "h" * 1000 + "x" * 24 and attempt.truncated
    result = attempt.result_of(
        ExecutionResult(succeeded=True, reason=None, exit_code=0, output="head...TAIL")
    )
    assert (result.output, result.output_truncated) == ("head...TAIL", True)
    whole = Attempt(assignment()).result_of(ExecutionResult(True, None, 0, output="small"))
    assert (whole.output, whole.output_truncated) == ("", False)  # the chunks have it all


def test_a_stopped_attempt_reports_why_with_its_output_head_and_tail() -> None:
    attempt = Attempt(assignment(limit=1024))
    attempt.write("s" * 600 + "e" * 600)
    attempt.ending = Ending.STOP
    result = attempt.cancelled_result()
    assert result.reason == "stopped by an operator" and not result.succeeded
    assert result.output.startswith("s") and result.output.endswith("e")
    assert result.output_truncated and len(result.output.encode()) <= 1024


def test_a_command_runs_in_the_agents_folder_with_its_parameters(tmp_path: Path) -> None:
    async def run() -> tuple[RunResult, str]:
        attempt = Attempt(assignment(command='pwd; echo "$GREETING $JOBPLAN_ATTEMPT"; exit 4'))
        async with CommandExecutor(working_directory=tmp_path) as executor:
            result = await execute(attempt, executor, tmp_path)
        return result, "".join(c.text for c in attempt.take_chunks())

    result, streamed = asyncio.run(run())
    assert streamed == f"{tmp_path}\nhello 2\n"
    assert result.exit_code == 4 and result.reason == "exit code 4 (expected 0)"


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(base=1.0, cap=4.0)
    delays = [backoff.next_delay() for _ in range(5)]
    for delay, ceiling in zip(delays, [1, 2, 4, 4, 4], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1.0
