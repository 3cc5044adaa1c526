"""Entry point of the ``jobplan`` command: builds settings once and dispatches to commands."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup

from jobplan import __version__
from jobplan.cli.output import Format, OutputOption, bold, emit, err, fail, line, out
from jobplan.errors import JobplanError

if TYPE_CHECKING:
    from jobplan.cli.client import ApiClient
    from jobplan.settings import Settings

__all__ = ["COMMANDS", "app", "main"]

#: ``jobplan --help`` lists the commands in these groups, in this order.
PLANS, OPERATIONS, SERVER = "Plans and runs", "Operating the server", "This machine"


@dataclass(frozen=True, slots=True)
class _Lazy:
    """A command whose module is imported only when the command runs (or its own help is
    shown): ``jobplan serve`` and ``jobplan runs list`` do not import every other command's
    libraries. ``summary`` is what ``jobplan --help`` shows without importing it; a test
    checks it is the command's own first paragraph."""

    module: str
    attribute: str
    panel: str
    summary: str


_LAZY: dict[str, _Lazy] = {
    "apply": _Lazy(
        "remote",
        "apply",
        PLANS,
        "Create the plan in FILE, or store it as a new version if it changed.",
    ),
    "export": _Lazy(
        "transfers",
        "export_bundle",
        PLANS,
        "Export plans as a zip bundle (an asynchronous job on the server).",
    ),
    "import": _Lazy(
        "transfers",
        "import_bundle",
        PLANS,
        "Import a zip bundle: all its plans in one transaction, or none.",
    ),
    "nodes": _Lazy(
        "nodes",
        "nodes",
        OPERATIONS,
        "List the nodes (jobplan serve processes): live, stale or stopped.",
    ),
    "agent": _Lazy(
        "agent",
        "agent",
        SERVER,
        "Run this machine as an agent: claim the job runs routed to it and run them here.",
    ),
    "plans": _Lazy("remote", "plans_app", PLANS, "Plans on the server."),
    "runs": _Lazy("runs", "runs_app", PLANS, "Plan runs and job runs on the server."),
    "services": _Lazy(
        "services",
        "services_app",
        PLANS,
        "The service registry: where jobs naming a service send their calls.",
    ),
    "notifications": _Lazy(
        "notifications",
        "notifications_app",
        PLANS,
        "Messages sent about runs (webhooks, emails): delivered, pending or failed.",
    ),
    "calendars": _Lazy(
        "calendars",
        "calendars_app",
        PLANS,
        "Calendars of days windows skip or fire only on (docs/calendars.md).",
    ),
    "users": _Lazy(
        "admin",
        "users_app",
        OPERATIONS,
        "Users: on the server (list, show, create, role, disable, enable), or offline on the"
        " data folder (create --offline or --home, reset-password).",
    ),
    "keys": _Lazy("remote", "keys_app", OPERATIONS, "Your API keys on the server."),
    "audit": _Lazy(
        "audit",
        "audit_app",
        OPERATIONS,
        "The audit log: changes and sign-ins (supervisors and admins).",
    ),
    "agents": _Lazy(
        "agents", "agents_app", OPERATIONS, "Remote agents of the tenant (docs/agents.md)."
    ),
    "secrets": _Lazy(
        "secrets",
        "secrets_app",
        OPERATIONS,
        "Secrets of the tenant, referred to as ${secret:NAME} in plans (docs/secrets.md).",
    ),
    "db": _Lazy("admin", "db_app", SERVER, "Database maintenance (offline, on the data folder)."),
}
#: Every command in the order ``jobplan --help`` lists them within their panels (Typer's:
#: single commands first, then groups).
COMMANDS = (
    *("apply", "export", "import", "nodes", "agent", "version", "serve", "cron"),
    *("plans", "runs", "services", "notifications", "calendars", "users", "keys", "audit"),
    *("agents", "secrets", "db"),
)


