"""Rendering one plan as Ikasan JSON entries plus the ``jobplan`` extension.

Each stage becomes a nested context; each job is listed (``scheduledJobs``) in the context of
the stage that defines it and in every context whose jobs depend on it, as Ikasan does. Its
dependency entry is written only where it is defined, which is how the reader finds it again.
The rendered entries are read back with the reader's own assembler and every field that does
not come back identical is put into the extension: contexts every time, jobs once per shape
in an export (see :mod:`jobplan.bundle._shapes`).
"""

from __future__ import annotations

import re
from collections.abc import Container, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jobplan.bundle._assemble import AssembledPlan, JobFile, assemble_plan
from jobplan.bundle._ext import EXT, extension
from jobplan.bundle._mapping import (
    RESERVED_AGENTS,
    STARTUP_OUT,
    Issues,
    blackouts_to,
    grouping_of,
    parameter_details,
    parameters_to,
    window_to,
)
from jobplan.bundle._shapes import JobShapes, job_shape
from jobplan.bundle.errors import BundleSchemaError
from jobplan.bundle.layout import context_path, job_path
from jobplan.bundle.tokens import Placeholder
from jobplan.model import (
    CommandJob,
    FileJob,
    Job,
    JobRef,
    OverlapPolicy,
    Parameter,
    PlanDocument,
    Stage,
    TimeJob,
)

__all__ = ["RenderOptions", "RenderedEntry", "agent_tokens", "render_plan"]

_PLAN_SKIP = frozenset({"name", "jobs", "stages", "parameters", "folder"})
_STAGE_SKIP = frozenset({"name", "jobs", "stages", "parameters"})
_JOB_SKIP = frozenset({"name", "kind", "parameters"})
_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")
_QUARTZ_DEFAULTS: dict[str, Any] = {
    "ignoreMisfire": True,
    "eager": False,
    "maxEagerCallbacks": 0,
    "passthroughProperties": {},
    "persistentRecovery": True,
    "recoveryTolerance": 1_800_000,
    "dropEventOnBlackout": False,
}


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Which values become placeholders (already resolved to token names)."""

    agent_tokens: Mapping[str, str]
    parameters: bool = False
    context_name: Literal["keep", "token", "env_suffix"] = "keep"


@dataclass(frozen=True, slots=True)
class RenderedEntry:
    """An entry's path and its JSON data (placeholders not yet spelled out)."""

    path: str
    data: dict[str, Any]


def agent_tokens(
    agents: Sequence[str], explicit: Mapping[str, str], enabled: bool
) -> dict[str, str]:
    """Token name per agent: ``agent.name`` when the bundle uses one agent, else
    ``agent.<agent>.name`` each; ``explicit`` overrides; Ikasan's reserved agents are kept."""
    if not enabled:
        return {}
    candidates = sorted({agent for agent in agents if agent not in RESERVED_AGENTS})
    tokens = {agent: explicit[agent] for agent in candidates if agent in explicit}
    rest = [agent for agent in candidates if agent not in tokens]
    used = set(tokens.values())
    if len(rest) == 1 and "agent.name" not in used:
        tokens[rest[0]] = "agent.name"
        return tokens
    for agent in rest:
        slug = _SLUG_RE.sub("_", agent)[:80] or "_"
        name, number = f"agent.{slug}.name", 2
        while name in used:
            name, number = f"agent.{slug}-{number}.name", number + 1
        used.add(name)
        tokens[agent] = name
    return tokens


def _whole(seconds: float | None) -> int:
    return 0 if seconds is None else int(seconds)


