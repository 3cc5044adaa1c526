"""``jobplan agents`` against one real ``jobplan serve``: ``create`` prints the key once (and
it is an agent key: the API refuses it with 403), ``list`` in table, JSON and YAML,
``revoke`` (the key then 401); ``jobplan apply`` prints the warning for a job naming an agent
that is not registered, and still exits 0."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import yaml

from support.server import ServerProcess, jobplan_cli

PASSWORD = "root-password-123"


def test_agents_create_list_revoke_and_the_apply_warning(tmp_path: Path) -> None:
    server = ServerProcess(
        home=tmp_path / "home",
        env={"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": PASSWORD},
    )
    server.start()
    env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": PASSWORD,
        "JOBPLAN_CONFIG": str(tmp_path / "no-cli.toml"),
    }

    def cli(*args: str) -> str:
        done = jobplan_cli(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        created = cli("agents", "create", "edge-1", "--label", "linux", "--label", "eu")
        assert "Agent edge-1 registered" in created
        key = created.strip().splitlines()[-1]
        assert key.startswith("jpa_")
        with httpx.Client(base_url=server.url, timeout=30) as api:
            refused = api.get("/api/v1/plans", headers={"X-API-Key": key})
            assert refused.status_code == 403, refused.text
        second = json.loads(cli("agents", "create", "edge-2", "-o", "json"))
        assert second["name"] == "edge-2" and second["key"].startswith("jpa_")

        listed = json.loads(cli("agents", "list", "-o", "json"))
        assert [(a["name"], a["labels"], a["state"]) for a in listed] == [
            ("edge-1", ["eu", "linux"], "offline"),
            ("edge-2", [], "offline"),
        ]
        assert all("key" not in a for a in listed)
        assert [a["name"] for a in yaml.safe_load(cli("agents", "list", "-o", "yaml"))] == [
            "edge-1",
            "edge-2",
        ]
        table = cli("agents", "list")
        assert "edge-1" in table and "eu,linux" in table and key not in table

        assert "Agent edge-1 revoked" in cli("agents", "revoke", "edge-1")
        revoked = json.loads(cli("agents", "list", "--state", "revoked", "-o", "json"))
        assert [a["name"] for a in revoked] == ["edge-1"]
        with httpx.Client(base_url=server.url, timeout=30) as api:
            assert api.get("/api/v1/plans", headers={"X-API-Key": key}).status_code == 401
        bad = jobplan_cli("agents", "list", "--state", "gone", env=env)
        assert bad.returncode == 2 and "--state must be one of" in bad.stderr
        missing = jobplan_cli("agents", "revoke", "nobody", env=env)
        assert missing.returncode == 1 and "nobody" in missing.stderr

        plan = tmp_path / "plan.yaml"
        plan.write_text(
            yaml.safe_dump(
                {
                    "name": "routed",
                    "jobs": [
                        {"name": "load", "kind": "command", "command": "true", "agent": "edge-9"}
                    ],
                }
            )
        )
        applied = jobplan_cli("apply", "-f", str(plan), env=env)
        assert applied.returncode == 0, applied.stderr
        assert "created plan" in applied.stdout
        assert "warning: jobs load: no agent 'edge-9' is registered" in applied.stderr
        as_json = json.loads(cli("apply", "-f", str(plan), "-o", "json"))
        assert as_json["warnings"] == [
            "jobs load: no agent 'edge-9' is registered in tenant 'default'; they run on the "
            "server until one is (JOBPLAN_UNKNOWN_AGENTS=server)"
        ]
    finally:
        server.stop()
