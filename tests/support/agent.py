"""A real ``jobplan agent`` in a subprocess, and helpers to register agents on a server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from support.api import wait_for

__all__ = ["AgentProcess", "register_agent"]


def register_agent(client: httpx.Client, name: str, *labels: str) -> str:
    """Register agent ``name`` through the API; returns its key."""
    created = client.post("/api/v1/agents", json={"name": name, "labels": list(labels)})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


@dataclass
class AgentProcess:
    """``python -m jobplan agent`` with its key in ``JOBPLAN_AGENT_KEY``, logging to a file
    beside its working folder."""

    servers: list[str]
    key: str
    workdir: Path
    slots: int = 4
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    _log: IO[str] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir.parent / f"{self.workdir.name}-agent.log"

    def start(self, *, connected: bool = True) -> AgentProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBPLAN_")}
        env |= {"JOBPLAN_AGENT_KEY": self.key, "JOBPLAN_LOG_FORMAT": "json", "NO_COLOR": "1"}
        argv = [sys.executable, "-m", "jobplan", "agent", "--workdir", str(self.workdir)]
        for url in self.servers:
            argv += ["--server", url]
        argv += ["--slots", str(self.slots), "--kill-grace-seconds", "1", *self.extra]
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, text=True, env=env
        )
        if connected:
            self.wait_connected(1)
        return self

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_connected(self, times: int, timeout: float = 30) -> None:
        """Wait until the agent has said hello ``times`` times (1: its first connection)."""

        def connected() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"agent exited early:\n{self.output()}")
            return self.output().count('"agent.connected"') >= times

        wait_for(connected, timeout, f"agent hello #{times}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self._close()
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
