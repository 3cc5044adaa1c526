"""A throwaway PostgreSQL cluster for the test session: its own data folder, a loopback port,
run as the ``postgres`` OS user when we are root (initdb and postgres refuse to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

__all__ = ["PostgresCluster"]


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL binaries not found under /usr/lib/postgresql; "
            "run `make test` (it installs the Debian postgresql package)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresCluster:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url(db)`` gives SQLAlchemy URLs."""

    port: int = field(default_factory=_free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jobplan-pg-")))
    process: subprocess.Popen[bytes] | None = None
    #: keep PostgreSQL's durability settings (fsync, synchronous commit, full page writes);
    #: tests turn them off for speed, benchmarks (bench/postgres_bench.py) keep them
    durable: bool = False

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def start(self) -> None:
        bindir = _bin_dir()
        data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        subprocess.run(
            self._as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
        )
        # the port was free when chosen, but another process (a parallel test worker's
        # cluster or server) may take it before postgres binds it: then choose another
        for _attempt in range(5):
            if self._serve():
                return
            self.port = _free_port()
        raise RuntimeError("the test PostgreSQL cluster did not start")

    def resume(self) -> None:
        """Start the server on the cluster's data again (after :meth:`pause`), on the same
        port; wait until it accepts connections."""
        if not self._serve():
            raise RuntimeError("the test PostgreSQL cluster did not start again")

    def _serve(self) -> bool:
        """Start postgres on ``self.port``; ``False`` if it exited (port taken) before
        accepting connections."""
        bindir = _bin_dir()
        data = self.directory / "data"
        self.process = subprocess.Popen(
            self._as_owner(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.directory),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    *(
                        ()
                        if self.durable
                        else (
                            "-c",
                            "fsync=off",
                            "-c",
                            "synchronous_commit=off",
                            "-c",
                            "full_page_writes=off",
                        )
                    ),
                    "-c",
                    "max_connections=200",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                # through this cluster's own socket folder: a cluster of another worker that
                # holds the port must not pass for this one
                with psycopg.connect(
                    host=str(self.directory),
                    port=self.port,
                    user="postgres",
                    dbname="postgres",
                    connect_timeout=2,
                ):
                    return True
            except psycopg.OperationalError:
                if self.process.poll() is not None:
                    return False
                if time.monotonic() > deadline:
                    raise RuntimeError("the test PostgreSQL cluster did not start") from None
                time.sleep(0.05)

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def pause(self) -> None:
        """Shut the server down (fast: open connections are ended), keeping its data."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # "fast" shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
