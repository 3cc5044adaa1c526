"""``jobplan agent`` refuses bad options before it dials anywhere, each with a message that
says what is wrong; the key is never echoed back."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobplan.cli.main import app

KEY = "jpa_0123_secret-value"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--key", KEY], {}, "--server"),
        (["--server", "ftp://x", "--key", KEY], {}, "is not an http:// or https:// URL"),
        (["--server", "http://h?x=1", "--key", KEY], {}, "without ? or #"),
        (["--server", "http://h"], {}, "an agent key is required"),
        (["--server", "http://h", "--key", "not-a-key"], {}, "that is not an agent key"),
        (["--server", "http://h", "--key", "jpa_a b"], {}, "that is not an agent key"),
        (["--server", "http://h", "--slots", "0", "--key", KEY], {}, "--slots"),
        (
            ["--server", "http://h", "--workdir", "/nonexistent/x"],
            {"JOBPLAN_AGENT_KEY": KEY},
            "is not a directory",
        ),
        (["--server", "http://h", "--key", KEY, "--log-format", "xml"], {}, "--log-format"),
    ],
)
def test_bad_options_are_refused_with_a_message(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(app, ["agent", *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "secret-value" not in result.output


def test_the_key_file_and_the_key_are_exclusive(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    both = CliRunner().invoke(
        app, ["agent", "--server", "http://h", "--key", KEY, "--key-file", str(key_file)]
    )
    assert both.exit_code == 2 and "not both" in both.output
    missing = CliRunner().invoke(
        app, ["agent", "--server", "http://h", "--key-file", str(tmp_path / "none")]
    )
    assert missing.exit_code == 2 and "--key-file" in missing.output
