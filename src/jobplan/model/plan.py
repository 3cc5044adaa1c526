"""The plan document: one schema for API bodies, bundle files and ``plan.yaml``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

from pydantic import Field, ValidationInfo, model_validator

from jobplan.model import limits
from jobplan.model._base import Document
from jobplan.model._checks import Located, check_plan, walk
from jobplan.model._errors import ErrorCollector
from jobplan.model._references import check_text, checking
from jobplan.model._types import Description, FolderPath, Name, VersionText
from jobplan.model.diff import Change, diff_plans
from jobplan.model.jobs import HttpJob, Job
from jobplan.model.parameter import Parameter, check_unique_names
from jobplan.model.policies import Notifications, Policies
from jobplan.model.schedule import Window
from jobplan.model.stage import Lock, Stage

__all__ = ["PlanDocument", "plan_path"]


def plan_path(folder: str, name: str) -> str:
    """A plan's ``folder/name`` path (just ``name`` at the root): how people refer to it."""
    return f"{folder}/{name}" if folder else name


class PlanDocument(Document):
    """A plan definition: jobs, their dependencies, nested stages, parameters, window, policies.

    Validation checks the whole plan: names are unique (jobs and stages share one namespace,
    across all stages), every dependency and lock names an existing job or stage, and there
    are no dependency cycles. Errors carry the field path, e.g. ``jobs[2].depends_on``.
    """

    name: Name
    """Unique within its folder."""
    folder: FolderPath = ""
    """Path of the folder holding the plan, such as ``finance/eod``; ``""`` is the root."""
    description: Description = ""
    version: VersionText | None = None
    """``MAJOR.MINOR.PATCH``. None: the store assigns the next version when saving."""
    enabled: bool = True
    """A disabled plan's window does not open runs; manual runs are still possible."""
    parameters: list[Parameter] = Field(default_factory=list, max_length=limits.MAX_PARAMETERS)
    """Values given to every job as environment variables."""
    window: Window | None = None
    """When runs open automatically. None: only manual or API-started runs."""
    policies: Policies = Field(default_factory=Policies)
    notifications: Notifications = Field(default_factory=Notifications)
    jobs: list[Job] = Field(default_factory=list, max_length=limits.MAX_JOBS)
    """Top-level jobs."""
    stages: list[Stage] = Field(default_factory=list, max_length=limits.MAX_STAGES)
    """Nested groups of jobs."""
    locks: list[Lock] = Field(default_factory=list, max_length=limits.MAX_LOCKS)
    """Semaphores limiting how many of some jobs run at once (shared across plans by name)."""

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        errors = ErrorCollector()
        check_unique_names(self.parameters, "parameters", "parameter", errors)
        check_plan(self.jobs, self.stages, self.locks, errors)
        if checking(info):
            self._check_http_references(errors)
        errors.raise_if_any(type(self).__name__)
        return self

    def _check_http_references(self, errors: ErrorCollector) -> None:
        """The names HTTP jobs refer to: the context's, or parameters the job sees (the
        plan's, its stages' and its own)."""
        plan_names = {p.name for p in self.parameters}
        for entry in self.walk():
            job = entry.item
            if not isinstance(job, HttpJob):
                continue
            names = set(plan_names).union(
                *({p.name for p in stage.parameters} for stage in entry.parents),
                {p.name for p in job.parameters},
            )
            texts = [(("url",), job.url)] if job.url is not None else []
            for loc, text in [*texts, *job.texts()]:
                check_text(text, (*entry.loc, *loc), errors, parameters=names)

    @property
    def path(self) -> str:
        """``folder/name``, or just ``name`` for a plan at the root."""
        return plan_path(self.folder, self.name)

    def walk(self) -> list[Located]:
        """Every job and stage with its location and enclosing stages, in document order."""
        return walk(self.jobs, self.stages)

    def all_jobs(self) -> Iterator[Job]:
        """Every job, including those in nested stages, in document order."""
        for entry in self.walk():
            if not isinstance(entry.item, Stage):
                yield entry.item

    def all_stages(self) -> Iterator[Stage]:
        """Every stage, including nested ones, in document order."""
        for entry in self.walk():
            if isinstance(entry.item, Stage):
                yield entry.item

    def job_index(self) -> dict[str, Job]:
        """Every job by name (build it once when looking up many)."""
        return {job.name: job for job in self.all_jobs()}

    def find_job(self, name: str) -> Job | None:
        """The job called ``name``, wherever it is, or None."""
        return next((job for job in self.all_jobs() if job.name == name), None)

    def find_stage(self, name: str) -> Stage | None:
        """The stage called ``name``, however deeply nested, or None."""
        return next((stage for stage in self.all_stages() if stage.name == name), None)

    def enclosing_stages(self, name: str) -> tuple[Stage, ...]:
        """The stages around the job or stage ``name``, outermost first.

        Raises :class:`KeyError` if the plan has no job or stage of that name.
        """
        for entry in self.walk():
            if entry.name == name:
                return entry.parents
        raise KeyError(name)

    def diff(self, other: PlanDocument) -> list[Change]:
        """What changes turn this plan into ``other`` (see :func:`diff_plans`)."""
        return diff_plans(self, other)
