"""Reading one plan: a context template and its job entries become plan data.

Ikasan lists a job in every context that refers to it (``SampleCommandExecutionJob1`` is in
the root context *and* in ``ScriptProcessingContext``, whose jobs depend on it). jobplan
defines each job once: in the first context, outermost first, that declares the job's own
``jobDependencies`` entry, else in the first context that lists it. Other contexts refer to
it by name.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobplan.bundle._ext import EXT
from jobplan.bundle._mapping import (
    Issues,
    Path,
    condition_from,
    context_fields,
    get_dict,
    get_int,
    get_str,
    job_fields,
    objects,
    parameters_from,
)
from jobplan.bundle.errors import quoted
from jobplan.model import JobKind

__all__ = ["AssembledPlan", "JobFile", "assemble_plan"]

_PLAN_STRUCTURE = frozenset({"name", "jobs", "stages"})
_JOB_STRUCTURE = frozenset({"name", "kind", "jobs", "stages"})
_CONSUMED = frozenset({"parameter_details", "contextParameters"})


@dataclass(frozen=True, slots=True)
class JobFile:
    """A parsed job entry of one plan."""

    entry: str
    kind: JobKind
    data: dict[str, Any]


@dataclass(slots=True)
class AssembledPlan:
    """Plan data ready for validation, with the entry each part came from."""

    data: dict[str, Any]
    entries: dict[Path, str]
    """Location in the plan (``("stages", 0, "jobs", 2)``) -> entry; ``()`` is the context."""

    def entry_for(self, loc: Sequence[str | int]) -> str | None:
        """The entry holding the plan field at ``loc``."""
        for size in range(len(loc), -1, -1):
            entry = self.entries.get(tuple(loc[:size]))
            if entry is not None:
                return entry
        return None


@dataclass(eq=False, slots=True)
class _Context:
    data: dict[str, Any]
    path: Path
    name: str
    parent: _Context | None
    children: list[_Context] = field(default_factory=list)
    scheduled: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    dependencies: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)


class _Assembler:
    def __init__(
        self,
        entry: str,
        files: Sequence[JobFile],
        issues: Issues,
        *,
        token_export: bool,
        skip_jobs: Container[str],
    ) -> None:
        self.entry = entry
        self.files = files
        self.issues = issues
        self.token_export = token_export
        self.skip_jobs = skip_jobs
        self.contexts: list[_Context] = []
        self.by_name: dict[str, _Context] = {}
        self.names: dict[str, str] = {}
        self.file_of: dict[str, JobFile] = {}
        self.defined_in: dict[str, _Context] = {}
        self.groupings: dict[str, list[tuple[_Context, Path, Any]]] = {}
        self.entries: dict[Path, str] = {(): entry}

    # -- structure --------------------------------------------------------------------------

    def walk(self, root: dict[str, Any]) -> None:
        pending: list[tuple[dict[str, Any], Path, _Context | None]] = [(root, (), None)]
        while pending:
            data, path, parent = pending.pop()
            name = get_str(data, "name", self.issues, self.entry, path) or f"?{len(self.contexts)}"
            context = _Context(data, path, name, parent)
            context.scheduled = objects(data, "scheduledJobs", self.issues, self.entry, path)
            context.dependencies = objects(data, "jobDependencies", self.issues, self.entry, path)
            self.contexts.append(context)
            self.by_name.setdefault(name, context)
            if parent is not None:
                parent.children.append(context)
            if len(path) > 2 * 20:
                self.issues.problem(self.entry, path, "contexts are nested too deeply")
                continue
            children = objects(data, "contexts", self.issues, self.entry, path)
            pending.extend((child, child_path, context) for child_path, child in reversed(children))

    def register(self, identifier: str, name: str, where: str, path: Path) -> None:
        known = self.names.setdefault(identifier, name)
        if known != name:
            self.issues.problem(
                where,
                path,
                f"identifier {quoted(identifier)} names both job {quoted(known)} and "
                f"{quoted(name)}",
            )

    def identify(self) -> None:
        for context in self.contexts:
            for path, item in context.scheduled:
                name = get_str(item, "jobName", self.issues, self.entry, path, required=True)
                if name is None:
                    continue
                self.register(_identifier(item, name), name, self.entry, (*path, "identifier"))
        for job_file in self.files:
            name = job_file.data.get("jobName")
            if not isinstance(name, str):
                continue
            other = self.file_of.get(name)
            if other is not None:
                self.issues.problem(
                    job_file.entry,
                    ("jobName",),
                    f"job {quoted(name)} is also defined by {other.entry}",
                )
                continue
            self.file_of[name] = job_file
            self.register(_identifier(job_file.data, name), name, job_file.entry, ("identifier",))

    def resolve_job(self, identifier: str) -> dict[str, str] | None:
        name = self.names.get(identifier)
        if name is not None:
            return {"job": name}
        if identifier in self.file_of:
            return {"job": identifier}
        if identifier in self.by_name:
            return {"stage": identifier}
        return None

    def resolve_stage(self, identifier: str) -> dict[str, str] | None:
        if identifier in self.by_name and self.by_name[identifier].parent is not None:
            return {"stage": identifier}
        return self.resolve_job(identifier)

    def place_jobs(self) -> None:
        listed: dict[str, list[_Context]] = {}
        for context in self.contexts:
            for path, item in context.scheduled:
                name = item.get("jobName")
                if not isinstance(name, str):
                    continue
                if name not in self.file_of:
                    self.issues.problem(
                        self.entry,
                        path,
                        f"there is no job entry (jobs/<kind>/...) for {quoted(name)}",
                    )
                places = listed.setdefault(name, [])
                if context not in places:
                    places.append(context)
            for path, dependency in context.dependencies:
                identifier = get_str(
                    dependency, "jobIdentifier", self.issues, self.entry, path, required=True
                )
                if identifier is None:
                    continue
                target = self.resolve_job(identifier)
                if target is None or "job" not in target:
                    self.issues.problem(
                        self.entry, (*path, "jobIdentifier"), f"unknown job {quoted(identifier)}"
                    )
                    continue
                grouping = dependency.get("logicalGrouping")
                self.groupings.setdefault(target["job"], []).append(
                    (context, (*path, "logicalGrouping"), grouping)
                )
        for name, places in listed.items():
            declared = [context for context, _, _ in self.groupings.get(name, [])]
            self.defined_in[name] = declared[0] if declared else places[0]
            if len({id(context) for context in declared}) > 1:
                where = ", ".join(dict.fromkeys(context.name for context in declared))
                self.issues.warn(
                    self.entry,
                    f"dependencies of job {quoted(name)} are declared in several contexts "
                    f"({where}); jobplan requires all of them",
                )
        for name, job_file in self.file_of.items():
            if name not in listed:
                self.issues.warn(
                    job_file.entry,
                    f"job {quoted(name)} is not listed in any context; it was skipped",
                )

    # -- Ikasan's token-export defect ------------------------------------------------------

    def check_token_defect(self) -> None:
        """Ikasan token exports made before Ikasan compared identifiers overwrote every
        dependency identifier of a context with the context's last job. Recognise it by all
        identifiers naming that job while a job depends on itself or one grouping repeats it."""
        if not self.token_export:
            return
        for context in self.contexts:
            if not context.scheduled or not context.dependencies:
                continue
            last = context.scheduled[-1][1].get("identifier")
            if not isinstance(last, str):
                continue
            leaves: list[str] = []
            suspicious = False
            for _, dependency in context.dependencies:
                own = list(_leaves(dependency.get("logicalGrouping")))
                leaves.extend(own)
                if dependency.get("jobIdentifier") in own or len(own) != len(set(own)):
                    suspicious = True
            if suspicious and leaves and all(leaf == last for leaf in leaves):
                jobs = sorted(
                    {
                        self.names.get(str(dependency.get("jobIdentifier")), "?")
                        for _, dependency in context.dependencies
                        if dependency.get("logicalGrouping") is not None
                    }
                )
                self.issues.warn(
                    self.entry,
                    f"context {quoted(context.name)}: every dependency names "
                    f"{quoted(self.names.get(last, last))}"
                    ", the context's last job. Ikasan token exports made before Ikasan fixed this "
                    "overwrite all dependency identifiers that way, so the dependencies of "
                    f"{', '.join(jobs)} are probably wrong: check them, or export the plan "
                    "again without tokens",
                )

    # -- building plan data ----------------------------------------------------------------

    def extension(
        self, data: dict[str, Any], entry: str, path: Path, forbidden: frozenset[str]
    ) -> dict[str, Any]:
        ext = get_dict(data, EXT, self.issues, entry, path)
        for key in sorted(set(ext) & forbidden):
            self.issues.problem(
                entry, (*path, EXT, key), f"{quoted(key)} cannot be set in the extension"
            )
        return {key: value for key, value in ext.items() if key not in forbidden}

    def stage_conditions(self, context: _Context) -> dict[str, dict[str, Any]]:
        found: dict[str, list[dict[str, Any]]] = {}
        children = {child.name for child in context.children}
        for path, dependency in objects(
            context.data, "contextDependencies", self.issues, self.entry, context.path
        ):
            target = get_str(dependency, "contextIdentifier", self.issues, self.entry, path)
            target = target or get_str(
                dependency, "contextDependencyName", self.issues, self.entry, path
            )
            if target not in children:
                self.issues.problem(
                    self.entry,
                    path,
                    f"{quoted(target)} is not a context inside {quoted(context.name)}",
                )
                continue
            condition = condition_from(
                dependency.get("logicalGrouping"),
                self.resolve_stage,
                self.issues,
                self.entry,
                (*path, "logicalGrouping"),
            )
            if condition is not None:
                found.setdefault(target, []).append(condition)
        return {name: _combine(conditions) for name, conditions in found.items()}

    def build_job(self, name: str, loc: Path) -> dict[str, Any]:
        job_file = self.file_of[name]
        self.entries[loc] = job_file.entry
        job = job_fields(job_file.kind, job_file.data, self.issues, job_file.entry)
        ext = self.extension(job_file.data, job_file.entry, (), _JOB_STRUCTURE)
        source = (
            job_file.data.get("contextParameters")
            if job_file.kind is JobKind.COMMAND
            else ext.get("contextParameters")
        )
        where: Path = (
            ("contextParameters",)
            if job_file.kind is JobKind.COMMAND
            else (EXT, "contextParameters")
        )
        details = ext.get("parameter_details") or {}
        parameters = parameters_from(
            source,
            details if isinstance(details, dict) else {},
            self.issues,
            job_file.entry,
            where,
            (EXT, "parameter_details"),
        )
        if parameters:
            job["parameters"] = parameters
        conditions = []
        dropped: list[str] = []
        for _, path, grouping in self.groupings.get(name, []):
            if grouping is None:
                continue
            condition = condition_from(
                grouping,
                self.resolve_job,
                self.issues,
                self.entry,
                path,
                owner=name,
                dropped=dropped,
            )
            if condition is not None:
                conditions.append(condition)
        if dropped:
            self.issues.warn(
                self.entry,
                f"job {quoted(name)} depends on itself ({', '.join(dropped)}); a job cannot "
                "wait for itself, so that reference was dropped",
            )
        if conditions:
            job["depends_on"] = _combine(conditions)
        job.update({key: value for key, value in ext.items() if key not in _CONSUMED})
        return job

    def build_context(
        self, context: _Context, loc: Path, depends_on: dict[str, Any] | None
    ) -> dict[str, Any]:
        root = context.parent is None
        data = context_fields(context.data, self.issues, self.entry, context.path, root=root)
        ext = self.extension(context.data, self.entry, context.path, _PLAN_STRUCTURE)
        details = ext.get("parameter_details") or {}
        data["parameters"] = parameters_from(
            context.data.get("contextParameters"),
            details if isinstance(details, dict) else {},
            self.issues,
            self.entry,
            (*context.path, "contextParameters"),
            (*context.path, EXT, "parameter_details"),
        )
        if depends_on is not None:
            data["depends_on"] = depends_on
        names = list(
            dict.fromkeys(
                name
                for _, item in context.scheduled
                if isinstance(name := item.get("jobName"), str)
                and name in self.file_of
                and self.defined_in.get(name) is context
            )
        )
        skip = self.skip_jobs
        data["jobs"] = [
            {"name": name} if name in skip else self.build_job(name, (*loc, "jobs", index))
            for index, name in enumerate(names)
        ]
        conditions = self.stage_conditions(context)
        data["stages"] = [
            self.build_context(child, (*loc, "stages", index), conditions.get(child.name))
            for index, child in enumerate(context.children)
        ]
        if root:
            locks = self.locks()
            if locks:
                data["locks"] = locks
        data.update({key: value for key, value in ext.items() if key not in _CONSUMED})
        return data

    def locks(self) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for context in self.contexts:
            for path, lock in objects(
                context.data, "jobLocks", self.issues, self.entry, context.path
            ):
                name = get_str(lock, "name", self.issues, self.entry, path, required=True)
                count = get_int(lock, "lockCount", self.issues, self.entry, path)
                if name is None:
                    continue
                merged = found.setdefault(name, {"name": name, "count": count or 1, "jobs": {}})
                if count is not None and count != merged["count"]:
                    self.issues.problem(
                        self.entry,
                        (*path, "lockCount"),
                        f"lock {quoted(name)} has count {count} here and {merged['count']} "
                        "elsewhere",
                    )
                for group, members in get_dict(lock, "jobs", self.issues, self.entry, path).items():
                    where = (*path, "jobs", group)
                    if not isinstance(members, list):
                        self.issues.problem(self.entry, where, "expected a list of jobs")
                        continue
                    for index, member in enumerate(members):
                        job = self._lock_member(member, (*where, index))
                        if job is not None:
                            merged["jobs"][job] = None
        return [{**lock, "jobs": list(lock["jobs"])} for lock in found.values()]

    def _lock_member(self, member: Any, path: Path) -> str | None:
        if not isinstance(member, dict):
            self.issues.problem(self.entry, path, "expected a job object")
            return None
        name = get_str(member, "jobName", self.issues, self.entry, path)
        if name is None:
            identifier = get_str(member, "identifier", self.issues, self.entry, path, required=True)
            name = self.names.get(identifier) if identifier is not None else None
        if name is None:
            self.issues.problem(self.entry, path, "the lock names no known job")
        return name


def _identifier(item: dict[str, Any], name: str) -> str:
    identifier = item.get("identifier")
    if isinstance(identifier, str):
        return identifier
    agent = item.get("agentName")
    return f"{agent}-{name}" if isinstance(agent, str) and agent else name


def _leaves(grouping: Any) -> Iterator[str]:
    if not isinstance(grouping, dict):
        return
    for operator in ("and", "or", "not"):
        items = grouping.get(operator)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("logicalGrouping") is not None:
                yield from _leaves(item["logicalGrouping"])
            elif isinstance(item.get("identifier"), str):
                yield item["identifier"]


def _combine(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    unique: list[dict[str, Any]] = []
    for condition in conditions:
        if condition not in unique:
            unique.append(condition)
    return unique[0] if len(unique) == 1 else {"and": unique}


def assemble_plan(
    entry: str,
    root: Any,
    files: Sequence[JobFile],
    issues: Issues,
    *,
    folder: str = "",
    token_export: bool = False,
    skip_jobs: Container[str] = frozenset(),
) -> AssembledPlan | None:
    """Plan data for the context template ``root`` (parsed ``entry``) and its job entries.

    Problems and warnings go to ``issues``; returns None if the context is not even an object.
    The jobs named in ``skip_jobs`` are listed, identified and placed like the others, but
    their fields are not mapped: only their names are returned (``{"name": ...}``). The writer
    reads back one job of each shape (see :mod:`jobplan.bundle._shapes`).
    """
    if not isinstance(root, dict):
        issues.problem(entry, (), "a context template must be a JSON object")
        return None
    assembler = _Assembler(entry, files, issues, token_export=token_export, skip_jobs=skip_jobs)
    assembler.walk(root)
    assembler.identify()
    assembler.place_jobs()
    assembler.check_token_defect()
    data = {"folder": folder}
    data.update(assembler.build_context(assembler.contexts[0], (), None))
    return AssembledPlan(data, assembler.entries)
