"""The fire in the job's context: the values a job starts with, and its resolved references.

When a job run starts, :meth:`FireContexts.prepare` computes

* the run's context (:class:`FireContext`): the fire time it serves, the previous fire of the
  plan's window, what opened it, its tenant, plan and id;
* the environment handed to the executor (parameters with their references resolved, the
  job's own ``environment`` for command jobs, and the ``JOBPLAN_*`` variables);
* for an HTTP job, the job with its URL, headers and body resolved (URL values
  percent-encoded for the part they stand in; JSON bodies resolved string by string).

A manual (or API) run serves the moment it was asked for: its ``scheduled_for`` is its
creation time, and its previous fire the window's last fire before that. Runs of plans without
a window read times in UTC and have no previous fire (``""``).

Namespaced references (``${secret:NAME}``) are resolved through :data:`NamespaceSource` hooks
given to :class:`FireContexts`; a reference nobody resolves fails the job with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from jobplan.engine.blackouts import in_blackout
from jobplan.engine.calendars import FireSchedule, window_schedule
from jobplan.engine.crons import CronCache
from jobplan.model import CommandJob, HttpJob, Job, PlanDocument, Window
from jobplan.model import substitution as sub
from jobplan.store import accounts
from jobplan.store import calendars as calendar_store
from jobplan.store.records import PlanRunRecord

__all__ = [
    "ContextError",
    "FireContext",
    "FireContexts",
    "NamespaceSource",
    "Prepared",
    "previous_fire",
]

NamespaceSource = Callable[[Connection, str], Callable[[str], str]]
"""For one namespace (``secret``): given the open connection and the run's tenant id, the
lookup of a key's value, raising :class:`KeyError` for a key that does not exist (or
:class:`~jobplan.model.substitution.TemplateError` with a reason)."""

#: How far back :func:`previous_fire` looks for the window's previous fire.
_LOOKBACK = timedelta(days=5 * 366)
#: Fires passed over (blacked out) before :func:`previous_fire` gives up.
_MAX_SKIPPED = 10_000
_FIRST_STEP = timedelta(seconds=1)
_CACHE = 10_000
# percent-encode all but unreserved characters and those harmless where the value stands
_SAFE_IN_PATH = "!$'()*,;:@"
_SAFE_IN_QUERY = "/?:@!$'()*,;"


class ContextError(Exception):
    """A job's values cannot be resolved: fails the attempt with :attr:`reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FireContext:
    """What a job knows about the fire it serves."""

    scheduled_for: datetime
    """The fire time, in the window's zone (the ``UTC`` zone without a window)."""
    previous: datetime | None
    """The window's previous fire (same zone), or None."""
    trigger: str
    tenant: str
    plan: str
    plan_run_id: str

    def times(self) -> dict[str, datetime | None]:
        return {
            "scheduled_for": self.scheduled_for,
            "scheduled_for_utc": self.scheduled_for.astimezone(UTC),
            "previous_scheduled_for": self.previous,
        }

    def texts(self) -> dict[str, str]:
        return {
            "trigger": self.trigger,
            "tenant": self.tenant,
            "plan": self.plan,
            "plan_run_id": self.plan_run_id,
        }

    def environment(self) -> dict[str, str]:
        """The ``JOBPLAN_*`` variables of the context."""
        return {
            "JOBPLAN_SCHEDULED_FOR": sub.format_time(self.scheduled_for, None),
            "JOBPLAN_SCHEDULED_FOR_UTC": sub.format_time(self.scheduled_for.astimezone(UTC), None),
            "JOBPLAN_PREVIOUS_SCHEDULED_FOR": sub.format_time(self.previous, None),
            "JOBPLAN_TRIGGER": self.trigger,
            "JOBPLAN_TENANT": self.tenant,
            "JOBPLAN_PLAN": self.plan,
            "JOBPLAN_PLAN_RUN_ID": self.plan_run_id,
        }


@dataclass(frozen=True, slots=True)
class Prepared:
    """A job ready to hand to its executor."""

    job: Job
    """The job; for an HTTP job, with its references resolved."""
    environment: dict[str, str]
    context: FireContext
    secrets: tuple[str, ...] = ()
    """Every value a namespace lookup gave (``${secret:NAME}``): what the job holds that it
    must not show, masked in its output and reasons (:mod:`jobplan.engine.masking`)."""


