"""Which messages a run's start or outcome calls for (the plan's ``notifications``), as
outbox rows. A webhook with a template in ``webhook_templates`` gets the JSON object its
template renders from the standard payload; a template that fails to render makes a message
already ``failed``, whose ``last_error`` says why (it is never sent half-made).

They are written in the same transaction as the state change they describe, so a message is
never lost to a crash and never sent about a change that was rolled back; the engine's
notifier delivers them afterwards (see :mod:`jobplan.engine.delivery`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jobplan.model import Notifications
from jobplan.model.webhook_template import TemplateError, render_template
from jobplan.store.notifications import FAILED, PENDING
from jobplan.store.records import JobRunRecord, NotificationRecord, PlanRunRecord

__all__ = [
    "AGENT_OFFLINE",
    "JOB_OVERDUE",
    "RUN_COMPLETED",
    "RUN_FAILED",
    "RUN_OVERDUE",
    "RUN_STARTED",
    "channel_of",
    "messages",
]

RUN_STARTED = "run_started"
RUN_FAILED = "run_failed"
RUN_COMPLETED = "run_completed"
RUN_OVERDUE = "run_overdue"
JOB_OVERDUE = "job_overdue"
#: a job run has waited longer than JOBPLAN_AGENT_GRACE_SECONDS for an agent none of which
#: is online (told to the plan's ``on_overdue`` recipients)
AGENT_OFFLINE = "agent_offline"


def channel_of(recipient: str) -> str:
    """``webhook`` for an http(s) URL, ``email`` for an address (the model allows only these)."""
    return "webhook" if recipient.lower().startswith(("http://", "https://")) else "email"


def _recipients(settings: Notifications, event: str) -> Sequence[str]:
    if event == RUN_STARTED:
        return settings.on_start
    if event == RUN_FAILED:
        return settings.on_failure
    if event == RUN_COMPLETED:
        return settings.on_success
    return settings.on_overdue


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def messages(
    settings: Notifications,
    event: str,
    run: PlanRunRecord,
    now: datetime,
    *,
    status: str,
    reason: str | None = None,
    job_runs: Sequence[JobRunRecord] = (),
    job_run: JobRunRecord | None = None,
) -> list[NotificationRecord]:
    """One outbox row per recipient the plan names for ``event`` (none if it names none).
    ``status`` and ``reason`` are the run's as of this change; ``job_runs`` its jobs, when
    known, to name the failed ones; ``job_run`` the job an ``job_overdue`` is about."""
    recipients = list(dict.fromkeys(_recipients(settings, event)))
    if not recipients:
        return []
    payload: dict[str, Any] = {
        "event": event,
        "tenant_id": run.tenant_id,
        "plan": run.plan_path,
        "plan_id": run.plan_id,
        "version": run.version,
        "plan_run_id": run.id,
        "status": status,
        "reason": reason,
        "trigger": run.trigger,
        "scheduled_for": _iso(run.scheduled_for),
        "started_at": _iso(run.started_at),
        "ended_at": _iso(now) if event in (RUN_FAILED, RUN_COMPLETED) else None,
        "at": now.isoformat(),
    }
    if job_runs:
        payload["failed_jobs"] = sorted(
            jr.job_name for jr in job_runs if jr.status in ("ERROR", "KILLED")
        )
    if job_run is not None:
        payload["job"] = job_run.job_name
        payload["job_run_id"] = job_run.id
    return [
        _message(settings, event, run, job_run, recipient, payload, now) for recipient in recipients
    ]


def _message(
    settings: Notifications,
    event: str,
    run: PlanRunRecord,
    job_run: JobRunRecord | None,
    recipient: str,
    payload: dict[str, Any],
    now: datetime,
) -> NotificationRecord:
    channel = channel_of(recipient)
    template = settings.webhook_templates.get(recipient) if channel == "webhook" else None
    error: str | None = None
    if template is not None:
        try:
            payload = render_template(template, payload)
        except TemplateError as exc:
            error = f"webhook template: {exc}"
    return NotificationRecord(
        id=str(uuid.uuid4()),
        tenant_id=run.tenant_id,
        plan_id=run.plan_id,
        plan_path=run.plan_path,
        plan_run_id=run.id,
        job_run_id=job_run.id if job_run is not None else None,
        event=event,
        channel=channel,
        recipient=recipient,
        payload=payload,
        status=PENDING if error is None else FAILED,
        attempts=0,
        next_attempt_at=now if error is None else None,
        owner_node=None,
        lease_until=None,
        last_error=error,
        created_at=now,
        sent_at=None,
    )
