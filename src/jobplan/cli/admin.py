"""Offline administration against the data folder: ``jobplan db`` and ``jobplan users``
(whose server commands are in :mod:`jobplan.cli.users`)."""

from __future__ import annotations

from typing import Annotated

import typer

from jobplan.cli.output import Format, OutputOption, err, fail, out
from jobplan.cli.users import create_user_online, register_online_commands
from jobplan.errors import JobplanError
from jobplan.model import Role
from jobplan.settings import Settings

__all__ = ["db_app", "users_app"]

db_app = typer.Typer(
    help="Database maintenance (offline, on the data folder).", no_args_is_help=True
)
users_app = typer.Typer(
    help="Users: on the server (list, show, create, role, disable, enable), or offline on the"
    " data folder (create --offline or --home, reset-password).",
    no_args_is_help=True,
)
register_online_commands(users_app)

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
    # on stderr: standard output is kept for what the command prints (-o json)
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="Role in the tenant.")] = Role.VIEWER,
    display_name: Annotated[
        str | None, typer.Option(help="Name shown to others (on the server).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of a prompt.")
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Create the user in the data folder, not through the server."
        ),
    ] = False,
    tenant: Annotated[
        str | None, typer.Option(help="Offline: tenant (created if missing; default 'default').")
    ] = None,
    system_admin: Annotated[
        bool, typer.Option(help="Offline: the user may manage tenants.")
    ] = False,
    home: HomeOption = None,
    output: OutputOption = Format.TABLE,
) -> None:
    """Create a user in the tenant through the server (offline: in the data folder).

    With --offline, or a data folder named by --home or JOBPLAN_HOME, the user is written
    directly in the data folder (e.g. the first admin)."""
    if not offline and home is None:
        if tenant is not None or system_admin:
            raise fail(
                "--tenant and --system-admin work on the data folder (--offline); on the"
                " server the user joins the connection's tenant (jobplan --tenant T users ...)"
            )
        password = _read_password(password_stdin)
        create_user_online(ctx, username, password, role, display_name, output)
        return
    if display_name is not None or output is not Format.TABLE:
        raise fail("--display-name and -o/--output work on the server (leave out --offline)")
    from jobplan.service.local_admin import create_user_locally

    tenant = tenant or "default"
    settings = _settings(home)
    password = _read_password(password_stdin)
    try:
        create_user_locally(settings, tenant, username, password, role, system_admin=system_admin)
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    out.print(
        f"user '{username}' created in tenant '{tenant}' as {role.value} ({_used(settings)})",
        highlight=False,
        soft_wrap=True,
    )


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    tenant: Annotated[
        str | None,
        typer.Option(
            help="The account's tenant (user names are per tenant: needed when several "
            "tenants have a user of this name)."
        ),
    ] = None,
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
        tenants = reset_password_locally(settings, username, password, tenant)
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    # works while a server runs on the folder (it takes no server lock); a running server
    # checks the new password on the next login
    of = f" (tenant {', '.join(tenants)})" if tenants else ""
    err.print(
        f"password of '{username}'{of} changed ({_used(settings)})",
        highlight=False,
        soft_wrap=True,
    )
