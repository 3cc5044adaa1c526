"""A real engine (its own thread and event loop) running real command jobs, driven from the
outside through the services as the API drives it, on both stores."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jobplan.engine.executors import CommandExecutor
from jobplan.model import PlanDocument
from jobplan.settings import Settings
from jobplan.store import Database
from support.api import wait_for
from support.engine import Harness
from support.live import live_engine

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals")

LIMIT = 4096


def test_a_killed_job_keeps_the_head_and_the_tail_of_its_output(
    database: Database, tmp_path: Path
) -> None:
    h = Harness(database)
    ready = tmp_path / "ready"
    command = (
        "echo HEAD-OF-OUTPUT; i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; "
        f"echo TAIL-OF-OUTPUT; touch {ready}; exec sleep 300"
    )
    document = {"name": "noisy", "jobs": [{"name": "talk", "kind": "command", "command": command}]}
    h.plans.apply(h.caller, PlanDocument.model_validate(document))
    settings = Settings(home=tmp_path / "home", output_limit_bytes=LIMIT)
    with live_engine(settings, database, {"command": CommandExecutor(kill_grace_seconds=0.2)}):
        outcome = h.runs.start(h.caller, "noisy")
        assert outcome.run is not None
        wait_for(ready.exists, 30, "the job to print its output")
        job_run = h.job(outcome.run, "talk")
        h.runs.act(h.caller, job_run.id, "kill")
        wait_for(lambda: h.job(outcome.run, "talk").status == "KILLED", 30, "the kill")
    text = h.read_output(h.job(outcome.run, "talk"))
    assert text.startswith("HEAD-OF-OUTPUT\n")
    assert "bytes omitted" in text
    assert text.rstrip().endswith("TAIL-OF-OUTPUT")
    assert len(text.encode()) <= LIMIT