def previous_fire(window: Window, cron: FireSchedule, before: datetime) -> datetime | None:
    """The window's last fire strictly before ``before`` that is not blacked out (what the
    scheduler would have opened a run for), in the window's zone; None if there is none in
    the last five years (or more than :data:`_MAX_SKIPPED` blacked-out fires come first).
    ``cron`` is the window's schedule with its calendars applied
    (:func:`jobplan.engine.calendars.window_schedule`)."""
    end, step = before, _FIRST_STEP
    for _ in range(_MAX_SKIPPED):
        found = _last_fire_before(cron, end, before - _LOOKBACK, step)
        if found is None:
            return None
        fire, step = found
        if not (window.blackouts and in_blackout(window.blackouts, fire, window.timezone)):
            return fire
        end = fire
    return None


def _last_fire_before(
    cron: FireSchedule, end: datetime, floor: datetime, step: timedelta
) -> tuple[datetime, timedelta] | None:
    """The last fire in ``[floor, end)``, and the look-back that found it: look back
    ``step``, then twice as far each time, then forward to the last fire before ``end``."""
    while True:
        start = max(end - step, floor)
        fire = cron.next_after(start - timedelta(microseconds=1))
        if fire is not None and fire < end:
            while (following := cron.next_after(fire)) is not None and following < end:
                fire = following
            # the next search (past a blacked-out fire) starts from this fire's gap
            return fire, max(_FIRST_STEP, (end - fire) * 2)
        if start <= floor:
            return None
        step *= 2


class FireContexts:
    """Computes :class:`Prepared` jobs, remembering tenant names and previous fires (both
    fixed once known: a tenant is never renamed; a version's window never changes)."""

    def __init__(
        self, crons: CronCache, namespaces: Mapping[str, NamespaceSource] | None = None
    ) -> None:
        self.crons = crons
        self.namespaces: dict[str, NamespaceSource] = dict(namespaces or {})
        self._tenants: dict[str, str] = {}
        self._previous: dict[tuple[str, datetime], datetime | None] = {}
        # by run id: a run's context never changes, and its jobs start one by one
        self._runs: dict[str, tuple[FireContext, dict[str, str]]] = {}

    def _of_run(
        self, conn: Connection, run: PlanRunRecord, document: PlanDocument
    ) -> tuple[FireContext, dict[str, str]]:
        """The run's context and its ``JOBPLAN_*`` variables, remembered."""
        known = self._runs.get(run.id)
        if known is None:
            context = self.context(conn, run, document)
            if len(self._runs) >= _CACHE:
                self._runs.clear()
            known = self._runs[run.id] = (context, context.environment())
        return known

    def context(self, conn: Connection, run: PlanRunRecord, document: PlanDocument) -> FireContext:
        """The context of ``run`` (a plan run of ``document``)."""
        window = document.window
        # (a zone, not datetime.UTC: only scheduled_for_utc is written with a Z)
        zone = ZoneInfo(window.timezone if window is not None else "UTC")
        moment = (run.scheduled_for or run.created_at).replace(microsecond=0)  # to the second
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        previous: datetime | None = None
        if window is not None:
            key = (run.plan_version_id, moment)
            if key in self._previous:
                previous = self._previous[key]
            else:
                cron = self.crons.get(window.cron, window.timezone, window.dst_gap.value)
                days = (
                    calendar_store.days_by_name(conn, run.tenant_id, window.calendars)
                    if window.calendars
                    else {}
                )
                previous = previous_fire(window, window_schedule(window, days, cron), moment)
                if len(self._previous) >= _CACHE:
                    self._previous.clear()
                self._previous[key] = previous
        return FireContext(
            scheduled_for=moment.astimezone(zone),
            previous=previous.astimezone(zone) if previous is not None else None,
            trigger=run.trigger,
            tenant=self._tenant(conn, run.tenant_id),
            plan=run.plan_path,
            plan_run_id=run.id,
        )

    def _tenant(self, conn: Connection, tenant_id: str) -> str:
        name = self._tenants.get(tenant_id)
        if name is None:
            tenant = accounts.get_tenant(conn, tenant_id)
            name = tenant.name if tenant is not None else ""
            if len(self._tenants) >= _CACHE:
                self._tenants.clear()
            self._tenants[tenant_id] = name
        return name

    def prepare(
        self,
        conn: Connection,
        run: PlanRunRecord,
        document: PlanDocument,
        job: Job,
        parameters: Mapping[str, str],
    ) -> Prepared:
        """The job and environment to execute, for ``parameters`` (the run's values with
        the job's stage and own parameters over them). Raises :class:`ContextError` when a
        reference cannot be resolved."""
        context, variables = self._of_run(conn, run, document)
        opened: list[str] = []
        lookups = {
            name: _lazy(source, conn, run.tenant_id, opened)
            for name, source in self.namespaces.items()
        }
        times, texts = context.times(), context.texts()
        resolve = sub.resolver(texts, times, lookups)
        environment: dict[str, str] = {}
        if isinstance(job, CommandJob):
            for name, value in job.environment.items():
                environment[name] = _render(value, resolve, f"environment variable {name!r}")
        values = {
            name: _render(value, resolve, f"parameter {name!r}")
            for name, value in parameters.items()
        }
        environment.update(values)
        environment.update(variables)
        if isinstance(job, HttpJob):
            job = _resolve_http(job, sub.resolver({**values, **texts}, times, lookups))
        return Prepared(job, environment, context, tuple(dict.fromkeys(opened)))


