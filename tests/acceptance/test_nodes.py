"""Nodes as operators see them, with real ``jobplan serve`` processes: a running server is a
live node; killed with ``kill -9`` (no clean shutdown) it goes stale once its heartbeat is
older than the lease; a server stopped with SIGTERM is stopped, and cleans up before it
exits. Read with ``jobplan nodes``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobplan.service.server_lock import LOCK_NAME
from jobplan.store import Database
from jobplan.store.nodes import NodeState, list_nodes
from support.api import wait_for
from support.server import ServerProcess, jobplan_cli

ENV = {
    "JOBPLAN_ADMIN_USER": "root",
    "JOBPLAN_ADMIN_PASSWORD": "root-password-123",
    "JOBPLAN_LEASE_SECONDS": "2",  # stale two seconds after the last heartbeat
}


def nodes(server: ServerProcess, *args: str) -> Any:
    env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": ENV["JOBPLAN_ADMIN_PASSWORD"],
    }
    done = jobplan_cli("nodes", *args, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "json" in args else done.stdout


def test_a_killed_node_goes_stale_and_a_stopped_one_is_stopped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = ServerProcess(home=home, env=ENV)
    first.start()
    try:
        [node] = nodes(first, "-o", "json")
        assert node["state"] == "live"
        assert first.process is not None and node["pid"] == first.process.pid
        assert "transfers" in node["loops"]
    finally:
        first.kill()  # no clean shutdown: the node is never marked stopped

    second = ServerProcess(home=home, env=ENV)
    second.start()
    try:

        def states() -> dict[str, str] | None:
            found = {n["id"]: n["state"] for n in nodes(second, "-o", "json")}
            return found if found.get(node["id"]) == "stale" else None

        found = wait_for(states, what="the killed node shown stale")
        [live] = [i for i, s in found.items() if s == "live"]
        table = nodes(second)
        assert "stale" in table and "live" in table
        assert [n["id"] for n in nodes(second, "--state", "live", "-o", "json")] == [live]
        refused = jobplan_cli("nodes", "--state", "gone", env={"JOBPLAN_URL": second.url})
        assert refused.returncode == 2
        assert "--state must be one of live, stale, stopped" in refused.stderr
    finally:
        second.stop()  # SIGTERM: a clean shutdown

    # ... which ends with serve's own cleanup, not with the SIGTERM uvicorn raises again once
    # it has shut down (that killed the process before the cleanup ran): the process exits
    # normally, the data folder's lock file is emptied and the database closed (its
    # write-ahead log checkpointed away)
    assert second.process is not None and second.process.returncode == 0, second.output()
    assert (home / LOCK_NAME).read_text() == ""
    assert not (home / "jobplan.db-wal").exists()
    database = Database(f"sqlite:///{home / 'jobplan.db'}")
    try:
        with database.read() as conn:
            stale_before = datetime.now(UTC) - timedelta(seconds=2)
            recorded = {n.id: n.state(stale_before) for n in list_nodes(conn, stale_before)}
    finally:
        database.dispose()
    assert recorded == {node["id"]: NodeState.STALE, live: NodeState.STOPPED}
