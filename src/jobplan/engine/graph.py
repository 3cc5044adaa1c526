"""Dependency structure of one plan version, and the rules that read job-run statuses.

Pure code: given the statuses of a plan run's job runs, says which jobs may start and what
the plan run's status is. The runner calls it on every job-run transition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobplan.model import (
    And,
    Condition,
    Job,
    JobRef,
    JobRunStatus,
    Lock,
    Not,
    Or,
    PlanDocument,
    PlanRunStatus,
    Stage,
    StageRef,
    StartupControl,
    Window,
)

__all__ = ["DONE", "FAILED", "RunGraph", "graph_shape"]

#: A job in one of these states counts as done for the jobs that depend on it.
DONE = frozenset({JobRunStatus.COMPLETE, JobRunStatus.SKIPPED, JobRunStatus.DISABLED})
#: Failed states: the plan run cannot complete until an operator acts (reset or skip).
FAILED = frozenset({JobRunStatus.ERROR, JobRunStatus.KILLED})
_BUSY = frozenset({JobRunStatus.RUNNING, JobRunStatus.LOCK_QUEUED})


@dataclass(frozen=True, slots=True)
class _JobNode:
    job: Job
    conditions: tuple[Condition, ...]  # its own depends_on and every enclosing stage's
    disabled: bool  # startup disabled, or inside a disabled stage
    locks: tuple[Lock, ...]
    parameters: dict[str, str]  # stage values (outer to inner), then the job's own
    window: Window | None  # the innermost enclosing stage's window, if any


#: The job kinds an agent runs; the others stay on the server whatever ``agent`` says.
_AGENT_KINDS = frozenset({"command", "file"})
#: ``job_runs.agent``'s width: ``label:`` and a name (a longer plain name names no agent).
_AGENT_CHARS = 108


def _route(job: Job) -> tuple[str, str | None]:
    """A job's kind, and the agent target its job runs carry (None: the server runs it)."""
    kind = job.kind.value
    agent = job.agent
    if agent is None or kind not in _AGENT_KINDS:
        return kind, None
    return kind, agent[:_AGENT_CHARS]


