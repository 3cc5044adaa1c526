"""``jobplan secrets`` against one real ``jobplan serve``: ``set`` reads the value from
standard input (never from the command line: a value given as an argument is refused by the
CLI itself), ``list`` shows names and who set them (never a value), ``delete``;
refusals (a bad name) exit non-zero with the server's message; and
``rotate-key`` seals every secret anew under a new key file while the server runs: the
server still uses the secret afterwards (it re-reads the key file); a server whose key file
does not hold the key the secrets are sealed with refuses to start."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from jobplan.store.secret_box import KEY_FILE, new_key
from support.server import ServerProcess, jobplan_cli

PASSWORD = "root-password-123"
VALUE = "cli-s3cret-value-9d2"


def test_secrets_set_list_delete_and_rotate_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = ServerProcess(
        home=home, env={"JOBPLAN_ADMIN_USER": "root", "JOBPLAN_ADMIN_PASSWORD": PASSWORD}
    )
    server.start()
    env = {
        "JOBPLAN_URL": server.url,
        "JOBPLAN_USER": "root",
        "JOBPLAN_PASSWORD": PASSWORD,
        "JOBPLAN_CONFIG": str(tmp_path / "no-cli.toml"),
    }

    def cli(*args: str, stdin: str | None = None, code: int = 0) -> str:
        done = jobplan_cli(*args, env=env, stdin=stdin)
        assert done.returncode == code, (done.stdout, done.stderr)
        assert VALUE not in done.stdout + done.stderr
        return done.stdout + done.stderr

    try:
        assert "Secret DB_PASSWORD stored" in cli(
            "secrets", "set", "DB_PASSWORD", "--stdin", stdin=VALUE + "\n"
        )
        cli("secrets", "set", "API_TOKEN", "--stdin", "-o", "json", stdin="token-1")
        # the value is never an argument: an extra argument is a usage error
        assert "unexpected extra argument" in cli(
            "secrets", "set", "X", "as-an-argument", stdin="", code=2
        ).lower().replace("\n", " ")
        # without --stdin and without a terminal: refused, nothing read
        assert "--stdin" in cli("secrets", "set", "X", stdin=VALUE, code=2)
        listed = json.loads(cli("secrets", "list", "-o", "json"))
        assert [(s["name"], s["updated_by"]) for s in listed] == [
            ("API_TOKEN", "root"),
            ("DB_PASSWORD", "root"),
        ]
        assert "a secret name is" in cli("secrets", "set", "bad name", "--stdin", stdin="x", code=1)

        # the stored value is exactly what was piped in, without the final line break: the
        # server opens it (a job using it is in tests/integration/engine/test_secret_jobs.py)
        with httpx.Client(base_url=server.url, timeout=30) as api:
            shown = api.get("/api/v1/secrets/DB_PASSWORD", auth=("root", PASSWORD))
            assert shown.status_code == 200 and VALUE not in shown.text
        before = (home / KEY_FILE).read_text()
        rotated = jobplan_cli("secrets", "rotate-key", "--home", str(home), env={})
        assert rotated.returncode == 0, rotated.stderr
        assert "2 secret(s) sealed anew" in rotated.stderr
        after = (home / KEY_FILE).read_text()
        assert after != before and len(after.split()) == 1
        assert (home / KEY_FILE).stat().st_mode & 0o777 == 0o600
        # the running server reads the new key file: it replaces and deletes as before
        cli("secrets", "set", "DB_PASSWORD", "--stdin", stdin=VALUE)
        assert "Secret API_TOKEN deleted" in cli("secrets", "delete", "API_TOKEN")
        assert [s["name"] for s in json.loads(cli("secrets", "list", "-o", "json"))] == [
            "DB_PASSWORD"
        ]
    finally:
        server.stop()
    log = server.log_path.read_text() if server.log_path else ""
    assert log and VALUE not in log

    # the data folder's key lost (a key file of another node copied in): the server refuses
    # to start, rather than failing every job using the secret later
    (home / KEY_FILE).write_text(new_key() + "\n")
    other = ServerProcess(home=home)
    try:
        with pytest.raises(RuntimeError, match="server exited early") as refused:
            other.start()
    finally:
        other.stop()
    assert "sealed with key" in str(refused.value)
    assert "every node sharing the database needs the same secrets key" in str(refused.value)
