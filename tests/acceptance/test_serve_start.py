"""``jobplan serve`` starts its engine before importing the web application (the scheduler
needs none of it), serves once it is imported, and a SIGTERM stops both cleanly: checked on
a real server's own log, with Python's import trace (``PYTHONPROFILEIMPORTTIME``) in it."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from support.server import ServerProcess


def test_the_engine_starts_before_the_web_application_is_imported(tmp_path: Path) -> None:
    server = ServerProcess(
        home=tmp_path / "home",
        env={"PYTHONPROFILEIMPORTTIME": "1", "JOBPLAN_LOG_FORMAT": "json"},
    )
    server.start()
    server.stop(signal.SIGTERM)
    lines = server.output().splitlines()

    def first(predicate: str) -> int:
        found = [i for i, line in enumerate(lines) if predicate in line]
        assert found, f"{predicate!r} not in the log:\n" + "\n".join(lines[-40:])
        return found[0]

    def event(name: str) -> int:
        return first(f'"event": "{name}"')

    started = event("node.started")
    imported = [
        (index, line.split("|")[2].strip())
        for index, line in enumerate(lines)
        if line.startswith("import time:") and "|" in line
    ]
    before = {name for index, name in imported if index < started}
    after = {name for index, name in imported if index > started}
    assert "jobplan.engine.engine" in before
    for module in ("jobplan.api", "jobplan.api.app", "jobplan.web", "fastapi"):
        assert module not in before and module in after, module
    # stopped cleanly: the engine too, and the process exits 0 (uvicorn raises the SIGTERM it
    # stopped on again, which no longer kills the process before its clean-up)
    assert server.process is not None and server.process.returncode == 0, server.output()
    stopped = event("node.stopped")
    assert started < stopped
    assert json.loads(lines[stopped])["level"] == "info"