def graph_shape(document: Mapping[str, Any]) -> bytes:
    """A digest of what a :class:`RunGraph` is built from (a stored document's jobs, stages
    and locks, as JSON): versions of different plans with the same shape settle a new run
    alike, whatever their names, windows and policies."""
    parts = [document.get(key) for key in ("jobs", "stages", "locks")]
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class RunGraph:
    """Precomputed view of a plan version: jobs, their conditions, stages and locks."""

    def __init__(self, document: PlanDocument, shape: bytes | None = None) -> None:
        self.document = document
        #: :func:`graph_shape` of the stored document, when the graph was loaded from one
        #: (the scheduler settles one new run per shape and copies it to the others); None
        #: when not known: then the graph shares with no other
        self.shape = shape
        self.jobs: dict[str, _JobNode] = {}
        self.stage_members: dict[str, frozenset[str]] = {}
        locks_by_job: dict[str, list[Lock]] = {}
        for lock in document.locks:
            for name in lock.jobs:
                locks_by_job.setdefault(name, []).append(lock)
        self._add(document.jobs, document.stages, (), False, locks_by_job, {}, None)
        #: each job's kind and where its job runs go (``job_runs.agent``), computed once per
        #: version: opening a run copies them without looking at the jobs again
        self.routes: dict[str, tuple[str, str | None]] = {
            name: _route(node.job) for name, node in self.jobs.items()
        }

    def _add(
        self,
        jobs: list[Job],
        stages: list[Stage],
        inherited: tuple[Condition, ...],
        disabled: bool,
        locks_by_job: Mapping[str, list[Lock]],
        parameters: dict[str, str],
        window: Window | None,
    ) -> set[str]:
        members: set[str] = set()
        for job in jobs:
            own = (job.depends_on,) if job.depends_on is not None else ()
            values = dict(parameters)
            values.update({p.name: p.default or "" for p in job.parameters})
            self.jobs[job.name] = _JobNode(
                job,
                inherited + own,
                disabled or job.startup == StartupControl.DISABLED,
                tuple(locks_by_job.get(job.name, ())),
                values,
                window,
            )
            members.add(job.name)
        for stage in stages:
            own = (stage.depends_on,) if stage.depends_on is not None else ()
            values = dict(parameters)
            values.update({p.name: p.default or "" for p in stage.parameters})
            inner = self._add(
                stage.jobs,
                stage.stages,
                inherited + own,
                disabled or not stage.enabled,
                locks_by_job,
                values,
                stage.window or window,
            )
            self.stage_members[stage.name] = frozenset(inner)
            members |= inner
        return members

    # --- opening a run --------------------------------------------------------------------

    def initial_status(self, name: str, disabled_jobs: frozenset[str]) -> JobRunStatus:
        """Status a job run starts in: DISABLED, ON_HOLD (manual start) or WAITING."""
        node = self.jobs[name]
        if node.disabled or name in disabled_jobs:
            return JobRunStatus.DISABLED
        if node.job.startup == StartupControl.MANUAL:
            return JobRunStatus.ON_HOLD
        return JobRunStatus.WAITING

    # --- evaluation -----------------------------------------------------------------------

    def holds(self, condition: Condition, statuses: Mapping[str, str]) -> bool:
        """Whether ``condition`` is true for the given job statuses."""
        if isinstance(condition, JobRef):
            return statuses.get(condition.job) in DONE
        if isinstance(condition, StageRef):
            return all(statuses.get(m) in DONE for m in self.stage_members[condition.stage])
        if isinstance(condition, And):
            return all(self.holds(c, statuses) for c in condition.operands())
        if isinstance(condition, Or):
            return any(self.holds(c, statuses) for c in condition.operands())
        if isinstance(condition, Not):
            return not self.holds(condition.operands()[0], statuses)
        raise TypeError(f"unknown condition {condition!r}")

    def may_start(self, name: str, statuses: Mapping[str, str]) -> bool:
        """Whether every condition on job ``name`` holds."""
        return all(self.holds(c, statuses) for c in self.jobs[name].conditions)

    def locks_of(self, name: str) -> tuple[Lock, ...]:
        return self.jobs[name].locks

    def outcome(
        self, statuses: Mapping[str, str], armed: frozenset[str]
    ) -> tuple[PlanRunStatus, list[str]]:
        """The plan run's status, and the WAITING jobs that can never start now.

        ``armed`` are WAITING jobs whose conditions were met (ready, retrying, or waiting on a
        time gate, a file or an event). The run is RUNNING while anything is running, armed,
        queued on a lock or held; COMPLETE when every job is done; ERROR when it is stalled
        behind a failed job (an operator may reset or skip it). A run stalled with no failure
        (conditions such as ``not`` that can no longer hold) completes, and the stuck jobs are
        returned so the caller marks them SKIPPED.
        """
        if all(status in DONE for status in statuses.values()):
            return PlanRunStatus.COMPLETE, []
        for name, status in statuses.items():
            if status in _BUSY or status == JobRunStatus.ON_HOLD:
                return PlanRunStatus.RUNNING, []
            if status == JobRunStatus.WAITING and name in armed:
                return PlanRunStatus.RUNNING, []
        if any(status in FAILED for status in statuses.values()):
            return PlanRunStatus.ERROR, []
        stuck = sorted(n for n, s in statuses.items() if s == JobRunStatus.WAITING)
        return PlanRunStatus.COMPLETE, stuck

    # --- re-runs --------------------------------------------------------------------------

    def downstream(self, names: frozenset[str] | set[str]) -> frozenset[str]:
        """``names`` and every job that depends on one of them, transitively: through its own
        ``depends_on`` or an enclosing stage's, where a stage reference stands for the stage's
        jobs (any reference counts, ``not`` included)."""
        dependents: dict[str, set[str]] = {}
        for name, node in self.jobs.items():
            for condition in node.conditions:
                for upstream in self._references(condition):
                    dependents.setdefault(upstream, set()).add(name)
        found = set(names)
        todo = list(names)
        while todo:
            for dependent in dependents.get(todo.pop(), ()):
                if dependent not in found:
                    found.add(dependent)
                    todo.append(dependent)
        return frozenset(found)

    def _references(self, condition: Condition) -> set[str]:
        if isinstance(condition, JobRef):
            return {condition.job}
        if isinstance(condition, StageRef):
            return set(self.stage_members.get(condition.stage, ()))
        return {name for operand in condition.operands() for name in self._references(operand)}