def _load(name: str) -> Command:
    """Import the command ``name`` and build it as ``app.command``/``app.add_typer`` would."""
    entry = _LAZY[name]
    target = getattr(importlib.import_module(f"jobplan.cli.{entry.module}"), entry.attribute)
    host = typer.Typer()
    if isinstance(target, typer.Typer):
        if name == "runs":
            from jobplan.cli.backfills import register

            register(target)
        host.add_typer(target, name=name, rich_help_panel=entry.panel)
    else:
        host.command(name, rich_help_panel=entry.panel)(target)
    return typer.main.get_group(host).commands[name]


class _Commands(MutableMapping[str, Command]):
    """The root group's commands: those of this module, and the others imported on first
    access (running one, its ``--help``, completion, or iterating over all of them)."""

    def __init__(self, own: MutableMapping[str, Command]) -> None:
        self._loaded = dict(own)

    def loaded(self, name: str) -> Command | None:
        return self._loaded.get(name)

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in _LAZY:
            self._loaded[name] = _load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))


class _Root(TyperGroup):
    """``jobplan``: lists every command without importing them (see :class:`_Lazy`)."""

    _listing = False

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names: TyperGroup's own reads every command

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        commands = self.commands
        assert isinstance(commands, _Commands)
        if self._listing and cmd_name in _LAZY and commands.loaded(cmd_name) is None:
            entry = _LAZY[cmd_name]
            return TyperCommand(name=cmd_name, help=entry.summary, rich_help_panel=entry.panel)
        return commands.get(cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="jobplan",
    help="jobplan: Quartz-cron-scheduled, dependency-driven job plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Root,
)


def _print_version(value: bool) -> None:
    if value:
        out.print(__version__, highlight=False)
        raise typer.Exit()


@app.callback()
def connection_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the jobplan version and exit.",
        ),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(
            envvar="JOBPLAN_URL",
            help="Server URL (default: the config file's, else http://JOBPLAN_HOST:JOBPLAN_PORT,"
            " i.e. http://127.0.0.1:8080).",
        ),
    ] = None,
    api_key: Annotated[str | None, typer.Option(envvar="JOBPLAN_API_KEY", help="API key.")] = None,
    token: Annotated[str | None, typer.Option(envvar="JOBPLAN_TOKEN", help="Access token.")] = None,
    user: Annotated[str | None, typer.Option(envvar="JOBPLAN_USER", help="User name.")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="JOBPLAN_PASSWORD", help="Password (HTTP Basic).")
    ] = None,
    tenant: Annotated[str | None, typer.Option(envvar="JOBPLAN_TENANT", help="Tenant.")] = None,
    profile: Annotated[
        str, typer.Option(envvar="JOBPLAN_PROFILE", help="Section of the CLI config file.")
    ] = "default",
) -> None:
    """Options for commands that talk to a server; they may also come from the config file
    ~/.config/jobplan/cli.toml ($JOBPLAN_CONFIG)."""

    def make_client() -> ApiClient:
        from jobplan.cli.client import ApiClient, load_connection

        try:
            connection = load_connection(server, api_key, token, user, password, tenant, profile)
        except ValueError as exc:
            raise fail(str(exc)) from exc
        return ApiClient(connection)

    ctx.obj = {"client": make_client}


@app.command("version", rich_help_panel=SERVER)
def version_command() -> None:
    """Print the jobplan version (as jobplan --version)."""
    out.print(__version__, highlight=False)


