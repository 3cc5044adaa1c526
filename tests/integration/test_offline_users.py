"""``jobplan users`` offline: user names are per tenant, so ``reset-password`` picks the
account by ``--tenant`` when several tenants have one of that name."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobplan.cli.main import app
from jobplan.service.auth import AuthService
from jobplan.service.security import PasswordHasher
from jobplan.settings import Settings
from jobplan.store import Database


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JOBPLAN_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("JOBPLAN_ARGON2_TIME_COST", "1")
    return tmp_path / "home"


def _cli(home: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--home", str(home)], input=stdin)
    return result.exit_code, result.output


def _signs_in(home: Path, username: str, password: str, tenant: str | None) -> bool:
    settings = Settings(home=home)  # type: ignore[arg-type]
    database = Database(settings.effective_database_url)
    try:
        auth = AuthService(database, settings, b"k" * 32, PasswordHasher(settings))
        auth.password_grant(username, password, tenant, "test")
        return True
    except Exception:
        return False
    finally:
        database.dispose()


def test_reset_password_picks_the_tenant_of_an_ambiguous_name(home: Path) -> None:
    for tenant in ("acme", "globex"):
        code, output = _cli(
            home,
            "users",
            "create",
            "bob",
            "--tenant",
            tenant,
            "--password-stdin",
            stdin=f"bob-of-{tenant}-pw\n",
        )
        assert code == 0, output
        assert f"created in tenant '{tenant}'" in output
    # a second bob in one tenant is refused
    code, output = _cli(
        home, "users", "create", "bob", "--tenant", "acme", "--password-stdin", stdin="x" * 12
    )
    assert code != 0 and "bob in tenant acme" in output

    code, output = _cli(home, "users", "reset-password", "bob", "--password-stdin", stdin="n" * 12)
    assert code != 0
    assert "2 accounts are named 'bob'" in output and "--tenant" in output
    assert "acme" in output and "globex" in output
    assert _signs_in(home, "bob", "bob-of-acme-pw", "acme")  # nothing changed
    # the first bob's name was unique on the server: he may omit his tenant; the second not
    assert _signs_in(home, "bob", "bob-of-acme-pw", None)
    assert not _signs_in(home, "bob", "bob-of-globex-pw", None)

    code, output = _cli(
        home,
        "users",
        "reset-password",
        "bob",
        "--tenant",
        "globex",
        "--password-stdin",
        stdin="new-globex-bob-pw\n",
    )
    assert code == 0, output
    assert "(tenant globex) changed" in output
    assert _signs_in(home, "bob", "new-globex-bob-pw", "globex")
    assert not _signs_in(home, "bob", "bob-of-globex-pw", "globex")
    assert _signs_in(home, "bob", "bob-of-acme-pw", "acme")

    code, output = _cli(
        home,
        "users",
        "reset-password",
        "bob",
        "--tenant",
        "initech",
        "--password-stdin",
        stdin="n" * 12,
    )
    assert code != 0 and "bob in tenant initech" in output