class _PlanRenderer:
    def __init__(
        self, plan: PlanDocument, key: str, options: RenderOptions, shapes: JobShapes | None
    ) -> None:
        self.plan = plan
        self.key = key
        self.options = options
        self.shapes = shapes
        self.context_entry = context_path(key)
        self.root_name = self._root_name()
        self.home: dict[str, str] = {}
        """Job name -> name of the context (plan or stage) defining it."""
        self.listed: dict[str, list[str]] = {}
        """Job name -> contexts listing it, outermost first."""
        self.jobs: dict[str, Job] = {}
        self._refs: dict[str, list[str]] = {}
        self._ids: dict[str, str] = {}
        """Job name -> its Ikasan identifier."""
        self.extensions: dict[str, dict[str, Any]] = {}
        """Job name -> its extension, for the jobs read back."""
        self._headers: dict[str, dict[str, Any]] = {}
        """Job name -> the fields every Ikasan form of the job starts with (copied, not
        shared, into entries)."""
        self.locked = {name for lock in plan.locks for name in lock.jobs}
        self.dump = plan.model_dump(mode="json")
        self.dumps: dict[str, dict[str, Any]] = {}
        """Job and stage name -> its ``model_dump(mode="json")``."""
        pending = [self.dump]
        while pending:
            dumped = pending.pop()
            self.dumps.update((item["name"], item) for item in dumped["jobs"])
            self.dumps.update((item["name"], item) for item in dumped["stages"])
            pending.extend(dumped["stages"])
        self.containers: list[PlanDocument | Stage] = [plan]
        """The plan, then every stage in document order."""
        for located in plan.walk():
            if isinstance(located.item, Stage):
                self.containers.append(located.item)
                continue
            job = located.item
            self.jobs[job.name] = job
            self.home[job.name] = located.stage.name if located.stage else plan.name
        for container in self.containers:
            context = self._context_name(container)
            for job in container.jobs:
                self._list(job.name, context)
                for name in self._references(job):
                    if self.home.get(name) != context:
                        self._list(name, context)

    # -- naming ------------------------------------------------------------------------------

    def _root_name(self) -> str:
        name = self.plan.name
        mode = self.options.context_name
        if mode == "token":
            return Placeholder(name, "context.name")
        if mode == "env_suffix":
            base = name[: name.rfind("_")] if "_" in name else name
            return Placeholder(name, "env.name", prefix=f"{base}_")
        return name

    def _context_name(self, container: PlanDocument | Stage) -> str:
        # the plan's own name as the context entry writes it (a placeholder with tokens)
        return self.root_name if container is self.plan else container.name

    def _list(self, job: str, context: str) -> None:
        places = self.listed.setdefault(job, [])
        if context not in places:
            places.append(context)

    def _references(self, job: Job) -> list[str]:
        """The jobs of this plan ``job`` depends on (computed once per job)."""
        if job.depends_on is None:
            return []
        found = self._refs.get(job.name)
        if found is None:
            names = [ref.job for ref in job.depends_on.refs() if isinstance(ref, JobRef)]
            found = self._refs[job.name] = list(
                dict.fromkeys(name for name in names if name in self.home)
            )
        return found

    def agent(self, agent: str) -> str:
        token = self.options.agent_tokens.get(agent)
        return Placeholder(agent, token) if token else agent

    def identifier(self, job: Job) -> str:
        found = self._ids.get(job.name)
        if found is not None:
            return found
        if not job.agent:
            found = job.name
        else:
            plain = f"{job.agent}-{job.name}"
            token = self.options.agent_tokens.get(job.agent)
            found = Placeholder(plain, token, suffix=f"-{job.name}") if token else plain
        self._ids[job.name] = found
        return found

    def _default(self, parameter: Parameter) -> str:
        if self.options.parameters and parameter.per_environment:
            return Placeholder(parameter.default, parameter.name)
        return parameter.default

    def parameters(self, parameters: Sequence[Parameter]) -> list[Any]:
        return parameters_to(parameters, self._default)

    # -- jobs -------------------------------------------------------------------------------

    def _job_header(self, job: Job) -> dict[str, Any]:
        header = self._headers.get(job.name)
        if header is None:
            header = {
                "jobName": job.name,
                "jobDescription": job.description,
                "contextName": self.root_name,
                "startupControlType": STARTUP_OUT[job.startup],
                "identifier": self.identifier(job),
            }
            if job.agent:
                header["agentName"] = self.agent(job.agent)
            self._headers[job.name] = header
        return header

    def scheduled(self, job: Job) -> dict[str, Any]:
        return {
            **self._job_header(job),
            "childContextNames": [],
            "skippedContexts": {},
            "heldContexts": {},
        }

    def job(self, job: Job) -> dict[str, Any]:
        data = {
            **self._job_header(job),
            "childContextNames": list(self.listed.get(job.name, [])),
            "skippedContexts": {},
            "heldContexts": {},
        }
        ext: dict[str, Any] = {}
        if isinstance(job, CommandJob):
            data.update(
                {
                    "commandLine": job.command,
                    "successfulReturnCodes": [str(code) for code in job.success_exit_codes],
                    "minExecutionTime": _whole(job.min_execution_seconds),
                    "maxExecutionTime": _whole(job.max_execution_seconds),
                    "contextParameters": self.parameters(job.parameters),
                    "targetResidingContextOnly": False,
                    "participatesInLock": job.name in self.locked,
                    "jobRepeatable": False,
                }
            )
            if job.working_directory is not None:
                data["workingDirectory"] = job.working_directory
        elif job.parameters:
            ext["contextParameters"] = self.parameters(job.parameters)
        if isinstance(job, TimeJob):
            data.update(
                {
                    "cronExpression": job.cron,
                    "timeZone": job.timezone,
                    **blackouts_to(job.blackouts, job.timezone),
                    **_QUARTZ_DEFAULTS,
                }
            )
        elif isinstance(job, FileJob):
            data.update(
                {
                    "cronExpression": job.poll_cron,
                    "timeZone": job.timezone,
                    **blackouts_to([], job.timezone),
                    **_QUARTZ_DEFAULTS,
                    "filePath": job.path,
                    "filenames": list(job.patterns),
                    "directoryDepth": job.depth,
                    "minFileAgeSeconds": job.min_age_seconds,
                    "includeHeader": False,
                    "includeTrailer": False,
                    "sortByModifiedDateTime": False,
                    "sortAscending": True,
                    "logMatchedFilenames": False,
                    "ignoreFileRenameWhilstScanning": True,
                }
            )
            if job.move_to is not None:
                data["moveDirectory"] = job.move_to
        details = parameter_details(job.parameters)
        if details:
            ext["parameter_details"] = details
        if ext:
            data[EXT] = ext
        return data

    # -- contexts ---------------------------------------------------------------------------

    def _job_leaf(self, condition: Mapping[str, Any]) -> str | None:
        name = condition.get("job")
        return self.identifier(self.jobs[name]) if isinstance(name, str) else None

    def _listed(self, container: PlanDocument | Stage) -> list[str]:
        """The container's jobs, then the jobs they depend on that are defined elsewhere."""
        listed = dict.fromkeys(job.name for job in container.jobs)
        for job in container.jobs:
            listed.update(dict.fromkeys(self._references(job)))
        return list(listed)

    def _dependencies(self, container: PlanDocument | Stage) -> list[dict[str, Any]]:
        dependencies = []
        for job in container.jobs:
            dependency: dict[str, Any] = {"jobIdentifier": self.identifier(job)}
            condition = self.dumps[job.name]["depends_on"]
            grouping = grouping_of(condition, self._job_leaf) if condition else None
            if grouping is not None:
                dependency["logicalGrouping"] = grouping
            dependencies.append(dependency)
        return dependencies

    def _context_dependencies(self, container: PlanDocument | Stage) -> list[dict[str, Any]]:
        siblings = {stage.name for stage in container.stages}

        def stage_leaf(condition: Mapping[str, Any]) -> str | None:
            name = condition.get("stage")
            return name if isinstance(name, str) and name in siblings else None

        dependencies = []
        for stage in container.stages:
            if stage.depends_on is None:
                continue
            grouping = grouping_of(self.dumps[stage.name]["depends_on"], stage_leaf)
            if grouping is not None:
                dependencies.append(
                    {
                        "contextIdentifier": stage.name,
                        "contextDependencyName": stage.name,
                        "logicalGrouping": grouping,
                    }
                )
        return dependencies

    def context(self, container: PlanDocument | Stage) -> dict[str, Any]:
        root = container is self.plan
        data: dict[str, Any] = {
            "name": self.root_name if root else container.name,
            "description": container.description,
            "contexts": [self.context(stage) for stage in container.stages],
            "scheduledJobs": [self.scheduled(self.jobs[name]) for name in self._listed(container)],
            "jobDependencies": self._dependencies(container),
            "contextDependencies": self._context_dependencies(container),
            "jobLocks": self.locks() if root else [],
            "contextParameters": self.parameters(container.parameters),
            **window_to(container.window),
            "treeViewExpandLevel": 1,
            "ableToRunConcurrently": self.plan.policies.overlap is OverlapPolicy.ALLOW,
            "disabled": not container.enabled,
            "quartzScheduleDrivenJobsDisabledForContext": False,
        }
        ext: dict[str, Any] = {"folder": self.plan.folder} if root else {}
        details = parameter_details(container.parameters)
        if details:
            ext["parameter_details"] = details
        if ext:
            data[EXT] = ext
        return data

    def locks(self) -> list[dict[str, Any]]:
        rendered = []
        for lock in self.plan.locks:
            groups: dict[str, list[dict[str, Any]]] = {}
            for name in lock.jobs:
                job = self.jobs[name]
                member = {**self._job_header(job), "lockCount": lock.count}
                groups.setdefault(self.home[name], []).append(member)
            rendered.append(
                {
                    "name": lock.name,
                    "lockCount": lock.count,
                    "jobs": groups,
                    "exclusiveJobLock": False,
                }
            )
        return rendered

    # -- extension --------------------------------------------------------------------------

    def render(self) -> list[RenderedEntry]:
        context = self.context(self.plan)
        jobs = {
            name: RenderedEntry(job_path(self.key, job.kind, name), self.job(job))
            for name, job in self.jobs.items()
        }
        known, new = self._shapes()
        issues = Issues()
        assembled = assemble_plan(
            self.context_entry,
            context,
            [JobFile(entry.path, self.jobs[name].kind, entry.data) for name, entry in jobs.items()],
            issues,
            folder=self.plan.folder,
            skip_jobs=known,
        )
        if issues.problems or assembled is None:
            raise BundleSchemaError(issues.problems)
        self._extend(context, assembled, jobs, known)
        self._extend_known(jobs, known, new)
        entries = [RenderedEntry(self.context_entry, context), *jobs.values()]
        return sorted(entries, key=lambda entry: entry.path)

    def _shapes(self) -> tuple[dict[str, Hashable], dict[str, Hashable]]:
        """The jobs of a shape already read back (by this export) and, of the others, the
        first of each shape (both with their shapes). Without ``self.shapes``: none."""
        known: dict[str, Hashable] = {}
        new: dict[str, Hashable] = {}
        if self.shapes is None:
            return known, new
        pending: set[Hashable] = set()
        for name, job in self.jobs.items():
            shape = job_shape(type(job), self.dumps[name])
            if shape in pending or self.shapes.fields(shape) is not None:
                known[name] = shape
            else:
                pending.add(shape)
                new[name] = shape
        return known, new

    def _extend(
        self,
        context: dict[str, Any],
        assembled: AssembledPlan,
        jobs: dict[str, RenderedEntry],
        known: Container[str],
    ) -> None:
        """Put into the entries what the read-back did not reproduce (the jobs in ``known``
        were not read back)."""
        read_back = assembled.data
        _check_shape(self.plan, read_back)
        plan_ext = extension(
            PlanDocument,
            self.dump,
            read_back,
            skip=_PLAN_SKIP,
        )
        _merge_ext(context, plan_ext)
        contexts = {self.plan.name: context}
        pending = list(zip(self.plan.stages, context["contexts"], read_back["stages"], strict=True))
        while pending:
            stage, rendered, got = pending.pop()
            contexts[stage.name] = rendered
            want = self.dumps[stage.name]
            _merge_ext(rendered, extension(Stage, want, got, skip=_STAGE_SKIP))
            pending.extend(zip(stage.stages, rendered["contexts"], got["stages"], strict=True))
        for got in _jobs_of(read_back):
            name = got["name"]
            if name in known:
                continue
            ext = extension(type(self.jobs[name]), self.dumps[name], got, skip=_JOB_SKIP)
            _merge_ext(jobs[name].data, ext)
            self.extensions[name] = ext

    def _extend_known(
        self,
        jobs: dict[str, RenderedEntry],
        known: dict[str, Hashable],
        new: dict[str, Hashable],
    ) -> None:
        """Teach ``self.shapes`` the new shapes, and give the jobs of known shapes the
        extension fields found for their shape, with their own values."""
        if self.shapes is None:
            return
        for name, shape in new.items():
            self.shapes.learn(shape, tuple(self.extensions[name]))
        for name, shape in known.items():
            fields = self.shapes.fields(shape)
            assert fields is not None, f"job {name!r}: its shape was never read back"
            want = self.dumps[name]
            _merge_ext(jobs[name].data, {field: want[field] for field in fields})