@app.command(rich_help_panel=SERVER)
def serve(
    host: Annotated[str | None, typer.Option(envvar="JOBPLAN_HOST", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(envvar="JOBPLAN_PORT", help="Bind port.")] = None,
    home: Annotated[
        str | None, typer.Option(envvar="JOBPLAN_HOME", help="Data folder (default ./var).")
    ] = None,
) -> None:
    """Run the server (API, scheduler and UI) until interrupted."""
    from jobplan.logging import configure_logging, get_logger
    from jobplan.service.container import Services
    from jobplan.service.server_lock import ServerLock
    from jobplan.settings import Settings

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if home is not None:
        overrides["home"] = home
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_level, settings.log_format)
    as_json = settings.log_format == "json"
    log = get_logger("jobplan.serve")

    def refuse(message: str) -> typer.Exit:
        if as_json:  # every line on stderr is JSON, errors included
            log.error("server.failed", error=message)
            return typer.Exit(1)
        return fail(message, 1)

    try:
        # before anything is opened: a second server must not touch the first one's jobs
        lock = ServerLock.acquire(settings)
    except JobplanError as exc:
        raise refuse(str(exc)) from exc
    try:
        services = Services.open(settings)
    except JobplanError as exc:
        if lock is not None:
            lock.release()
        raise refuse(str(exc)) from exc
    created = services.bootstrap
    if created is not None and created.password is not None and as_json:
        # a log is collected, kept and shared: the password goes to a private file instead
        path = _write_initial_password(settings, created.password)
        log.warning(
            "admin.created",
            tenant=created.tenant,
            user=created.username,
            password_file=str(path),
            advice="read the password from the file, then delete it",
        )
    elif created is not None and created.password is not None:
        # Printed once, on the console only (never logged); stored only as an argon2 hash.
        err.print(
            line(
                "\n",
                bold("First start: created administrator"),
                f"\n  tenant:   {created.tenant}\n  user:     {created.username}\n"
                f"  password: {created.password}\n"
                "Keep it safe; it is not shown again "
                f"(reset with: jobplan users reset-password {created.username}).\n",
            ),
            highlight=False,
        )
    url = f"http://{settings.host}:{settings.port}"
    if as_json:
        log.info(
            "server.starting",
            version=__version__,
            url=url,
            console_url=f"{url}/",
            docs_url=f"{url}/docs",
            home=str(settings.home),
        )
    else:
        err.print(
            f"jobplan {__version__} serving on {url} (console at {url}/, API docs at {url}/docs)",
            highlight=False,
        )

    try:
        from jobplan.cli.serving import serve_until_stopped

        if not serve_until_stopped(settings, services):
            raise typer.Exit(3)  # as uvicorn.run: the port taken, the application failed
    finally:
        services.close()
        if lock is not None:
            lock.release()


def _write_initial_password(settings: Settings, password: str) -> Path:
    """Keep the first administrator's password in a file only its owner can read."""
    path = settings.ensure_home() / "initial-admin-password"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    return path


@app.command(rich_help_panel=PLANS)
def cron(
    expression: Annotated[
        str, typer.Argument(help="Quartz cron expression, e.g. '0 15 10 ? * 6#3'.")
    ],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone.")] = "UTC",
    count: Annotated[int, typer.Option("--count", "-n", help="How many fire times.")] = 5,
    after: Annotated[
        datetime | None, typer.Option(help="Start instant (default now, UTC).")
    ] = None,
    dst_gap: Annotated[
        str, typer.Option(help="Spring-forward gap: 'skip' (Quartz) or 'run_at_gap_end'.")
    ] = "skip",
    output: OutputOption = Format.TABLE,
) -> None:
    """Preview the next fire times of a Quartz cron expression, with a description."""
    from pydantic import TypeAdapter

    from jobplan.service.cron_preview import CronPreview, preview_cron

    if dst_gap not in ("skip", "run_at_gap_end"):
        raise fail("--dst-gap must be 'skip' or 'run_at_gap_end'")
    gap: Literal["skip", "run_at_gap_end"] = "skip" if dst_gap == "skip" else "run_at_gap_end"
    if after is not None and after.tzinfo is None:
        from datetime import UTC

        after = after.replace(tzinfo=UTC)
    try:
        result = preview_cron(expression, tz, count, after, gap)
    except JobplanError as exc:
        raise fail(str(exc)) from exc
    # the same object as GET /api/v1/cron/preview answers
    emit(output, TypeAdapter(CronPreview).dump_python(result, mode="json"), _cron_text)


def _cron_text(result: dict[str, Any]) -> None:
    from rich.table import Table

    out.print(line(bold(result["expression"]), f"  ({result['timezone']})"), highlight=False)
    out.print(result["description"], highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("next fire time")
    for index, moment in enumerate(result["next_fire_times"], start=1):
        table.add_row(str(index), datetime.fromisoformat(moment).isoformat())
    if not result["next_fire_times"]:
        out.print("no future fire times")
    else:
        out.print(table)


def main() -> None:
    """Console-script entry point (also ``python -m jobplan``: usage lines and the completion
    script name the command ``jobplan``, not ``python -m jobplan``)."""
    app(prog_name="jobplan")
