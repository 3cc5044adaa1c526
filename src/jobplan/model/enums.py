"""Enumerations shared by plan documents, runs, the API and the store.

Every enum is a :class:`~enum.StrEnum`, so members compare equal to (and serialise as) their
string values: ``Role.ADMIN == "admin"``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DstGap",
    "HistoryStrategy",
    "HttpMethod",
    "JobAction",
    "JobKind",
    "JobRunStatus",
    "MisfirePolicy",
    "OnError",
    "OverlapPolicy",
    "PlanRunStatus",
    "Role",
    "StartOutcome",
    "StartupControl",
]


class Role(StrEnum):
    """A user's role in a tenant, from most to least powerful.

    Use :meth:`at_least` for permission checks rather than comparing members (string
    comparison would order them alphabetically).
    """

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Power of the role: ``viewer`` 0, ``operator`` 1, ``supervisor`` 2, ``admin`` 3."""
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        """Whether this role has every permission ``other`` has."""
        return self.rank >= other.rank


_ROLE_RANK: dict[Role, int] = {
    Role.VIEWER: 0,
    Role.OPERATOR: 1,
    Role.SUPERVISOR: 2,
    Role.ADMIN: 3,
}


class JobKind(StrEnum):
    """What a job does: the ``kind`` discriminator of a job document."""

    COMMAND = "command"
    """Run a command line (or multi-line script) through the shell on an agent."""
    HTTP = "http"
    """Call an HTTP endpoint (a URL, or a service + operation from the tenant's registry)."""
    TIME = "time"
    """Time gate: complete at the next time matching a Quartz cron expression."""
    FILE = "file"
    """File watcher: complete when matching files arrive in a directory."""
    EVENT = "event"
    """Global event: raise, or wait for, a named event shared by plans."""


class StartupControl(StrEnum):
    """How a job starts once its dependencies are met (Ikasan ``startupControlType``)."""

    AUTOMATIC = "automatic"
    """Start as soon as the dependencies are met."""
    MANUAL = "manual"
    """Wait for an operator to release the job."""
    DISABLED = "disabled"
    """Never run; the job counts as done for the jobs that depend on it."""


class OverlapPolicy(StrEnum):
    """What to do when a window fires while a run of the same plan is still going (Temporal)."""

    SKIP = "skip"
    """Do not start the new run."""
    BUFFER_ONE = "buffer_one"
    """Start one run after the current one ends; later fires while it waits are dropped."""
    BUFFER_ALL = "buffer_all"
    """Queue every fire and start them one after another."""
    CANCEL_OTHER = "cancel_other"
    """Cancel the running run, then start the new one."""
    ALLOW = "allow"
    """Start the new run alongside the running one."""


class MisfirePolicy(StrEnum):
    """What to do with fire times missed while the scheduler was down (Quartz misfires)."""

    SKIP = "skip"
    """Drop missed fires; wait for the next fire time."""
    RUN_ONCE = "run_once"
    """Start one run for all missed fires inside the catch-up window."""
    RUN_ALL = "run_all"
    """Start one run per missed fire inside the catch-up window."""


class OnError(StrEnum):
    """What a plan run does when it stalls behind a failed job."""

    HOLD = "hold"
    """Stay open in ERROR until an operator resets, skips or stops it (Ikasan): the overlap
    policy treats it as still running."""
    END = "end"
    """End in ERROR at once (Airflow's failed DAG run): the next fire starts afresh."""


class HistoryStrategy(StrEnum):
    """How much run history to keep (Volt MX ``historyStrategy``)."""

    OFF = "OFF"
    """Record nothing beyond the current state."""
    MINIMAL = "MINIMAL"
    """Record audit facts: who started what, when, and the final status."""
    ERROR = "ERROR"
    """Record full detail (output, payloads) of failed runs only."""
    FULL = "FULL"
    """Record full detail of every run."""


class HttpMethod(StrEnum):
    """HTTP methods an ``http`` job may use."""

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    HEAD = "HEAD"


class DstGap(StrEnum):
    """What a cron schedule does with fire times that fall in a daylight-saving gap."""

    SKIP = "skip"
    """The local time does not exist that day, so that fire is skipped."""
    RUN_AT_GAP_END = "run_at_gap_end"
    """Fire at the first instant after the gap instead."""


class JobRunStatus(StrEnum):
    """State of one job in a plan run (Ikasan job instance states)."""

    WAITING = "WAITING"
    LOCK_QUEUED = "LOCK_QUEUED"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    KILLED = "KILLED"
    SKIPPED = "SKIPPED"
    ON_HOLD = "ON_HOLD"
    DISABLED = "DISABLED"


class PlanRunStatus(StrEnum):
    """State of a plan run."""

    QUEUED = "QUEUED"
    """A start buffered by the overlap policy until the plan's open run ends; not started."""
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    ENDED = "ENDED"


class StartOutcome(StrEnum):
    """What asking for a new plan run did, under the plan's overlap policy."""

    STARTED = "started"
    QUEUED = "queued"
    """Buffered (``buffer_one``, ``buffer_all``): starts when the open run ends."""
    SKIPPED = "skipped"
    """Refused (``skip``, or ``buffer_one`` with a start already buffered)."""


class JobAction(StrEnum):
    """An operator's action on one job run (see docs/runs.md for where each applies)."""

    HOLD = "hold"
    RELEASE = "release"
    SKIP = "skip"
    UNSKIP = "unskip"
    RESET = "reset"
    ACKNOWLEDGE = "acknowledge"
    KILL = "kill"