def _lazy(
    source: NamespaceSource, conn: Connection, tenant_id: str, opened: list[str]
) -> Callable[[str], str]:
    """The namespace's lookup, asked for only when a reference needs it; each value it
    gives is added to ``opened``."""
    lookup: list[Callable[[str], str]] = []

    def get(key: str) -> str:
        if not lookup:
            lookup.append(source(conn, tenant_id))
        value = lookup[0](key)
        opened.append(value)
        return value

    return get


def _render(
    text: str, resolve: sub.Resolve, where: str, encode: Callable[[str], str] | None = None
) -> str:
    try:
        return sub.render(text, resolve, encode=encode)
    except sub.TemplateError as exc:
        raise ContextError(f"cannot resolve {where}: {exc}") from None


def _escape(text: str) -> str:
    """``text`` as a value meaning exactly itself (a resolved job stays a valid document)."""
    return text.replace("${", "$${")


def _resolve_http(job: HttpJob, resolve: sub.Resolve) -> HttpJob:
    """``job`` with references resolved; the result holds no reference (its literal ``${``
    are written ``$${``), so it is a valid job that the executor sends as it reads it."""
    changes: dict[str, object] = {}
    if job.url is not None and sub.has_references(job.url):
        changes["url"] = _escape(_resolve_url(job.url, resolve))
    if any(sub.has_references(value) for value in job.headers.values()):
        headers: dict[str, str] = {}
        for name, value in job.headers.items():
            text = _render(value, resolve, f"header {name!r}")
            if any(ch in text for ch in "\r\n\x00"):
                raise ContextError(f"header {name!r}: a value put in it holds a line break or NUL")
            headers[name] = _escape(text)
        changes["headers"] = headers
    if isinstance(job.body, str):
        if sub.has_references(job.body):
            changes["body"] = _escape(_render(job.body, resolve, "body"))
    elif job.body is not None and any(
        sub.has_references(text) for loc, text in job.texts() if loc[0] == "body"
    ):
        changes["body"] = _resolve_json(job.body, resolve, "body")
    return job.model_copy(update=changes) if changes else job


def _resolve_json(value: object, resolve: sub.Resolve, where: str) -> object:
    """A JSON value with its strings resolved (never spliced into JSON text)."""
    if isinstance(value, str):
        return _escape(_render(value, resolve, where))
    if isinstance(value, dict):
        return {key: _resolve_json(item, resolve, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_json(item, resolve, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _resolve_url(url: str, resolve: sub.Resolve) -> str:
    """The URL with each value percent-encoded for the part it stands in: a path segment
    (``/`` and ``?`` encoded too), or the query or fragment (``&``, ``=``, ``+`` and ``#``
    encoded). Only the URL's literal text decides the parts."""
    try:
        template = sub.parse(url)
    except sub.TemplateError as exc:
        raise ContextError(f"cannot resolve url: {exc}") from None
    out: list[str] = []
    in_query = False
    for piece in template.pieces:
        if isinstance(piece, str):
            out.append(piece)
            in_query = in_query or "?" in piece or "#" in piece
            continue
        try:
            value = resolve(piece)
        except sub.TemplateError as exc:
            raise ContextError(f"cannot resolve url: {exc}") from None
        out.append(quote(value, safe=_SAFE_IN_QUERY if in_query else _SAFE_IN_PATH))
    return "".join(out)
