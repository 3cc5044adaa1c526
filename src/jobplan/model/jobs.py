"""Jobs: the steps of a plan, one document type per ``kind``.

=========  ==============================================  ==========================
kind       does                                            Ikasan / Volt MX origin
=========  ==============================================  ==========================
command    run a command line or script through the shell  internal job
http       call a URL, or a service operation               Volt MX service call
time       wait for a Quartz cron fire time (a gate)        quartz job
file       wait for matching files in a directory           file job
event      raise, or wait for, a named global event         global job
=========  ==============================================  ==========================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    JsonValue,
    PlainValidator,
    StringConstraints,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)

from jobplan.cron import CronExpression
from jobplan.model import limits, substitution
from jobplan.model._base import Document
from jobplan.model._errors import ErrorCollector, Loc, custom_error, strip_union_tags
from jobplan.model._references import check_text, checking, json_strings, url_problem
from jobplan.model._types import (
    AgentTarget,
    CronText,
    Description,
    EnvName,
    HeaderName,
    HeaderValue,
    Name,
    PathText,
    ShortText,
    TimeZoneName,
    Value,
    is_http_url,
)
from jobplan.model.condition import Condition
from jobplan.model.enums import DstGap, HttpMethod, JobKind, StartupControl
from jobplan.model.parameter import Parameter, check_unique_names
from jobplan.model.schedule import Blackout

__all__ = [
    "CommandJob",
    "EventJob",
    "FileJob",
    "HttpJob",
    "Job",
    "StatusSpec",
    "TimeJob",
]

_ONE_MONTH = 31 * 24 * 3600
_STATUS_CLASS_RE = re.compile(r"[1-5]xx")
_KINDS = tuple(kind.value for kind in JobKind)


class _JobBase(Document):
    """Fields every job has, whatever its kind."""

    name: Name
    """Unique in the plan, across all stages."""
    kind: JobKind
    """What the job does; selects the other fields allowed."""
    description: Description = ""
    startup: StartupControl = StartupControl.AUTOMATIC
    """``automatic``: start when ready; ``manual``: wait for an operator; ``disabled``: never
    run, and count as done for dependants."""
    depends_on: Condition | None = None
    """What must hold before the job may start. None: ready as soon as its stage starts."""
    parameters: list[Parameter] = Field(default_factory=list, max_length=limits.MAX_PARAMETERS)
    """Job-level parameters, added to (or overriding) the plan's and stages'."""
    timeout_seconds: int | None = Field(default=None, ge=1, le=_ONE_MONTH)
    """Kill an attempt running longer than this. None: the plan's policy applies."""
    max_retries: int | None = Field(default=None, ge=0, le=100)
    """Extra attempts after a failure. None: the plan's policy applies."""
    min_execution_seconds: float | None = Field(default=None, ge=0, le=_ONE_MONTH)
    """Flag an attempt that completes sooner than this (suspiciously quick)."""
    max_execution_seconds: float | None = Field(default=None, gt=0, le=_ONE_MONTH)
    """Flag an attempt still running after this as overdue (it is not killed)."""
    agent: AgentTarget | None = None
    """Where a command or file job runs: an agent's name (Ikasan ``agentName``), or
    ``label:<label>`` for any agent with that label. None: on the server. See
    docs/agents.md#routing."""

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        errors = ErrorCollector()
        check_unique_names(self.parameters, "parameters", "parameter", errors)
        if (
            self.min_execution_seconds is not None
            and self.max_execution_seconds is not None
            and self.min_execution_seconds > self.max_execution_seconds
        ):
            errors.add(
                ("max_execution_seconds",),
                "max_execution_seconds must not be less than min_execution_seconds",
                self.max_execution_seconds,
                error_type="range",
            )
        self._check_kind(errors)
        if checking(info):
            self._check_references(errors)
        errors.raise_if_any(type(self).__name__)
        return self

    def _check_kind(self, errors: ErrorCollector) -> None:
        """Kind-specific checks; add problems to ``errors``."""

    def _check_references(self, errors: ErrorCollector) -> None:
        """Check the ``${...}`` references of kind-specific fields (not for stored plans)."""


class CommandJob(_JobBase):
    """Run a command line or multi-line script through the shell on an agent.

    Parameters reach the command only as environment variables (``$region``); they are never
    substituted into the command text, so values cannot inject shell syntax. References in
    values (``${scheduled_for:%Y}``) are resolved before the variables are set.
    """

    kind: Literal[JobKind.COMMAND] = JobKind.COMMAND
    command: Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_COMMAND_CHARS)]
    """Shell command line; may span several lines (a script)."""
    working_directory: PathText | None = None
    """Directory to run in. None: the agent's default."""
    success_exit_codes: list[Annotated[int, Field(ge=0, le=255)]] = Field(
        default_factory=lambda: [0], min_length=1, max_length=256
    )
    """Exit codes that count as success."""
    environment: dict[EnvName, Value] = Field(
        default_factory=dict, max_length=limits.MAX_MAPPING_ITEMS
    )
    """Extra environment variables (parameters with the same name take precedence); values
    may refer to the run's context like parameter values."""

    def _check_references(self, errors: ErrorCollector) -> None:
        for name, value in self.environment.items():
            check_text(value, ("environment", name), errors)

    def _check_kind(self, errors: ErrorCollector) -> None:
        if not self.command.strip():
            errors.add(("command",), "command must not be blank", self.command, error_type="blank")
        elif "\x00" in self.command:
            errors.add(
                ("command",), "command must not contain NUL characters", None, error_type="text"
            )
        seen: set[int] = set()
        for index, code in enumerate(self.success_exit_codes):
            if code in seen:
                errors.add(
                    ("success_exit_codes", index),
                    f"exit code {code} is listed twice",
                    code,
                    error_type="duplicate",
                )
            seen.add(code)


