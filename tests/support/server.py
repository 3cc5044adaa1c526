"""A real ``jobplan serve`` in a subprocess, on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

__all__ = ["ServerProcess", "free_port", "jobplan_cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBPLAN_")}
    env.update(
        {
            "COLUMNS": "80",
            "NO_COLOR": "1",
            "JOBPLAN_ARGON2_MEMORY_KIB": "1024",
            "JOBPLAN_ARGON2_TIME_COST": "1",
        }
    )
    env.update(extra)
    return env


def jobplan_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m jobplan ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "jobplan", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env=_base_env(env or {}),
    )


class _PortTaken(Exception):
    pass


@dataclass
class ServerProcess:
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None
    _log: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        # the port was free when chosen, but another process (a parallel test worker's server
        # or PostgreSQL cluster) may take it first: then the server exits, and gets another
        for _attempt in range(4):
            try:
                self._start(timeout)
                return
            except _PortTaken:
                self.port = free_port()
        self._start(timeout)

    def _start(self, timeout: float) -> None:
        self.log_path = self.home.parent / f"server-{self.port}.log"
        self._log = log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobplan",
                "serve",
                "--port",
                str(self.port),
                "--home",
                str(self.home),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=_base_env(self.env),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                if "address already in use" in self.output().lower():
                    raise _PortTaken
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._close_log()

    def kill(self) -> None:
        """``kill -9`` the server (its own process group: uvicorn and all)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
