"""Help texts print as written: a bracket in a help text is text, not Rich markup."""

from __future__ import annotations

import inspect
import re
from typing import Any

import typer
from rich.text import Text
from typer.testing import CliRunner

from jobplan.cli.main import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def _help_texts(command: Any) -> list[str]:
    texts = [command.help or ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    return [text for text in texts if text]


def test_every_help_text_survives_rich_markup() -> None:
    """Typer renders help as Rich markup: ``[name]`` would vanish unless escaped."""
    root = typer.main.get_command(app)
    checked = 0
    for path in _commands(root):
        command: Any = root
        for name in path:
            command = command.commands[name]
        for text in _help_texts(command):
            rendered = Text.from_markup(text).plain
            assert rendered == text.replace("\\[", "["), (path, text, rendered)
            checked += 1
    assert checked > 50


def test_export_help_shows_tokens_and_version_prefix() -> None:
    result = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = re.sub(r"[\s│]+", " ", result.output)
    assert "folder/name[version-prefix]" in text
    assert "Write environment values as [[name]] tokens." in text
    assert "eod_[[env.name]]" in text


def test_top_level_help_groups_the_commands_one_line_each() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    panels = re.findall(r"╭─ (.+?) ─", result.output)
    assert panels == ["Options", "Plans and runs", "Operating the server", "This machine"]
    rows = {
        match[1]: match[2].strip()
        for match in re.finditer(r"│ (\w+) {2,}(.+?)│", result.output)
        if match[1] in ("nodes", "audit", "version")
    }
    assert rows["nodes"] == "List the nodes (jobplan serve processes): live, stale or stopped."
    assert rows["version"] == "Print the jobplan version (as jobplan --version)."
    assert "``" not in result.output


def test_every_command_summary_is_one_line() -> None:
    """A group's command list shows each command's first paragraph with its line breaks kept
    (Typer's rich mode), so a summary wrapped in the docstring would break mid-sentence."""
    root = typer.main.get_command(app)
    broken = []
    for path in _commands(root):
        command: Any = root
        for name in path:
            command = command.commands[name]
        summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
        if "\n" in summary:
            broken.append(" ".join(path))
    assert broken == []
