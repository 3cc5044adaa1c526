"""The CLI imports a command's module only when that command runs: ``jobplan serve`` or
``jobplan --help`` do not pay for every other command's libraries, and ``--help`` still
lists every command as the commands themselves describe it."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

import pytest
import typer

from jobplan.cli import main

#: What importing the CLI and printing its help must not import (checked in a fresh process).
HEAVY = (
    "jobplan.cli.remote",
    "jobplan.cli.runs",
    "jobplan.cli.admin",
    "jobplan.cli.agent",
    "jobplan.cli.client",
    "jobplan.cli.transfers",
    "jobplan.api",
    "jobplan.web",
    "jobplan.service",
    "jobplan.store",
    "httpx",
    "aiohttp",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "jinja2",
    "yaml",
    "pydantic",
)


def test_help_imports_no_command_module() -> None:
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from jobplan.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'], env={'COLUMNS': '200'})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'help': result.output}))\n"
    )
    answer = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    modules = set(answer["modules"])
    assert [name for name in HEAVY if name in modules] == []
    for name in main.COMMANDS:
        assert f"│ {name} " in answer["help"], name


def _help(group: Any, capsys: pytest.CaptureFixture[str]) -> str:
    with group.make_context("jobplan", [], resilient_parsing=True) as ctx:
        group.get_help(ctx)  # Typer's rich help prints itself
    printed = capsys.readouterr().out
    assert "│ serve " in printed
    return printed


def test_lazy_summaries_are_the_commands_own(capsys: pytest.CaptureFixture[str]) -> None:
    root = typer.main.get_command(main.app)
    assert isinstance(root, typer.core.TyperGroup)
    listed = _help(root, capsys)
    own = [name for name in main.COMMANDS if name not in main._LAZY]
    assert sorted(main.COMMANDS) == sorted({*main._LAZY, *own})
    for name, entry in main._LAZY.items():
        command: Any = root.commands[name]  # imports it
        summary = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        assert entry.summary == summary.replace("\n", " "), name
        assert entry.panel == command.rich_help_panel, name
        assert not command.hidden and not command.deprecated, name
    # every command now imported: the listing is the same, line for line
    assert _help(root, capsys) == listed