def _parse_status(value: object) -> int | str:
    if isinstance(value, str):
        if _STATUS_CLASS_RE.fullmatch(value):
            return value
        if value.isdigit() and len(value) == 3:
            value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    raise custom_error(
        "http_status",
        f"{value!r} is not an HTTP status: use a code from 100 to 599 or a class such as '2xx'",
    )


StatusSpec = Annotated[
    int | str,
    PlainValidator(_parse_status),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "enum": ["1xx", "2xx", "3xx", "4xx", "5xx"]},
            ]
        }
    ),
]
"""An HTTP status code (``404``) or a class of codes (``"2xx"``)."""


def _check_url_template(value: str, info: ValidationInfo) -> str:
    """An absolute http(s) URL, whose ``${...}`` references (if any) stand after its host."""
    probe = value
    if substitution.has_references(value):
        try:
            pieces = substitution.parse(value).pieces
        except substitution.TemplateError as exc:
            if checking(info):
                raise custom_error("reference", str(exc)) from None
            pieces = (value,)
        problem = url_problem(value) if checking(info) else None
        if problem is not None:
            raise custom_error("reference", problem)
        # each reference stands for some percent-encoded text: check the URL around them
        probe = "".join(piece if isinstance(piece, str) else "x" for piece in pieces)
    if not is_http_url(probe):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise custom_error("url", f"{shown!r} is not an absolute http:// or https:// URL")
    return value


UrlTemplate = Annotated[
    str,
    StringConstraints(max_length=limits.MAX_URL_CHARS),
    AfterValidator(_check_url_template),
]
"""An absolute http(s) URL that may hold references in its path, query and fragment."""


class HttpJob(_JobBase):
    """Call an HTTP endpoint: an absolute ``url``, or a ``service`` + ``operation`` whose base
    URL comes from the tenant's service registry (the Volt MX dialect)."""

    kind: Literal[JobKind.HTTP] = JobKind.HTTP
    method: HttpMethod = HttpMethod.GET
    url: UrlTemplate | None = None
    """Absolute http:// or https:// URL. Give this or ``service``. Its path, query and
    fragment may hold references (``${region}``, ``${scheduled_for:%Y-%m-%d}``), each value
    percent-encoded for where it stands."""
    service: ShortText | None = None
    """Service name in the tenant's registry (Volt MX ``serviceName``)."""
    operation: ShortText | None = None
    """Operation of the service to call (Volt MX ``operationName``)."""
    service_type: ShortText | None = None
    """Volt MX ``serviceType``: ``intSer``, ``objSer`` or ``orchSer``."""
    service_version: ShortText | None = None
    """Version of the service (Volt MX ``version``)."""
    object_name: ShortText | None = None
    """Object of an object service (Volt MX ``objectName``)."""
    security_level: ShortText | None = None
    """Volt MX ``operationSecurityLevel``, such as ``public``."""
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, max_length=limits.MAX_MAPPING_ITEMS
    )
    body: str | dict[str, JsonValue] | None = None
    """Request body: text sent as is, or an object sent as JSON. References are resolved in
    the text, or in the object's string values (never spliced into JSON text)."""
    expected_statuses: list[StatusSpec] = Field(
        default_factory=lambda: list[int | str](["2xx"]), min_length=1, max_length=500
    )
    """Response statuses that count as success: codes (``204``) or classes (``"2xx"``)."""

    def accepts(self, status: int) -> bool:
        """Whether an HTTP response ``status`` counts as success."""
        for spec in self.expected_statuses:
            if spec == status or (isinstance(spec, str) and str(status)[0] == spec[0]):
                return True
        return False

    def texts(self) -> Iterator[tuple[Loc, str]]:
        """Every header value and body string that may hold references, with its location
        (the URL is checked by its type)."""
        for name, value in self.headers.items():
            yield ("headers", name), value
        if isinstance(self.body, str):
            yield ("body",), self.body
        elif self.body is not None:
            yield from json_strings(self.body, ("body",))

    def _check_references(self, errors: ErrorCollector) -> None:
        # names are checked by the plan, which knows the parameters this job sees
        for loc, text in self.texts():
            check_text(text, loc, errors, names=False)

    def _check_kind(self, errors: ErrorCollector) -> None:
        if self.url is None and self.service is None:
            errors.add(
                ("url",), "an http job needs either url or service", None, error_type="missing"
            )
        elif self.url is not None and self.service is not None:
            errors.add(
                ("service",),
                "give either url or service, not both",
                self.service,
                error_type="conflict",
            )
        if self.service is None:
            for field in ("operation", "service_type", "service_version", "object_name"):
                if getattr(self, field) is not None:
                    errors.add(
                        (field,),
                        f"{field} is only allowed together with service",
                        getattr(self, field),
                        error_type="conflict",
                    )
        seen: dict[str, str] = {}
        for header in self.headers:
            folded = header.lower()
            if folded in seen:
                errors.add(
                    ("headers", header),
                    f"header {header!r} duplicates {seen[folded]!r} (names ignore case)",
                    header,
                    error_type="duplicate",
                )
            seen[folded] = header
        body = json.dumps(self.body) if isinstance(self.body, dict) else self.body or ""
        size = len(body)
        if size > limits.MAX_HTTP_BODY_CHARS:
            errors.add(
                ("body",),
                f"body must be at most {limits.MAX_HTTP_BODY_CHARS} characters (got {size})",
                None,
                error_type="too_long",
            )


