"""Plan-wide policies (overlap, misfire, retries, history) and notifications."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from jobplan.model import limits
from jobplan.model._base import Document
from jobplan.model._errors import ErrorCollector
from jobplan.model._types import Recipient
from jobplan.model.enums import HistoryStrategy, MisfirePolicy, OnError, OverlapPolicy
from jobplan.model.webhook_template import TemplateError, check_template

__all__ = ["Notifications", "Policies"]

_ONE_DAY = 24 * 3600
_ONE_MONTH = 31 * _ONE_DAY


class Policies(Document):
    """How runs of the plan behave; job fields of the same name override the job defaults."""

    overlap: OverlapPolicy = OverlapPolicy.SKIP
    """What to do when the window fires while a run is still going."""
    on_error: OnError = OnError.HOLD
    """What a run does when it stalls behind a failed job: ``hold`` stays open in ERROR for an
    operator, ``end`` ends it in ERROR."""
    misfire: MisfirePolicy = MisfirePolicy.RUN_ONCE
    """What to do with fire times missed while the scheduler was down."""
    catchup_window_seconds: int = Field(default=3600, ge=0, le=366 * _ONE_DAY)
    """Only fire times missed by less than this are caught up."""
    max_retries: int = Field(default=0, ge=0, le=100)
    """Extra attempts after a job fails (default for every job)."""
    retry_backoff_seconds: int = Field(default=10, ge=0, le=_ONE_DAY)
    """Delay before the first retry; it doubles on each further retry."""
    retry_backoff_max_seconds: int = Field(default=600, ge=0, le=_ONE_DAY)
    """Upper bound of the retry delay."""
    retry_jitter: float = Field(default=0.1, ge=0, le=1)
    """Random fraction added to each retry delay (0.1 = up to 10 % longer)."""
    timeout_seconds: int | None = Field(default=None, ge=1, le=_ONE_MONTH)
    """Kill a job attempt running longer than this (default for every job). None: no limit."""
    history: HistoryStrategy = HistoryStrategy.FULL
    """How much run history to record."""
    retention_days: int = Field(default=30, ge=1, le=3650)
    """How long run history is kept."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        errors = ErrorCollector()
        if self.retry_backoff_max_seconds < self.retry_backoff_seconds:
            errors.add(
                ("retry_backoff_max_seconds",),
                "retry_backoff_max_seconds must not be less than retry_backoff_seconds "
                f"({self.retry_backoff_seconds})",
                self.retry_backoff_max_seconds,
                error_type="range",
            )
        errors.raise_if_any(type(self).__name__)
        return self


Recipients = list[Recipient]


class Notifications(Document):
    """Who hears about runs: email addresses or http(s) webhook URLs (which receive a JSON
    POST describing the run, or the JSON object their template in ``webhook_templates``
    renders)."""

    on_start: Recipients = Field(default_factory=list, max_length=limits.MAX_RECIPIENTS)
    """Told when a run starts (opens, or leaves the overlap queue)."""
    on_failure: Recipients = Field(default_factory=list, max_length=limits.MAX_RECIPIENTS)
    """Told when a run ends in error."""
    on_success: Recipients = Field(default_factory=list, max_length=limits.MAX_RECIPIENTS)
    """Told when a run completes."""
    on_overdue: Recipients = Field(default_factory=list, max_length=limits.MAX_RECIPIENTS)
    """Told when a run passes ``overdue_after_seconds`` or a job its ``max_execution_seconds``."""
    overdue_after_seconds: int | None = Field(default=None, ge=1, le=_ONE_MONTH)
    """A run still going this long after it opened is overdue. None: only job limits apply."""
    webhook_templates: dict[str, str] = Field(
        default_factory=dict, max_length=limits.MAX_RECIPIENTS
    )
    """Body templates by webhook URL (one named above): sandboxed Jinja2 over the message's
    fields that renders the JSON object posted instead of the standard payload."""

    @model_validator(mode="after")
    def _check_templates(self) -> Self:
        errors = ErrorCollector()
        named = {*self.on_start, *self.on_failure, *self.on_success, *self.on_overdue}
        for url, source in self.webhook_templates.items():
            if url not in named or not url.lower().startswith(("http://", "https://")):
                errors.add(
                    ("webhook_templates", url),
                    "not a webhook URL named in on_start, on_failure, on_success or on_overdue",
                    url,
                    error_type="template",
                )
                continue
            try:
                check_template(source)
            except TemplateError as exc:
                errors.add(("webhook_templates", url), str(exc), source, error_type="template")
        errors.raise_if_any(type(self).__name__)
        return self
