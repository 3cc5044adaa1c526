"""Volt MX Foundry job bodies <-> plan documents, and ``jobFrequencyInfo`` <-> Quartz cron.

Pure translation, no I/O. A Volt MX job becomes a plan in folder ``voltmx`` named
``jobName``, with a window (``jobFrequency``, or the cron made from ``jobFrequencyInfo``, read
in UTC) and one HTTP job of the same name that calls ``serviceName``/``operationName`` through
the tenant's service registry. See docs/dialects.md for the field-by-field table.

``jobFrequencyInfo`` (Volt MX's schedule builder) and the crons it stands for; seconds are 0,
lists are sorted, ``minuteValues`` defaults to ``[0]`` and ``hourValues`` (types 2-4) to ``[0]``:

====  ============  ==============================================  ============================
type  meaning       values                                          cron
====  ============  ==============================================  ============================
1     hour-based    ``minuteValues``; ``hourValues`` ``[N]``: every   ``0 M */N * * ? *``
                    N hours (default 1)
2     day-based     ``minuteValues``, ``hourValues``                 ``0 M H * * ? *``
3     week-based    + ``weekValues`` (1-7, 1 = Sunday, or SUN-SAT)   ``0 M H ? * D *``
4     month-based   + ``dayValues`` (1-31), ``monthValues`` (1-12,   ``0 M H DOM MON ? *``
                    default every month)
====  ============  ==============================================  ============================

Back from a cron (``GET``): a cron of one of these shapes (any single seconds value, year
``*`` or absent) gives its ``jobFrequencyInfo``; any other cron gives ``null``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictInt, field_validator

from jobplan.model import HttpJob, Name, PlanDocument
from jobplan.service.voltmx import VOLTMX_FOLDER

__all__ = [
    "FrequencyInfo",
    "JobIn",
    "cron_to_frequency",
    "document_of",
    "frequency_to_cron",
    "job_detail",
    "run_status_word",
    "timestamp",
    "volt_field",
]

_DAY_NAMES = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
_TYPES = {1: "hour-based", 2: "day-based", 3: "week-based", 4: "month-based"}
#: Our plan-run statuses as Volt MX's run status words.
_STATUS_WORDS = {
    "COMPLETE": "Success",
    "ERROR": "Fail",
    "RUNNING": "Running",
    "QUEUED": "Queued",
    "ENDED": "Stopped",
}
_DEFAULT_RETENTION_DAYS = 30
#: Volt MX jobs call a service and wait for its answer: one that does not answer in ten
#: minutes is cut off (a failed run), so a hung service cannot block the job's schedule.
VOLTMX_CALL_TIMEOUT_SECONDS = 600

Minute = Annotated[StrictInt, Field(ge=0, le=59)]
Hour = Annotated[StrictInt, Field(ge=0, le=23)]
Day = Annotated[StrictInt, Field(ge=1, le=31)]
Month = Annotated[StrictInt, Field(ge=1, le=12)]


def _weekday(value: object) -> int:
    if isinstance(value, str):
        name = value.strip().upper()
        for number, full in enumerate(_DAY_NAMES, start=1):
            if len(name) >= 3 and full.startswith(name):
                return number
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
        return value
    raise ValueError(f"{value!r} is not a day of the week: use 1-7 (1 = Sunday) or SUN-SAT")


class FrequencyInfo(BaseModel):
    """Volt MX ``jobFrequencyInfo``."""

    model_config = ConfigDict(extra="forbid")

    frequencyType: Literal[1, 2, 3, 4]
    minuteValues: list[Minute] | None = Field(default=None, max_length=60)
    hourValues: list[Hour] | None = Field(default=None, max_length=24)
    dayValues: list[Day] | None = Field(default=None, max_length=31)
    weekValues: list[int] | None = Field(default=None, max_length=7)
    monthValues: list[Month] | None = Field(default=None, max_length=12)

    @field_validator("weekValues", mode="before")
    @classmethod
    def _weekdays(cls, value: object) -> object:
        if isinstance(value, list):
            return [_weekday(item) for item in value]
        return value


class ServiceInfo(BaseModel):
    """Volt MX ``jobServiceInfo``."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = Field(default=None, max_length=100)
    serviceType: Literal["intSer", "objSer", "orchSer"]
    serviceName: Name  # as the registry's names, so that the service can be registered
    objectName: str | None = Field(default=None, max_length=1000)
    operationName: str = Field(min_length=1, max_length=1000)
    requestheaderMap: dict[str, str] = Field(default_factory=dict, max_length=500)
    serviceExecutionType: Literal["SERVER_URL"] = "SERVER_URL"
    postData: str | dict[str, JsonValue] | None = None
    operationSecurityLevel: str | None = Field(default=None, max_length=1000)


