"""``jobplan agent``: run this machine as a remote agent of a server (docs/agents.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from jobplan.agent.link import AgentRefused
from jobplan.agent.protocol import MAX_SLOTS
from jobplan.agent.runtime import AgentConfig, AgentRuntime
from jobplan.cli.output import fail
from jobplan.logging import configure_logging, get_logger

__all__ = ["agent"]

EXIT_REFUSED = 3
"""Exit code when the server refuses the agent (revoked or wrong key, other protocol)."""


def agent(
    server: Annotated[
        list[str],
        typer.Option(
            "--server",
            envvar="JOBPLAN_AGENT_SERVER",
            help="Server URL (http:// or https://); repeat for the nodes of a cluster: the "
            "agent fails over between them. From the variable: URLs separated by spaces.",
            show_default=False,
        ),
    ],
    key: Annotated[
        str | None,
        typer.Option(
            envvar="JOBPLAN_AGENT_KEY",
            help="The agent's key (jpa_..., from 'jobplan agents create'). Prefer the "
            "variable or --key-file: a command line is visible to every user of the host.",
            show_default=False,
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(envvar="JOBPLAN_AGENT_KEY_FILE", help="A file holding the key (first line)."),
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            envvar="JOBPLAN_AGENT_WORKDIR",
            help="Where jobs without a working_directory run, and what relative ones (and "
            "file jobs' relative paths) are relative to. Default: the current directory.",
        ),
    ] = None,
    slots: Annotated[
        int,
        typer.Option(
            envvar="JOBPLAN_AGENT_SLOTS",
            min=1,
            max=MAX_SLOTS,
            help="Most job runs this agent runs at once.",
        ),
    ] = 4,
    kill_grace_seconds: Annotated[
        float,
        typer.Option(
            envvar="JOBPLAN_AGENT_KILL_GRACE_SECONDS",
            min=0,
            max=3600,
            help="SIGTERM to SIGKILL delay when stopping a job's process group.",
        ),
    ] = 5.0,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            envvar="JOBPLAN_AGENT_CA_FILE",
            help="PEM file of the certificate authorities to trust for https:// servers "
            "(default: the system's and certifi's).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(envvar="JOBPLAN_LOG_LEVEL")] = "INFO",
    log_format: Annotated[
        str, typer.Option(envvar="JOBPLAN_LOG_FORMAT", help="console or json.")
    ] = "console",
) -> None:
    """Run this machine as an agent: claim the job runs routed to it and run them here."""
    servers = _servers(server)
    secret = _key(key, key_file)
    folder = (workdir or Path.cwd()).resolve()
    if not folder.is_dir():
        raise fail(f"--workdir {str(folder)!r} is not a directory")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise fail("--log-level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if log_format not in ("console", "json"):
        raise fail("--log-format must be 'console' or 'json'")
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise fail(f"--ca-file {str(ca_file)!r}: {exc}") from exc
    configure_logging(log_level, log_format)
    for noisy in ("httpx", "httpcore"):  # a line per request (or per step of one) otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = AgentConfig(
        servers=servers,
        key=secret,
        workdir=folder,
        slots=slots,
        kill_grace_seconds=kill_grace_seconds,
        verify=verify,
    )
    log = get_logger("jobplan.agent")
    log.info("agent.starting", servers=servers, workdir=str(folder), slots=slots)
    try:
        asyncio.run(_run(config))
    except AgentRefused as exc:
        log.error("agent.refused", error=str(exc), status=exc.status)
        raise typer.Exit(EXIT_REFUSED) from exc
    log.info("agent.stopped")


async def _run(config: AgentConfig) -> None:
    runtime = AgentRuntime(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runtime.shutdown)
    await runtime.run()


def _servers(urls: list[str]) -> list[str]:
    found: list[str] = []
    for given in urls:
        for url in given.split():
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise fail(f"--server {url!r} is not an http:// or https:// URL")
            if parts.query or parts.fragment:
                raise fail(f"--server {url!r}: give the server's base URL, without ? or #")
            found.append(url.rstrip("/"))
    if not found:
        raise fail("--server is required (or JOBPLAN_AGENT_SERVER)")
    return found


def _key(key: str | None, key_file: Path | None) -> str:
    if key is not None and key_file is not None:
        raise fail("give the key with --key (JOBPLAN_AGENT_KEY) or --key-file, not both")
    if key_file is not None:
        try:
            lines = key_file.read_text().splitlines()
        except OSError as exc:
            raise fail(f"--key-file {str(key_file)!r}: {exc.strerror or exc}") from exc
        key = lines[0].strip() if lines else ""
    if not key:
        raise fail(
            "an agent key is required: JOBPLAN_AGENT_KEY, --key-file or --key "
            "(register the agent with 'jobplan agents create NAME' to get one)"
        )
    key = key.strip()
    if not key.startswith("jpa_") or any(c.isspace() for c in key):
        raise fail(
            "that is not an agent key (they start with 'jpa_'; "
            "'jobplan agents create NAME' prints one)"
        )
    os.environ.pop("JOBPLAN_AGENT_KEY", None)  # not inherited by the jobs' shells
    return key
