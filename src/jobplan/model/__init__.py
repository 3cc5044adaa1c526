"""The jobplan domain model: Pydantic documents shared by the REST API, bundles and plan files.

Pure: no I/O. A plan arrives as JSON (API body), YAML (``plan.yaml``) or a bundle entry and is
validated into a :class:`PlanDocument`; invalid documents raise :class:`pydantic.ValidationError`
whose locations name the field (render them with :func:`error_messages`).
"""

from __future__ import annotations

from jobplan.model._checks import Located
from jobplan.model._errors import error_messages, format_location
from jobplan.model._references import STORED as STORED_CONTEXT
from jobplan.model._types import FolderPath, Name
from jobplan.model.calendar import CalendarDays, CalendarDocument
from jobplan.model.condition import And, Condition, JobRef, Not, Or, StageRef, parse_condition
from jobplan.model.diff import Change, ChangeKind, diff_plans
from jobplan.model.enums import (
    DstGap,
    HistoryStrategy,
    HttpMethod,
    JobAction,
    JobKind,
    JobRunStatus,
    MisfirePolicy,
    OnError,
    OverlapPolicy,
    PlanRunStatus,
    Role,
    StartOutcome,
    StartupControl,
)
from jobplan.model.jobs import CommandJob, EventJob, FileJob, HttpJob, Job, StatusSpec, TimeJob
from jobplan.model.parameter import Parameter
from jobplan.model.plan import PlanDocument, plan_path
from jobplan.model.policies import Notifications, Policies
from jobplan.model.schedule import Blackout, CalendarMode, Window
from jobplan.model.semver import SemVer, latest_matching
from jobplan.model.stage import Lock, Stage

__all__ = [
    "STORED_CONTEXT",
    "And",
    "Blackout",
    "CalendarDays",
    "CalendarDocument",
    "CalendarMode",
    "Change",
    "ChangeKind",
    "CommandJob",
    "Condition",
    "DstGap",
    "EventJob",
    "FileJob",
    "FolderPath",
    "HistoryStrategy",
    "HttpJob",
    "HttpMethod",
    "Job",
    "JobAction",
    "JobKind",
    "JobRef",
    "JobRunStatus",
    "Located",
    "Lock",
    "MisfirePolicy",
    "Name",
    "Not",
    "Notifications",
    "OnError",
    "Or",
    "OverlapPolicy",
    "Parameter",
    "PlanDocument",
    "PlanRunStatus",
    "Policies",
    "Role",
    "SemVer",
    "Stage",
    "StageRef",
    "StartOutcome",
    "StartupControl",
    "StatusSpec",
    "TimeJob",
    "Window",
    "diff_plans",
    "error_messages",
    "format_location",
    "latest_matching",
    "parse_condition",
    "plan_path",
]