class JobIn(BaseModel):
    """A create or update body (``POST``/``PUT /admin/api/jobs/job``). Fields Volt MX shows
    but does not take (``updatedUser``, statistics...) are ignored, so a fetched job can be
    sent back."""

    model_config = ConfigDict(extra="ignore")

    jobId: StrictInt | None = Field(default=None, ge=1, le=2_147_483_647)
    jobName: str = Field(min_length=1, max_length=100)
    jobFrequency: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=10_000)
    jobServiceInfo: ServiceInfo
    jobStatus: Literal["Active", "Inactive"] = "Active"
    historyStrategy: Literal["OFF", "MINIMAL", "ERROR", "FULL"] = "FULL"
    retentionPeriod: StrictInt | str | None = None
    jobFrequencyInfo: FrequencyInfo | None = None

    def retention_days(self) -> int:
        value = self.retentionPeriod
        if value is None or value == "":
            return _DEFAULT_RETENTION_DAYS
        if isinstance(value, str):
            if not value.strip().isdigit():
                raise ValueError(f"retentionPeriod {value!r} is not a number of days")
            value = int(value.strip())
        return value


# --- jobFrequencyInfo <-> cron --------------------------------------------------------------


def _join(values: list[int]) -> str:
    return ",".join(str(v) for v in sorted(set(values)))


def frequency_to_cron(info: FrequencyInfo) -> str:
    """The Quartz cron of a ``jobFrequencyInfo``; :class:`ValueError` names a missing or
    misplaced value."""
    kind = info.frequencyType
    allowed = {
        1: {"minuteValues", "hourValues"},
        2: {"minuteValues", "hourValues"},
        3: {"minuteValues", "hourValues", "weekValues"},
        4: {"minuteValues", "hourValues", "dayValues", "monthValues"},
    }[kind]
    for name in ("minuteValues", "hourValues", "dayValues", "weekValues", "monthValues"):
        if getattr(info, name) and name not in allowed:
            raise ValueError(f"{name} is not used with frequencyType {kind} ({_TYPES[kind]})")
    minutes = _join(info.minuteValues or [0])
    if kind == 1:
        hours = info.hourValues or [1]
        if len(hours) != 1 or hours[0] < 1:
            raise ValueError(
                "with frequencyType 1 (hour-based), hourValues is [N]: every N hours (1-23)"
            )
        return f"0 {minutes} {'*' if hours[0] == 1 else f'*/{hours[0]}'} * * ? *"
    hours_text = _join(info.hourValues or [0])
    if kind == 2:
        return f"0 {minutes} {hours_text} * * ? *"
    if kind == 3:
        if not info.weekValues:
            raise ValueError("frequencyType 3 (week-based) needs weekValues (1-7, 1 = Sunday)")
        return f"0 {minutes} {hours_text} ? * {_join(info.weekValues)} *"
    if not info.dayValues:
        raise ValueError("frequencyType 4 (month-based) needs dayValues (days of the month)")
    months = _join(info.monthValues) if info.monthValues else "*"
    return f"0 {minutes} {hours_text} {_join(info.dayValues)} {months} ? *"


def _numbers(field: str, low: int, high: int) -> list[int] | None:
    """A comma list of plain numbers in range, or None."""
    parts = field.split(",")
    if not all(p.isdigit() for p in parts):
        return None
    values = [int(p) for p in parts]
    return values if all(low <= v <= high for v in values) else None


def _weekdays(field: str) -> list[int] | None:
    try:
        return [_weekday(int(p) if p.isdigit() else p) for p in field.split(",")]
    except ValueError:
        return None


def cron_to_frequency(cron: str | None) -> dict[str, Any] | None:
    """The ``jobFrequencyInfo`` a cron stands for, or None if it has no such form."""
    fields = (cron or "").split()
    if len(fields) == 6:
        fields.append("*")
    if len(fields) != 7 or fields[6] != "*" or _numbers(fields[0], 0, 59) is None:
        return None
    _, minute, hour, dom, month, dow, _ = fields
    minutes = _numbers(minute, 0, 59)
    if minutes is None or len(minutes) != len(set(minutes)):
        return None
    info: dict[str, Any] = {"minuteValues": minutes}
    every_day = dom in ("*", "?") and month == "*" and dow in ("*", "?")
    interval = hour.removeprefix("*/").removeprefix("0/") if "/" in hour else None
    if every_day and (hour == "*" or (interval is not None and interval.isdigit())):
        step = int(interval) if interval else 1
        if not 1 <= step <= 23:
            return None
        return {"frequencyType": 1, **info} | ({"hourValues": [step]} if step > 1 else {})
    hours = _numbers(hour, 0, 23)
    if hours is None:
        return None
    info["hourValues"] = hours
    if every_day:
        return {"frequencyType": 2, **info}
    if dom == "?" and month == "*" and (days := _weekdays(dow)) is not None:
        return {"frequencyType": 3, **info, "weekValues": days}
    if dow == "?" and (days_of_month := _numbers(dom, 1, 31)) is not None:
        info = {"frequencyType": 4, **info, "dayValues": days_of_month}
        if month != "*":
            months = _numbers(month, 1, 12)
            if months is None:
                return None
            info["monthValues"] = months
        return info
    return None


# --- bodies <-> plan documents ---------------------------------------------------------------


