"""The agent registry: remote agents a tenant registered, their keys, and whether they are
online.

An agent is registered by name (unique among the tenant's live agents) with labels; the key
made for it is returned once and only its SHA-256 hash is stored (like API keys: the secret
is 256 random bits, so a fast hash is as safe as a slow one). Revoking keeps the row (for
the audit trail and ``list``) and frees the name. Authentication of agent keys lives in
:meth:`~jobplan.service.auth.AuthService.authenticate_agent`.

Whether an agent is *online* is derived, never stored: its last heartbeat is at most one
lease (``JOBPLAN_LEASE_SECONDS``) old. Heartbeats, host, version, slots and the count of
job runs an agent holds are filled by the agent protocol (issue #14 item 1), which does not
exist yet: until it does every agent is offline and holds no job runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic_core import PydanticCustomError
from sqlalchemy import Connection

from jobplan.engine.state import RunState
from jobplan.errors import InvalidInput, NotFound
from jobplan.model import JobKind, PlanDocument
from jobplan.model._types import check_name
from jobplan.service import audit
from jobplan.service.audit import audited, field_changes
from jobplan.service.auth import AGENT_KEY_PREFIX
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.service.security import new_secret, sha256_hex
from jobplan.store import Database
from jobplan.store import agents as store
from jobplan.store import runs as runs_store
from jobplan.store.agents import AgentState
from jobplan.store.records import AgentRecord

__all__ = [
    "LABEL_PREFIX",
    "MAX_LABELS",
    "AgentService",
    "AgentState",
    "AgentStatus",
    "NewAgent",
    "check_agent_name",
    "check_labels",
]

#: A job's ``agent`` naming any agent with a label instead of one agent: ``label:linux``.
LABEL_PREFIX = "label:"
MAX_LABELS = 20
STATES: tuple[AgentState, ...] = ("online", "offline", "revoked")
#: The job kinds an agent runs; the others stay on the server whatever ``agent`` says.
_AGENT_KINDS = frozenset({JobKind.COMMAND, JobKind.FILE})


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """An agent as listed: its record, ``state`` (online, offline or revoked) and how many
    job runs it holds (0 until the agent protocol exists)."""

    record: AgentRecord
    state: AgentState
    running_job_runs: int


@dataclass(frozen=True, slots=True)
class NewAgent:
    """A registered agent; ``key`` is its secret, shown this once and never stored."""

    status: AgentStatus
    key: str


def _grammar(value: str, field: str, what: str) -> str:
    try:
        return check_name(value, what)
    except PydanticCustomError as exc:
        raise InvalidInput(exc.message(), field=field) from None


def check_agent_name(name: str, field: str = "name") -> str:
    """An agent name has the grammar of plan and job names: 1-100 letters, digits, '_', '.'
    and '-' (so ``label:...`` can never be a name)."""
    return _grammar(name, field, "agent name")


def check_labels(labels: list[str], field: str = "labels") -> list[str]:
    """Labels: at most :data:`MAX_LABELS`, each with the grammar of a name; kept sorted,
    without duplicates."""
    if len(labels) > MAX_LABELS:
        raise InvalidInput(f"at most {MAX_LABELS} labels (got {len(labels)})", field=field)
    for index, label in enumerate(labels):
        _grammar(label, f"{field}[{index}]", "label")
    return sorted(set(labels))


class AgentService:
    """Register, list, show and revoke a tenant's agents."""

    def __init__(
        self,
        database: Database,
        lease_seconds: float,
        *,
        state: RunState | None = None,
        unknown_agents: str = "server",
        on_revoked: Callable[[], None] = lambda: None,
    ) -> None:
        """``state``: settles a revoked agent's job runs (by policy); ``unknown_agents``: what
        apply warnings say happens to jobs naming no registered agent (JOBPLAN_UNKNOWN_AGENTS);
        ``on_revoked``: wakes the agent's open long-poll, which then answers 401."""
        self._db = database
        self._lease = timedelta(seconds=lease_seconds)
        self._state = state
        self._unknown_wait = unknown_agents == "wait"
        self._on_revoked = on_revoked

    def _statuses(
        self, conn: Connection, records: list[AgentRecord], now: datetime
    ) -> list[AgentStatus]:
        counts = store.running_counts(conn, [r.id for r in records])
        return [self._status(r, now, counts.get(r.id, 0)) for r in records]

    def _status(self, record: AgentRecord, now: datetime, running: int = 0) -> AgentStatus:
        state: AgentState
        if record.revoked_at is not None:
            state = "revoked"
        elif record.last_heartbeat is not None and record.last_heartbeat >= now - self._lease:
            state = "online"
        else:
            state = "offline"
        return AgentStatus(record, state, running)

    @audited("agent.create", "agent", "name")
    def register(self, caller: Caller, name: str, labels: list[str] | None = None) -> NewAgent:
        """Register an agent; the answer carries its key, which is never shown again."""
        caller.require(Permission.AGENTS_WRITE)
        name = check_agent_name(name)
        labels = check_labels(labels or [])
        agent_id = secrets.token_hex(8)
        secret = new_secret(32)
        with self._db.transaction() as conn:
            record = store.insert_agent(
                conn, agent_id, caller.tenant_id, name, labels, sha256_hex(secret), caller.user_id
            )
            # the agent's fields, never its key or the key's hash
            audit.record(
                conn,
                target_id=agent_id,
                target_path=name,
                changes=field_changes({}, {"name": name, "labels": labels}),
            )
        status = self._status(record, datetime.now(UTC))
        return NewAgent(status, f"{AGENT_KEY_PREFIX}{agent_id}_{secret}")

    def list(
        self, caller: Caller, limit: int = 50, offset: int = 0, *, state: str | None = None
    ) -> Page[AgentStatus]:
        """The tenant's agents by name; ``state`` keeps the online, offline or revoked ones."""
        caller.require(Permission.AGENTS_READ)
        check_page(limit, offset)
        wanted: AgentState | None = None
        if state is not None:
            if state not in STATES:
                raise InvalidInput(f"must be one of {', '.join(STATES)}", field="state")
            wanted = _as_state(state)
        now = datetime.now(UTC)
        with self._db.read() as conn:
            items, total = store.list_agents(
                conn, caller.tenant_id, limit, offset, state=wanted, online_since=now - self._lease
            )
            statuses = self._statuses(conn, items, now)
        return Page(statuses, total, limit, offset)

    def get(self, caller: Caller, ref: str) -> AgentStatus:
        """An agent by id or name (the live one of that name, else the one revoked last)."""
        caller.require(Permission.AGENTS_READ)
        now = datetime.now(UTC)
        with self._db.read() as conn:
            record = self._find(conn, caller, ref)
            return self._statuses(conn, [record], now)[0]

    @audited("agent.revoke", "agent", "ref")
    def revoke(self, caller: Caller, ref: str) -> AgentStatus:
        """Revoke an agent (by id or name): its key stops working at once and its name is
        free to register anew. The row stays, for the audit trail."""
        caller.require(Permission.AGENTS_WRITE)
        now = datetime.now(UTC)
        with self._db.transaction() as conn:
            record = self._find(conn, caller, ref)
            store.revoke_agent(conn, record.id)
            if self._state is not None and record.revoked_at is None:
                # its job runs are settled now, by policy (retried elsewhere, or ERROR
                # "agent edge-1 revoked"); the agent, disconnected, kills what it runs
                held = runs_store.running_owned_by(conn, record.id)
                self._state.recover(conn, held, now, agent_fate="revoked")
                runs_store.release_claims_of(conn, record.id)
            revoked = store.get_agent(conn, record.id)
            assert revoked is not None
            audit.record(
                conn,
                target_id=record.id,
                target_path=record.name,
                changes=field_changes(
                    {"revoked_at": _when(record.revoked_at)},
                    {"revoked_at": _when(revoked.revoked_at)},
                ),
            )
        self._on_revoked()
        return self._status(revoked, datetime.now(UTC))

    def plan_warnings(self, caller: Caller, document: PlanDocument) -> tuple[str, ...]:
        """Warnings for a plan being applied: each command or file job whose ``agent`` names
        no live agent of the caller's tenant (or a label none carries). A warning, never an
        error: plans imported from Ikasan carry its agent names, registered or not."""
        by_target: dict[str, list[str]] = {}
        for job in document.all_jobs():
            if job.agent and job.kind in _AGENT_KINDS:
                by_target.setdefault(job.agent, []).append(job.name)
        unknown = self.unknown_targets(caller.tenant_id, set(by_target))
        unnamed = (
            "they wait until such an agent is registered and connects"
            if self._unknown_wait
            else "they run on the server until one is (JOBPLAN_UNKNOWN_AGENTS=server)"
        )
        return tuple(
            f"jobs {', '.join(by_target[target])}: "
            + (
                f"no registered agent has the label '{target[len(LABEL_PREFIX) :]}'; they "
                "wait until an agent with that label is registered and connects"
                if target.startswith(LABEL_PREFIX)
                else f"no agent '{target}' is registered in tenant '{caller.tenant_name}'; "
                + unnamed
            )
            for target in unknown
        )

    def unknown_targets(self, tenant_id: str, targets: set[str]) -> tuple[str, ...]:
        """Which of the ``agent`` values jobs name (``edge-1`` or ``label:linux``) match no
        live agent of the tenant, sorted: for the warnings of a plan's apply."""
        if not targets:
            return ()
        with self._db.read() as conn:
            names, labels = store.names_of_live_agents(conn, tenant_id)
        return tuple(
            sorted(
                target
                for target in targets
                if (
                    target[len(LABEL_PREFIX) :] not in labels
                    if target.startswith(LABEL_PREFIX)
                    else target not in names
                )
            )
        )

    @staticmethod
    def _find(conn: Connection, caller: Caller, ref: str) -> AgentRecord:
        record = store.get_agent(conn, ref) if len(ref) <= 40 else None
        if record is None or record.tenant_id != caller.tenant_id:
            record = store.get_agent_by_name(conn, caller.tenant_id, ref)
        if record is None:
            raise NotFound("agent", ref)
        return record


def _as_state(state: str) -> AgentState:
    return "online" if state == "online" else "offline" if state == "offline" else "revoked"


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
