"""Offline administration against the data folder: ``jobplan db`` and ``jobplan users``."""

from __future__ import annotations

from typing import Annotated

import typer

from jobplan.cli.output import err, fail, out
from jobplan.errors import JobplanError
from jobplan.model import Role
from jobplan.settings import Settings

__all__ = ["db_app", "users_app"]

db_app = typer.Typer(
    help="Database maintenance (offline, on the data folder).", no_args_is_help=True
)
users_app = typer.Typer(help="Users (offline, on the data folder).", no_args_is_help=True)

HomeOption = Annotated[
    str | None, typer.Option("--home", envvar="JOBPLAN_HOME", help="Data folder (default ./var).")
]


def _settings(home: str | None) -> Settings:
    return Settings(home=home) if home else Settings()


def _used(settings: Settings) -> str:
    """Which data the command worked on: the data folder, and the database when it is not
    the folder's SQLite file (credentials hidden)."""
    if settings.database_url is None:
        return f"data folder {settings.home}"
    from sqlalchemy.engine import make_url

    database = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"data folder {settings.home}, database {database}"


@db_app.command("upgrade")
def db_upgrade(home: HomeOption = None) -> None:
    """Apply database migrations (the server also does this at start)."""
    from jobplan.service.local_admin import upgrade_database

    settings = _settings(home)
    try:
        revision = upgrade_database(settings)
    except JobplanError as exc:
        raise fail(str(exc), 1) from exc
    out.print(f"database at revision {revision} ({_used(settings)})", highlight=False)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        import sys

        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="Role in the tenant.")] = Role.VIEWER,
    tenant: Annotated[str, typer.Option(help="Tenant (created if missing).")] = "default",
    system_admin: Annotated[bool, typer.Option(help="May manage tenants.")] = False,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of a prompt.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Create a user directly in the data folder (e.g. the first admin)."""
    from jobplan.service.local_admin import create_user_locally

    settings = _settings(home)
    password = _read_password(password_stdin)
    try:
        created = create_user_locally(
            settings, tenant, username, password, role, system_admin=system_admin
        )
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    verb = "created" if created else "added to tenant"
    out.print(
        f"user '{username}' {verb} '{tenant}' as {role.value} ({_used(settings)})",
        highlight=False,
        soft_wrap=True,
    )


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of a prompt.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Set a new password for a user directly in the data folder."""
    from jobplan.service.local_admin import reset_password_locally

    settings = _settings(home)
    password = _read_password(password_stdin)
    try:
        reset_password_locally(settings, username, password)
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    # works while a server runs on the folder (it takes no server lock); a running server
    # checks the new password on the next login
    err.print(
        f"password of '{username}' changed ({_used(settings)})", highlight=False, soft_wrap=True
    )
