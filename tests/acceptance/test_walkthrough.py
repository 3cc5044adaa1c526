"""The README's run walkthrough through the real CLI and server: runs appear on the window,
output can be followed, a manual job is released, a run is stopped, a job held."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from support.api import wait_for
from support.server import ServerProcess, jobplan_cli

# some twenty CLI processes and two ten-second windows: more than the default bound when the
# machine is busy (the bound catches hangs; it is not a timing assertion)
pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
ENV_ADMIN = {"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": "root-password-123"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / "home", env=ENV_ADMIN)
    process.start()
    yield process
    process.stop()


def ids(text: str) -> list[str]:
    return re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text)


def test_walkthrough(server: ServerProcess, tmp_path: Path) -> None:
    env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": "root-password-123",
    }

    def cli(*args: str) -> str:
        result = jobplan_cli(*args, env=env)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    cli("apply", "-f", str(REPO / "docs" / "examples" / "walkthrough.yaml"))

    def scheduled_runs() -> list[str] | None:
        listing = cli("runs", "status", "--plan", "demo/walkthrough")
        found = [line for line in listing.splitlines() if "schedule" in line]
        return [ids(line)[0] for line in found] or None

    run_id = wait_for(scheduled_runs, 60, "a scheduled run")[-1]

    def job_id(run: str, job: str, status: str | None = None) -> str | None:
        for line in cli("runs", "status", run).splitlines():
            cells = line.split()
            if job in cells and (status is None or status in cells):
                return ids(line)[-1]
        return None

    work = wait_for(lambda: job_id(run_id, "work"), 60, "the work job")
    followed = cli("runs", "logs", work, "--follow")
    assert [f"step {i} of 5" for i in range(1, 6)] == re.findall(r"step \d of 5", followed)

    approve = wait_for(lambda: job_id(run_id, "approve", "ON_HOLD"), 60, "approve on hold")
    released = cli("runs", "job", "release", approve)
    assert "WAITING" in released or "RUNNING" in released or "COMPLETE" in released
    wait_for(
        lambda: "COMPLETE" in cli("runs", "status", run_id).splitlines()[0],
        60,
        "the released run to complete",
    )

    # The second part needs `work` still running when `approve` is released. The example's
    # ten seconds of `work` are not a promise on a loaded machine, so a new version of the
    # plan makes `work` wait for a file the test creates (only once the run is stopped).
    finish_work = tmp_path / "finish-work"
    plan = yaml.safe_load((REPO / "docs" / "examples" / "walkthrough.yaml").read_text())
    (work_job,) = [job for job in plan["jobs"] if job["name"] == "work"]
    work_job["command"] = f"while [ ! -e {finish_work} ]; do sleep 0.2; done"
    variant = tmp_path / "walkthrough-held.yaml"
    variant.write_text(yaml.safe_dump(plan))
    try:
        cli("apply", "-f", str(variant))
        started = cli("runs", "start", "demo/walkthrough", "--force")
        other = ids(started)[0]
        held_target = wait_for(lambda: job_id(other, "approve", "ON_HOLD"), 60, "approve on hold")
        # released before `work` is done, it waits again; then hold it back
        assert "WAITING" in cli("runs", "job", "release", held_target)
        held = cli("runs", "job", "hold", held_target)
        assert "ON_HOLD" in held
        refused = jobplan_cli("runs", "job", "unskip", held_target, env=env)
        assert refused.returncode == 1 and "409" in refused.stderr
        stopped = cli("runs", "stop", other)
        assert "ENDED" in stopped
    finally:
        finish_work.touch()

    assert "disabled" in cli("plans", "disable", "demo/walkthrough")
    plan = httpx.get(
        f"{server.url}/api/v1/plans", params={"folder": "demo"}, auth=("root", "root-password-123")
    ).json()[0]
    assert (plan["path"], plan["enabled"]) == ("demo/walkthrough", False)
