"""``jobplan calendars`` against one real ``jobplan serve``: ``create`` from --day options
and a days file, ``import`` of an iCalendar file, ``list`` and ``show`` in table, JSON and
YAML, ``delete`` refused (409, naming the plan) while a plan uses the calendar; an
unreadable file fails with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import yaml

from support.data import DATA
from support.server import ServerProcess, jobplan_cli

PASSWORD = "root-password-123"


def test_calendars_create_import_list_show_delete(tmp_path: Path) -> None:
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

    days = tmp_path / "office.txt"
    days.write_text("# office closures\n2030-01-02\n\n12-24  # every year\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        yaml.safe_dump(
            {
                "name": "daily",
                "window": {"cron": "0 0 6 * * ?", "calendar": ["office", "uk-bank-holidays"]},
                "jobs": [{"name": "a", "kind": "command", "command": "true"}],
            }
        )
    )
    try:
        created = cli("calendars", "create", "office", "--day", "12-25", "--days-file", str(days))
        assert "Calendar office created: 3 days." in created
        ics = DATA / "calendars" / "england-and-wales-2026.ics"
        assert "8 days" in cli("calendars", "import", "uk-bank-holidays", str(ics))
        listed = json.loads(cli("calendars", "list", "-o", "json"))
        assert [(c["name"], c["days"]) for c in listed] == [("office", 3), ("uk-bank-holidays", 8)]
        with httpx.Client(base_url=server.url, timeout=60, auth=("root", PASSWORD)) as api:
            applied = api.post("/api/v1/plans", json=yaml.safe_load(plan.read_text()))
            assert applied.status_code == 201, applied.text
        shown = yaml.safe_load(cli("calendars", "show", "office", "-o", "yaml"))
        assert shown["days"] == ["12-24", "12-25", "2030-01-02"] and shown["plans"] == ["daily"]
        table = cli("calendars", "show", "uk-bank-holidays")
        assert "2026-12-28" in table and "used by: daily" in table

        in_use = jobplan_cli("calendars", "delete", "office", env=env)
        assert in_use.returncode == 1
        assert "calendar 'office' is used by 1 plan(s): daily" in in_use.stderr
        junk = tmp_path / "junk.ics"
        junk.write_text("hello")
        unreadable = jobplan_cli("calendars", "import", "x", str(junk), env=env)
        assert unreadable.returncode == 1 and "not an iCalendar file" in unreadable.stderr

        replaced = cli("calendars", "create", "office", "--day", "12-25", "--replace")
        assert "Calendar office replaced: 1 days, used by 1 plan(s)." in replaced
        with httpx.Client(base_url=server.url, timeout=60, auth=("root", PASSWORD)) as api:
            assert api.delete("/api/v1/plans/daily").status_code == 204
        assert "Calendar office deleted." in cli("calendars", "delete", "office")
    finally:
        server.stop()