class TimeJob(_JobBase):
    """A time gate (Ikasan quartz job): done at the next fire time of ``cron``.

    Jobs depending on it wait until then, e.g. "not before 7 am on weekdays".
    """

    kind: Literal[JobKind.TIME] = JobKind.TIME
    cron: CronText
    """Quartz cron expression (seconds first)."""
    timezone: TimeZoneName = "UTC"
    blackouts: list[Blackout] = Field(default_factory=list, max_length=limits.MAX_BLACKOUTS)
    """Fire times inside these periods are skipped."""
    dst_gap: DstGap = DstGap.SKIP

    def schedule(self) -> CronExpression:
        """The cron engine's view of this gate (time zone and DST handling applied)."""
        return CronExpression(self.cron, self.timezone, dst_gap=self.dst_gap.value)


FilePattern = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class FileJob(_JobBase):
    """A file watcher (Ikasan file job): done when files matching ``patterns`` are in ``path``
    and at least ``min_age_seconds`` old (so they are no longer being written)."""

    kind: Literal[JobKind.FILE] = JobKind.FILE
    path: PathText
    """Directory to watch."""
    patterns: list[FilePattern] = Field(min_length=1, max_length=limits.MAX_PATTERNS)
    """File names or glob patterns (``*.csv``); a file matching any of them counts."""
    min_age_seconds: int = Field(default=0, ge=0, le=_ONE_MONTH)
    """Ignore files modified less than this long ago."""
    poll_cron: CronText = "0 * * * * ?"
    """When to look (Quartz cron); the default is every minute."""
    timezone: TimeZoneName = "UTC"
    """Time zone of ``poll_cron``."""
    move_to: PathText | None = None
    """Move matched files to this directory once found. None: leave them."""
    depth: int = Field(default=1, ge=1, le=32)
    """Directory levels to search: 1 is ``path`` only."""

    def _check_kind(self, errors: ErrorCollector) -> None:
        for index, pattern in enumerate(self.patterns):
            if "/" in pattern or "\x00" in pattern:
                errors.add(
                    ("patterns", index),
                    "patterns match file names, so they must not contain '/' (or NUL)",
                    pattern,
                    error_type="pattern",
                )

    def schedule(self) -> CronExpression:
        """The cron engine's view of ``poll_cron``."""
        return CronExpression(self.poll_cron, self.timezone)


class EventJob(_JobBase):
    """A global event (Ikasan global job), shared by plans through its ``event`` name.

    With ``depends_on``, the job raises the event once its dependencies are met. Without, it
    waits until the event is raised (by the API or by an event job in another plan).
    """

    kind: Literal[JobKind.EVENT] = JobKind.EVENT
    event: Name
    """The global event's name."""


def _kind_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("kind")
        return str(kind) if kind in _KINDS else None
    if isinstance(value, _JobBase):
        return value.kind.value
    return None


def _check_kind_field(value: Any) -> Any:
    """Explain a missing or unknown ``kind`` at ``<job>.kind``."""
    if isinstance(value, dict):
        errors = ErrorCollector()
        kind = value.get("kind")
        choices = ", ".join(_KINDS)
        if "kind" not in value:
            errors.add(
                ("kind",), f"missing job kind: use one of {choices}", None, error_type="kind"
            )
        elif kind not in _KINDS:
            errors.add(
                ("kind",),
                f"unknown job kind {kind!r}: use one of {choices}",
                kind,
                error_type="kind",
            )
        errors.raise_if_any("Job")
    return value


Job = Annotated[
    Annotated[
        Annotated[CommandJob, Tag("command")]
        | Annotated[HttpJob, Tag("http")]
        | Annotated[TimeJob, Tag("time")]
        | Annotated[FileJob, Tag("file")]
        | Annotated[EventJob, Tag("event")],
        Discriminator(
            _kind_tag,
            custom_error_type="job",
            custom_error_message="a job is an object with a 'kind' field",
        ),
    ],
    BeforeValidator(_check_kind_field),
    WrapValidator(strip_union_tags(_KINDS)),
]
"""Any job; the ``kind`` field says which."""