def _merge_ext(data: dict[str, Any], ext: dict[str, Any]) -> None:
    if ext:
        data.setdefault(EXT, {}).update(ext)


def _jobs_of(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pending = [plan]
    while pending:
        container = pending.pop()
        yield from container["jobs"]
        pending.extend(container["stages"])


def _shape(container: PlanDocument | Stage | dict[str, Any]) -> Any:
    if isinstance(container, dict):
        return (
            [job.get("name") for job in container["jobs"]],
            [(stage.get("name"), _shape(stage)) for stage in container["stages"]],
        )
    return (
        [job.name for job in container.jobs],
        [(stage.name, _shape(stage)) for stage in container.stages],
    )


def _check_shape(plan: PlanDocument, read_back: dict[str, Any]) -> None:
    if _shape(plan) != _shape(read_back):  # pragma: no cover - guards the writer's invariants
        raise RuntimeError(f"plan {plan.path!r}: the rendered contexts do not read back as written")


def render_plan(
    plan: PlanDocument, key: str, options: RenderOptions, shapes: JobShapes | None = None
) -> list[RenderedEntry]:
    """The plan's entries (context first, then its jobs by path), with extensions. With
    ``shapes`` (one per export), only one job of each shape is read back to find its
    extension (see :mod:`jobplan.bundle._shapes`); without, every job is."""
    return _PlanRenderer(plan, key, options, shapes).render()
