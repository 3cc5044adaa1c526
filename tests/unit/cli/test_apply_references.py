"""``jobplan apply`` checks references in a plan file before it calls the server."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from jobplan.cli.main import app

PLAN = """\
name: nightly
parameters:
  - name: DAY
    default: "${scheduled_for:%d.%m.%c}"
jobs:
  - name: load
    kind: command
    command: echo "$DAY"
"""


def test_a_bad_reference_is_refused_naming_the_field(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    # no server listens there: the file is refused before any request
    env = {"JOBPLAN_URL": "http://127.0.0.1:9", "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["apply", "-f", str(plan)], env=env)
    assert result.exit_code == 2, result.output
    assert "parameters.0.default: '${scheduled_for:%d.%m.%c}': %c is not allowed in a format" in (
        result.output
    )
