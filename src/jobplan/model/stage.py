"""Stages (nested groups of jobs) and locks."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from jobplan.model import limits
from jobplan.model._base import Document
from jobplan.model._errors import ErrorCollector
from jobplan.model._types import Description, Name
from jobplan.model.condition import Condition
from jobplan.model.jobs import Job
from jobplan.model.parameter import Parameter, check_unique_names
from jobplan.model.schedule import Window

__all__ = ["Lock", "Stage"]


class Stage(Document):
    """A nested group of jobs and stages with its own dependencies (Ikasan nested context).

    A stage starts when its ``depends_on`` holds (and, if it has a window, when that fires
    next); its jobs and sub-stages then start as their own conditions allow. The stage is done
    when all of them are. Conditions may refer to jobs and stages anywhere in the plan.
    """

    name: Name
    """Unique in the plan: no other stage or job has it."""
    description: Description = ""
    enabled: bool = True
    """A disabled stage does not run; it counts as done for dependants."""
    depends_on: Condition | None = None
    """What must hold before any job of the stage may start."""
    parameters: list[Parameter] = Field(default_factory=list, max_length=limits.MAX_PARAMETERS)
    """Parameters for the stage's jobs, added to (or overriding) the plan's."""
    window: Window | None = None
    """Optional time gate for the stage: it starts at the window's next fire time after it
    became ready, and ``ttl_seconds`` bounds how long it may run."""
    jobs: list[Job] = Field(default_factory=list, max_length=limits.MAX_JOBS)
    stages: list[Stage] = Field(default_factory=list, max_length=limits.MAX_STAGES)

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = ErrorCollector()
        check_unique_names(self.parameters, "parameters", "parameter", errors)
        errors.raise_if_any(type(self).__name__)
        return self


class Lock(Document):
    """A named counting semaphore (Ikasan job lock): at most ``count`` of the listed jobs run
    at once. Plans naming the same lock share it, so give it the same count in each."""

    name: Name
    count: int = Field(default=1, ge=1, le=10_000)
    """How many of the jobs may run at the same time."""
    jobs: list[Name] = Field(min_length=1, max_length=limits.MAX_JOBS)
    """Names of this plan's jobs that take the lock while they run."""
    description: Description = ""
