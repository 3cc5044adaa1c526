"""The agent registry: one row per registered agent; only the hash of its key is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Connection, func, select, update

from jobplan.store._util import as_values, mapped, unique_violation_as, utcnow
from jobplan.store.records import AgentRecord
from jobplan.store.tables import agents, job_runs

__all__ = [
    "AgentState",
    "get_agent",
    "get_agent_by_name",
    "insert_agent",
    "list_agents",
    "names_by_id",
    "names_of_live_agents",
    "online_targets",
    "record_contact",
    "revoke_agent",
    "running_counts",
]

#: What :func:`list_agents` filters by: heard from within the lease, not, or revoked.
AgentState = Literal["online", "offline", "revoked"]


def insert_agent(
    conn: Connection,
    agent_id: str,
    tenant_id: str,
    name: str,
    labels: list[str],
    key_hash: str,
    created_by: str | None,
) -> AgentRecord:
    """Register an agent; :class:`~jobplan.errors.AlreadyExists` when a live agent of the
    tenant has the name."""
    record = AgentRecord(
        agent_id,
        tenant_id,
        name,
        labels,
        key_hash,
        utcnow(),
        created_by,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    with unique_violation_as("agent", name):
        conn.execute(agents.insert().values(**as_values(record)))
    return record


def get_agent(conn: Connection, agent_id: str) -> AgentRecord | None:
    return mapped(AgentRecord, conn.execute(select(agents).where(agents.c.id == agent_id)).first())


def get_agent_by_name(conn: Connection, tenant_id: str, name: str) -> AgentRecord | None:
    """The tenant's live agent of that name, else the one of that name revoked last."""
    row = conn.execute(
        select(agents)
        .where(agents.c.tenant_id == tenant_id, agents.c.name == name)
        .order_by(agents.c.revoked_at.is_not(None), agents.c.revoked_at.desc())
        .limit(1)
    ).first()
    return mapped(AgentRecord, row)


def _state_condition(state: AgentState, online_since: datetime) -> ColumnElement[bool]:
    if state == "revoked":
        return agents.c.revoked_at.is_not(None)
    heard = agents.c.last_heartbeat >= online_since
    if state == "online":
        return agents.c.revoked_at.is_(None) & heard
    return agents.c.revoked_at.is_(None) & (agents.c.last_heartbeat.is_(None) | ~heard)


def list_agents(
    conn: Connection,
    tenant_id: str,
    limit: int,
    offset: int,
    *,
    state: AgentState | None = None,
    online_since: datetime | None = None,
) -> tuple[list[AgentRecord], int]:
    """A tenant's agents by name (revoked ones after the live ones of the same name);
    ``state`` keeps those online (a heartbeat at or after ``online_since``), offline or
    revoked."""
    condition: ColumnElement[bool] = agents.c.tenant_id == tenant_id
    if state is not None:
        if online_since is None:
            raise ValueError("filtering by state needs online_since")
        condition = condition & _state_condition(state, online_since)
    rows = conn.execute(
        select(agents)
        .where(condition)
        .order_by(
            agents.c.name, agents.c.revoked_at.is_not(None), agents.c.revoked_at.desc(), agents.c.id
        )
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(select(func.count()).select_from(agents).where(condition)).scalar_one()
    return [AgentRecord(**r._mapping) for r in rows], total


def names_of_live_agents(conn: Connection, tenant_id: str) -> tuple[set[str], set[str]]:
    """The names and the labels of a tenant's agents that are not revoked."""
    rows = conn.execute(
        select(agents.c.name, agents.c.labels).where(
            agents.c.tenant_id == tenant_id, agents.c.revoked_at.is_(None)
        )
    )
    names: set[str] = set()
    labels: set[str] = set()
    for name, agent_labels in rows:
        names.add(name)
        labels.update(agent_labels or [])
    return names, labels


def revoke_agent(conn: Connection, agent_id: str) -> None:
    conn.execute(
        update(agents)
        .where(agents.c.id == agent_id, agents.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def record_contact(
    conn: Connection,
    agent_id: str,
    now: datetime,
    *,
    host: str | None = None,
    version: str | None = None,
    slots: int | None = None,
    connected: bool = False,
) -> None:
    """The agent was heard from now; ``connected``: it said hello (host, version, slots)."""
    values: dict[str, object] = {"last_heartbeat": now}
    if connected:
        values.update(host=host, version=version, slots=slots, connected_since=now)
    conn.execute(update(agents).where(agents.c.id == agent_id).values(**values))


def names_by_id(conn: Connection, agent_ids: set[str]) -> dict[str, str]:
    """The names of the agents of these ids (ids of no agent, e.g. nodes', are absent)."""
    if not agent_ids:
        return {}
    rows = conn.execute(select(agents.c.id, agents.c.name).where(agents.c.id.in_(agent_ids)))
    return {row.id: row.name for row in rows}


def running_counts(conn: Connection, agent_ids: list[str]) -> dict[str, int]:
    """How many RUNNING job runs each agent holds (agents holding none are absent)."""
    if not agent_ids:
        return {}
    rows = conn.execute(
        select(job_runs.c.owner_node, func.count())
        .where(job_runs.c.owner_node.in_(agent_ids), job_runs.c.status == "RUNNING")
        .group_by(job_runs.c.owner_node)
    )
    return {owner: int(count) for owner, count in rows}


def online_targets(conn: Connection, tenant_ids: set[str], since: datetime) -> set[tuple[str, str]]:
    """``(tenant_id, target)`` pairs some live agent heard from since ``since`` takes: its
    name, and ``label:<label>`` for each of its labels."""
    if not tenant_ids:
        return set()
    rows = conn.execute(
        select(agents.c.tenant_id, agents.c.name, agents.c.labels).where(
            agents.c.tenant_id.in_(tenant_ids),
            agents.c.revoked_at.is_(None),
            agents.c.last_heartbeat >= since,
        )
    )
    out: set[tuple[str, str]] = set()
    for tenant_id, name, labels in rows:
        out.add((tenant_id, name))
        out.update((tenant_id, f"label:{label}") for label in labels or [])
    return out
