"""The agent protocol's messages, shared by the server (``api/routers/agent_protocol``) and
the agent process (``agent/runtime``).

Every call is ``POST /api/v1/agent/<name>`` with a JSON body, authenticated by the agent's
key (``Authorization: Bearer jpa_...``); the answer is JSON. The agent only ever dials out,
so everything the server has to tell it (new work, stop requests, job runs it must drop)
travels in answers:

- ``hello``      once per connection: who the agent is, what it still holds;
- ``claim``      long-poll: up to ``free`` job runs to start, and stop requests;
- ``heartbeat``  keeps the agent's leases alive, and carries stop requests too;
- ``output``     live output of running job runs, in numbered chunks (idempotent);
- ``results``    how attempts ended (idempotent: a result sent twice is recorded once).

Time values are ISO 8601 in UTC. Unknown fields are refused (``extra="forbid"``) so a typo
in a hand-written client is a 422, not a silently ignored field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_BATCH",
    "MAX_SLOTS",
    "MAX_WAIT_SECONDS",
    "PROTOCOL_VERSION",
    "Assignment",
    "ClaimAnswer",
    "ClaimRequest",
    "HeartbeatAnswer",
    "HeartbeatRequest",
    "Held",
    "HelloAnswer",
    "HelloRequest",
    "OutputAnswer",
    "OutputChunk",
    "OutputRequest",
    "Refusal",
    "ResultOutcome",
    "ResultsAnswer",
    "ResultsRequest",
    "RunResult",
]

PROTOCOL_VERSION = 1
"""Bumped when a message changes incompatibly; ``hello`` refuses other versions (409)."""
MAX_SLOTS = 1000
"""Most job runs one agent may run at once."""
MAX_BATCH = 1000
"""Most items (chunks, results, held job runs) in one request."""
MAX_WAIT_SECONDS = 30.0
"""Longest a ``claim`` long-poll may wait (proxies commonly cut idle requests at 60 s)."""

_Id = Annotated[str, Field(min_length=1, max_length=64)]
_Text = Annotated[str, Field(max_length=255)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Held(_Message):
    """A job run attempt the agent is running (or has finished but not yet reported)."""

    job_run_id: _Id
    attempt: int = Field(ge=1)


class HelloRequest(_Message):
    """First call of every connection (and after every reconnect)."""

    protocol: int = Field(ge=1, description="PROTOCOL_VERSION the agent speaks")
    host: _Text
    version: Annotated[str, Field(max_length=64)]
    slots: int = Field(ge=1, le=MAX_SLOTS)
    holding: list[Held] = Field(default_factory=list, max_length=MAX_BATCH)


class HelloAnswer(_Message):
    agent_id: str
    name: str
    tenant: str
    labels: list[str]
    lease_seconds: float
    """A held job run whose lease is not renewed within this is resolved by policy."""
    heartbeat_seconds: float
    """How often to call ``heartbeat`` (a third of the lease: two may be missed)."""
    max_wait_seconds: float
    output_limit_bytes: int
    """Most output bytes kept per attempt (as on the server); the agent keeps head and tail."""
    server_version: str
    drop: list[str] = Field(default_factory=list)
    """Held job runs that are no longer this agent's (resolved while it was away): kill them
    and discard their results."""


class ClaimRequest(_Message):
    free: int = Field(ge=0, le=MAX_SLOTS, description="how many job runs the agent can start")
    wait_seconds: float = Field(default=20.0, ge=0, le=MAX_WAIT_SECONDS)


class Assignment(_Message):
    """A job run the agent now holds (its lease runs from the claim)."""

    job_run_id: str
    attempt: int
    plan_run_id: str
    plan: str
    job_name: str
    kind: Literal["command", "file"]
    job: dict[str, Any]
    """The job's document as JSON (``Job`` model); the agent validates it with the model."""
    environment: dict[str, str]
    """Merged parameters (plan, run, job) and ``JOBPLAN_*`` context, as the server's
    executor gets them."""
    timeout_seconds: float | None
    output_limit_bytes: int
    mask: list[str] = Field(default_factory=list)
    """Secret values in ``environment`` (``${secret:NAME}``): the agent masks them as ``***``
    in the output and results it sends (the server masks what it receives too)."""


class ClaimAnswer(_Message):
    assignments: list[Assignment] = Field(default_factory=list)
    stop: list[str] = Field(default_factory=list)
    """Held job runs an operator stopped or killed: cancel them (kill the process group)."""


class HeartbeatRequest(_Message):
    holding: list[Held] = Field(default_factory=list, max_length=MAX_BATCH)


class HeartbeatAnswer(_Message):
    lease_until: str
    stop: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    """As in :class:`HelloAnswer`."""


class OutputChunk(_Message):
    job_run_id: _Id
    attempt: int = Field(ge=1)
    seq: int = Field(ge=0, description="0, 1, 2, ... per attempt; a repeated seq is ignored")
    text: str


class OutputRequest(_Message):
    chunks: list[OutputChunk] = Field(max_length=MAX_BATCH)


class Refusal(_Message):
    job_run_id: str
    reason: str


class OutputAnswer(_Message):
    accepted: int
    refused: list[Refusal] = Field(default_factory=list)
    """Chunks for job runs this agent does not hold: stop sending output for them."""


class RunResult(_Message):
    """How one attempt ended: an :class:`~jobplan.engine.executors.ExecutionResult`, or for a
    file job one poll (``file_found`` set, the other fields unused)."""

    job_run_id: _Id
    attempt: int = Field(ge=1)
    succeeded: bool = False
    reason: str | None = None
    exit_code: int | None = None
    output: str = ""
    """Head and tail of the attempt's output when live output was truncated; else empty."""
    output_truncated: bool = False
    timed_out: bool = False
    file_found: bool | None = None


class ResultsRequest(_Message):
    results: list[RunResult] = Field(max_length=MAX_BATCH)


class ResultOutcome(_Message):
    job_run_id: str
    outcome: Literal["recorded", "refused"]
    reason: str | None = None
    """Why a result was refused (the job run is not held by this agent at that attempt:
    already recorded, or resolved after the agent's lease ran out)."""


class ResultsAnswer(_Message):
    results: list[ResultOutcome]
