"""Plan-wide checks: unique names, known references, no dependency cycles, valid locks."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from jobplan.model import limits
from jobplan.model._errors import ErrorCollector, Loc, format_location
from jobplan.model.condition import JobRef
from jobplan.model.jobs import Job
from jobplan.model.parameter import check_unique_names
from jobplan.model.stage import Lock, Stage

__all__ = ["Located", "check_plan", "walk"]

_MAX_SUGGESTIONS = 20
_MAX_CYCLE_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Located:
    """A job or stage of a plan, with its location and enclosing stages (outermost first)."""

    item: Job | Stage
    loc: Loc
    parents: tuple[Stage, ...]

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def is_stage(self) -> bool:
        return isinstance(self.item, Stage)

    @property
    def stage(self) -> Stage | None:
        """The innermost enclosing stage, or None at the top level of the plan."""
        return self.parents[-1] if self.parents else None


def walk(jobs: Sequence[Job], stages: Sequence[Stage]) -> list[Located]:
    """Every job and stage in document order: top-level jobs, then each stage followed by its
    jobs and, recursively, its sub-stages."""
    found = [Located(job, ("jobs", index), ()) for index, job in enumerate(jobs)]
    pending: list[tuple[Stage, Loc, tuple[Stage, ...]]] = [
        (stage, ("stages", index), ()) for index, stage in reversed(list(enumerate(stages)))
    ]
    while pending:
        stage, loc, parents = pending.pop()
        found.append(Located(stage, loc, parents))
        inside = (*parents, stage)
        found.extend(
            Located(job, (*loc, "jobs", index), inside) for index, job in enumerate(stage.jobs)
        )
        pending.extend(
            (sub, (*loc, "stages", index), inside)
            for index, sub in reversed(list(enumerate(stage.stages)))
        )
    return found


def check_plan(
    jobs: Sequence[Job], stages: Sequence[Stage], locks: Sequence[Lock], errors: ErrorCollector
) -> None:
    """Record every plan-wide problem in ``errors`` (locations relative to the plan)."""
    entries = walk(jobs, stages)
    if not _check_sizes(entries, errors):
        return
    by_name = _check_names(entries, errors)
    references_ok = _check_references(entries, by_name, errors)
    if references_ok and len(by_name) == len(entries):
        _check_cycles(entries, errors)
    check_unique_names(locks, "locks", "lock", errors)
    for index, lock in enumerate(locks):
        _check_lock(index, lock, by_name, errors)


def _check_sizes(entries: list[Located], errors: ErrorCollector) -> bool:
    job_count = sum(1 for entry in entries if not entry.is_stage)
    stage_count = len(entries) - job_count
    if job_count > limits.MAX_JOBS:
        errors.add(
            ("jobs",),
            f"a plan may hold at most {limits.MAX_JOBS} jobs, counting those in stages "
            f"(found {job_count})",
            None,
            error_type="too_many",
        )
    if stage_count > limits.MAX_STAGES:
        errors.add(
            ("stages",),
            f"a plan may hold at most {limits.MAX_STAGES} stages, counting nested ones "
            f"(found {stage_count})",
            None,
            error_type="too_many",
        )
    for entry in entries:
        if entry.is_stage and len(entry.parents) >= limits.MAX_STAGE_DEPTH:
            errors.add(
                entry.loc,
                f"stages may be nested at most {limits.MAX_STAGE_DEPTH} levels deep",
                None,
                error_type="too_deep",
            )
            break
    return not errors


def _kind(entry: Located) -> str:
    return "stage" if entry.is_stage else "job"


def _check_names(entries: list[Located], errors: ErrorCollector) -> dict[str, Located]:
    by_name: dict[str, Located] = {}
    for entry in entries:
        other = by_name.get(entry.name)
        if other is None:
            by_name[entry.name] = entry
            continue
        where = format_location(other.loc)
        if _kind(entry) == _kind(other):
            message = f"duplicate {_kind(entry)} name {entry.name!r} (also {where})"
        else:
            message = (
                f"{_kind(entry)} name {entry.name!r} is already used by the {_kind(other)} "
                f"at {where}; job and stage names share one namespace"
            )
        errors.add((*entry.loc, "name"), message, entry.name, error_type="duplicate_name")
    return by_name


def _suggestion(name: str, by_name: dict[str, Located], *, stage: bool) -> str:
    candidates = [key for key, entry in by_name.items() if entry.is_stage == stage]
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_references(
    entries: list[Located], by_name: dict[str, Located], errors: ErrorCollector
) -> bool:
    problems = 0
    for entry in entries:
        condition = entry.item.depends_on
        if condition is None:
            continue
        reported: set[str] = set()
        for ref in condition.refs():
            if ref.target in reported:
                continue
            target = by_name.get(ref.target)
            wants_stage = not isinstance(ref, JobRef)
            if target is not None and target.is_stage == wants_stage:
                continue
            reported.add(ref.target)
            problems += 1
            wanted = "stage" if wants_stage else "job"
            message = f"unknown {wanted} {ref.target!r}"
            if target is not None and target.is_stage:
                message += f": {ref.target!r} is a stage, so write {{stage: {ref.target}}}"
            elif target is not None:
                message += f": {ref.target!r} is a job, so write {{job: {ref.target}}}"
            elif problems <= _MAX_SUGGESTIONS:
                message += _suggestion(ref.target, by_name, stage=wants_stage)
            errors.add(
                (*entry.loc, "depends_on"), message, ref.target, error_type="unknown_reference"
            )
    return problems == 0


def _check_cycles(entries: list[Located], errors: ErrorCollector) -> None:
    """Find one dependency cycle, if any, and report it with the names along it.

    Besides explicit ``depends_on`` edges, a stage waits for its members, and a member waits
    for whatever its enclosing stages wait for.
    """
    edges: dict[str, list[str]] = {}
    own: dict[str, set[str]] = {}
    for entry in entries:
        condition = entry.item.depends_on
        own[entry.name] = condition.names() if condition is not None else set()
        targets: list[str] = []
        for parent in entry.parents:
            if parent.depends_on is not None:
                targets.extend(ref.target for ref in parent.depends_on.refs())
        if condition is not None:
            targets.extend(ref.target for ref in condition.refs())
        if isinstance(entry.item, Stage):
            targets.extend(job.name for job in entry.item.jobs)
            targets.extend(sub.name for sub in entry.item.stages)
        edges[entry.name] = list(dict.fromkeys(targets))

    cycle = _find_cycle([entry.name for entry in entries], edges)
    if cycle is None:
        return
    located = {entry.name: entry for entry in entries}
    # Start the cycle at a node whose own depends_on names its successor: that is the field
    # a user would edit to break it.
    start = 0
    for index, name in enumerate(cycle):
        if cycle[(index + 1) % len(cycle)] in own[name]:
            start = index
            break
    cycle = cycle[start:] + cycle[:start]
    first = located[cycle[0]]
    shown = [*cycle, cycle[0]]
    if len(shown) > _MAX_CYCLE_SHOWN:
        hidden = len(shown) - _MAX_CYCLE_SHOWN
        shown = [*shown[:10], f"... ({hidden} more)", *shown[-(_MAX_CYCLE_SHOWN - 10) :]]
    text = " -> ".join(shown)
    message = f"dependency cycle: {text}"
    if any(located[name].is_stage for name in cycle):
        message += " (a stage waits for all of its jobs, and they wait for the stage's depends_on)"
    loc = (*first.loc, "depends_on") if first.item.depends_on is not None else first.loc
    errors.add(loc, message, None, error_type="dependency_cycle")


def _find_cycle(order: list[str], edges: dict[str, list[str]]) -> list[str] | None:
    """Iterative depth-first search; returns the nodes of the first cycle met, in order."""
    visiting, done = 1, 2
    state: dict[str, int] = {}
    for root in order:
        if state.get(root):
            continue
        path = [root]
        position = {root: 0}
        stack = [iter(edges[root])]
        state[root] = visiting
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                finished = path.pop()
                del position[finished]
                state[finished] = done
                stack.pop()
            elif state.get(successor) == visiting:
                return path[position[successor] :]
            elif not state.get(successor):
                state[successor] = visiting
                position[successor] = len(path)
                path.append(successor)
                stack.append(iter(edges[successor]))
    return None


def _check_lock(
    index: int, lock: Lock, by_name: dict[str, Located], errors: ErrorCollector
) -> None:
    seen: set[str] = set()
    for position, name in enumerate(lock.jobs):
        loc: Loc = ("locks", index, "jobs", position)
        target = by_name.get(name)
        if target is None:
            message = f"unknown job {name!r}" + _suggestion(name, by_name, stage=False)
            errors.add(loc, message, name, error_type="unknown_reference")
        elif target.is_stage:
            errors.add(
                loc,
                f"{name!r} is a stage; list the jobs that take the lock instead",
                name,
                error_type="unknown_reference",
            )
        elif name in seen:
            errors.add(loc, f"job {name!r} is listed twice", name, error_type="duplicate")
        seen.add(name)