def _post_data(value: str | dict[str, JsonValue] | None) -> str | dict[str, JsonValue] | None:
    """``postData`` as the job's body: a JSON object (sent as JSON), or text as given."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value or None
        return parsed if isinstance(parsed, dict) else value
    return value


def document_of(body: JobIn) -> dict[str, Any]:
    """The plan document (as data, validated by the caller) a Volt MX body describes.
    :class:`ValueError` if no schedule is given or ``jobFrequencyInfo`` is inconsistent."""
    cron = body.jobFrequency.strip() if body.jobFrequency else None
    if body.jobFrequencyInfo is not None:
        try:
            derived = frequency_to_cron(body.jobFrequencyInfo)  # checked even when unused
        except ValueError as exc:
            raise ValueError(f"jobFrequencyInfo: {exc}") from exc
        cron = cron or derived
    if not cron:
        raise ValueError("give jobFrequency (a Quartz cron expression) or jobFrequencyInfo")
    service = body.jobServiceInfo
    job: dict[str, Any] = {
        "name": body.jobName,
        "kind": "http",
        "method": "POST",
        "service": service.serviceName,
        "operation": service.operationName,
        "service_type": service.serviceType,
        "service_version": service.version or None,
        "object_name": service.objectName or None,
        "security_level": service.operationSecurityLevel or None,
        "headers": service.requestheaderMap,
        "body": _post_data(service.postData),
    }
    return {
        "name": body.jobName,
        "folder": VOLTMX_FOLDER,
        "description": body.description or "",
        "enabled": body.jobStatus == "Active",
        "window": {"cron": cron, "timezone": "UTC"},
        "policies": {
            "history": body.historyStrategy,
            "retention_days": body.retention_days(),
            # a failed call ends its run (Volt MX has no operator step), so the job keeps
            # running on schedule after a failure; a call still going when the next fire
            # comes is not cancelled: that fire is skipped, and a call that hangs is cut
            # off by the timeout, so it cannot hold the schedule up for good
            "on_error": "end",
            "overlap": "skip",
            "timeout_seconds": VOLTMX_CALL_TIMEOUT_SECONDS,
        },
        "jobs": [job],
    }


#: Plan document locations -> the Volt MX field they came from, for error messages.
_LOCATIONS = {
    "name": "jobName",
    "description": "description",
    "window.cron": "jobFrequency",
    "policies.retention_days": "retentionPeriod",
    "policies.history": "historyStrategy",
    "jobs[0].name": "jobName",
    "jobs[0].service": "jobServiceInfo.serviceName",
    "jobs[0].operation": "jobServiceInfo.operationName",
    "jobs[0].service_type": "jobServiceInfo.serviceType",
    "jobs[0].service_version": "jobServiceInfo.version",
    "jobs[0].object_name": "jobServiceInfo.objectName",
    "jobs[0].security_level": "jobServiceInfo.operationSecurityLevel",
    "jobs[0].headers": "jobServiceInfo.requestheaderMap",
    "jobs[0].body": "jobServiceInfo.postData",
}


def volt_field(location: str) -> str:
    """The Volt MX name of a plan document location (``window.cron`` -> ``jobFrequency``)."""
    for ours, theirs in _LOCATIONS.items():
        if location == ours or location.startswith(ours + ".") or location.startswith(ours + "["):
            return theirs + location[len(ours) :]
    return location


def _service_job(document: PlanDocument) -> HttpJob | None:
    return next((j for j in document.all_jobs() if isinstance(j, HttpJob) and j.service), None)


def _post_data_text(body: str | dict[str, JsonValue] | None) -> str | None:
    if isinstance(body, dict):
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return body


def job_detail(job_id: int, document: PlanDocument, enabled: bool) -> dict[str, Any]:
    """``GET /admin/api/jobs/{jobId}``: the job as Volt MX shows it."""
    cron = document.window.cron if document.window else None
    job = _service_job(document)
    service_info = None
    if job is not None:
        service_info = {
            "version": job.service_version,
            "serviceType": job.service_type,
            "serviceName": job.service,
            "objectName": job.object_name or "",
            "operationName": job.operation,
            "requestheaderMap": dict(job.headers),
            "serviceExecutionType": "SERVER_URL",
            "postData": _post_data_text(job.body),
            "operationSecurityLevel": job.security_level,
        }
    return {
        "jobId": job_id,
        "jobName": document.name,
        "description": document.description or None,
        "jobFrequency": cron,
        "jobServiceInfo": service_info,
        "jobStatus": "Active" if enabled else "Inactive",
        "historyStrategy": document.policies.history.value,
        "retentionPeriod": str(document.policies.retention_days),
        "jobFrequencyInfo": cron_to_frequency(cron),
    }


def timestamp(moment: datetime | None) -> str | None:
    """Volt MX's date format (``2018-12-24 09:04:55``), in UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else None


def run_status_word(status: str | None) -> str | None:
    """A plan-run status as Volt MX's run status word (``Success``, ``Fail``...)."""
    return _STATUS_WORDS.get(status, status) if status else None
