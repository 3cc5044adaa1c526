"""Constrained string types shared by the plan documents, each with a human-readable error."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema

from jobplan.cron import CronError
from jobplan.cron import validate as validate_cron
from jobplan.model import limits
from jobplan.model._errors import custom_error
from jobplan.model.semver import SemVer

__all__ = [
    "AGENT_LABEL_PREFIX",
    "AgentTarget",
    "CronText",
    "Description",
    "EnvName",
    "FolderPath",
    "HeaderName",
    "HeaderValue",
    "Name",
    "PathText",
    "Recipient",
    "ShortText",
    "TimeZoneName",
    "UrlText",
    "Value",
    "VersionText",
    "check_timezone",
    "is_http_url",
]

_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TZ_RE = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+")
# one address, nothing an SMTP server could read as a second one (no , ; quotes or brackets)
_EMAIL_RE = re.compile(r"[^@\s<>,;()\[\]\\\"]+@[\w-]+(?:\.[\w-]+)+")
_MAX_TZ_CHARS = 100
_MAX_CRON_CHARS = 1_000


def _preview(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def check_name(value: str, what: str = "name") -> str:
    """Validate a plan, job, stage, lock or event name."""
    if not value:
        raise custom_error("name", f"{what} must not be empty")
    if len(value) > limits.MAX_NAME_CHARS:
        raise custom_error(
            "name",
            f"{what} must be at most {limits.MAX_NAME_CHARS} characters (got {len(value)})",
        )
    if _NAME_RE.fullmatch(value) is None:
        bad = next(ch for ch in value if _NAME_RE.fullmatch(ch) is None)
        raise custom_error(
            "name",
            f"{what} {_preview(value)} contains {bad!r}; use only letters, digits, '_', '.' "
            "and '-'",
        )
    if value in {".", ".."}:
        raise custom_error("name", f"{what} {value!r} is reserved")
    return value


def _check_name(value: str) -> str:
    return check_name(value)


def _check_env_name(value: str) -> str:
    if not value or len(value) > limits.MAX_NAME_CHARS or _ENV_RE.fullmatch(value) is None:
        raise custom_error(
            "env_name",
            f"{_preview(value)} is not a valid variable name: it must start with a letter or '_' "
            f"and contain only letters, digits and '_' (at most {limits.MAX_NAME_CHARS} "
            "characters), because it is passed as an environment variable",
        )
    return value


def _normalise_folder(value: object) -> object:
    if not isinstance(value, str):
        return value
    if len(value) > limits.MAX_FOLDER_CHARS:
        raise custom_error(
            "folder",
            f"folder must be at most {limits.MAX_FOLDER_CHARS} characters (got {len(value)})",
        )
    segments = [segment for segment in value.split("/") if segment]
    if len(segments) > limits.MAX_FOLDER_DEPTH:
        raise custom_error("folder", f"folder may be at most {limits.MAX_FOLDER_DEPTH} levels deep")
    for segment in segments:
        check_name(segment, "folder segment")
    return "/".join(segments)


def check_timezone(value: str) -> str:
    """Validate an IANA time-zone name such as ``Europe/London``."""
    known = False
    if 0 < len(value) <= _MAX_TZ_CHARS and _TZ_RE.fullmatch(value):
        try:
            ZoneInfo(value)
            known = True
        except (ZoneInfoNotFoundError, ValueError, OSError):
            known = False
    if not known:
        raise custom_error(
            "timezone",
            f"unknown time zone {_preview(value)}: use an IANA name such as 'Europe/London', "
            "'America/New_York' or 'UTC'",
        )
    return value


def _check_cron(value: str) -> str:
    if len(value) > _MAX_CRON_CHARS:
        raise custom_error("cron", f"cron expression must be at most {_MAX_CRON_CHARS} characters")
    try:
        validate_cron(value)
    except CronError as exc:
        raise custom_error("cron", f"invalid cron expression {value!r}: {exc}") from None
    return value


def _check_version(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise custom_error(
            "version",
            f"version {value!r} is a number; write it as a quoted string such as '1.0.0'",
        )
    if isinstance(value, str):
        try:
            SemVer.parse(value)
        except ValueError as exc:
            raise custom_error("version", str(exc)) from None
    return value


def _check_no_nul(value: str) -> str:
    if "\x00" in value:
        raise custom_error("text", "must not contain NUL characters")
    return value


def _check_url(value: str) -> str:
    if not is_http_url(value):
        raise custom_error("url", f"{_preview(value)} is not an absolute http:// or https:// URL")
    return value


def is_http_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host (and no whitespace)."""
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return False
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(hostname)


def _check_recipient(value: str) -> str:
    if _EMAIL_RE.fullmatch(value) is None and not is_http_url(value):
        raise custom_error(
            "recipient",
            f"{_preview(value)} is neither an email address nor an http(s) webhook URL",
        )
    return value


def _check_header_name(value: str) -> str:
    if _HEADER_RE.fullmatch(value) is None:
        raise custom_error("header", f"{_preview(value)} is not a valid HTTP header name")
    return value


def _check_header_value(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise custom_error("header", "header values must not contain line breaks or NUL")
    return value


Name = Annotated[
    str,
    AfterValidator(_check_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": limits.MAX_NAME_CHARS,
            "pattern": r"^[A-Za-z0-9_.\-]+$",
        }
    ),
]
"""1-100 characters of ``A-Z a-z 0-9 _ . -``; not ``.`` or ``..``."""

EnvName = Annotated[
    str,
    AfterValidator(_check_env_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": limits.MAX_NAME_CHARS,
            "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
        }
    ),
]
"""A name usable as an environment variable: ``[A-Za-z_][A-Za-z0-9_]*``."""

FolderPath = Annotated[
    str,
    BeforeValidator(_normalise_folder),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": limits.MAX_FOLDER_CHARS,
            "pattern": r"^([A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*)?$",
        }
    ),
]
"""``finance/eod``: name segments joined by ``/``; surrounding and repeated slashes dropped."""

TimeZoneName = Annotated[
    str,
    AfterValidator(check_timezone),
    WithJsonSchema({"type": "string", "maxLength": _MAX_TZ_CHARS, "examples": ["Europe/London"]}),
]
"""An IANA time-zone name."""

CronText = Annotated[
    str,
    AfterValidator(_check_cron),
    WithJsonSchema(
        {"type": "string", "maxLength": _MAX_CRON_CHARS, "examples": ["0 0 1 ? * MON-FRI"]}
    ),
]
"""A Quartz cron expression (6 or 7 fields, seconds first), checked by :mod:`jobplan.cron`."""

Description = Annotated[str, StringConstraints(max_length=limits.MAX_DESCRIPTION_CHARS)]
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_TEXT_CHARS),
    AfterValidator(_check_no_nul),
]
Value = Annotated[str, StringConstraints(max_length=limits.MAX_VALUE_CHARS)]

#: A job's ``agent`` naming any agent with a label rather than one agent.
AGENT_LABEL_PREFIX = "label:"


def _check_agent_target(value: str) -> str:
    if value.startswith(AGENT_LABEL_PREFIX):
        check_name(value[len(AGENT_LABEL_PREFIX) :], "agent label")
    return value


AgentTarget = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_TEXT_CHARS),
    AfterValidator(_check_no_nul),
    AfterValidator(_check_agent_target),
]
"""Where a job runs: an agent's name (``edge-1``; Ikasan's ``agentName``, any text), or
``label:<label>`` (any agent carrying the label; the label has the grammar of a name)."""
PathText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_PATH_CHARS),
    AfterValidator(_check_no_nul),
]
UrlText = Annotated[
    str, StringConstraints(max_length=limits.MAX_URL_CHARS), AfterValidator(_check_url)
]
Recipient = Annotated[
    str, StringConstraints(max_length=limits.MAX_URL_CHARS), AfterValidator(_check_recipient)
]
HeaderName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_NAME_CHARS),
    AfterValidator(_check_header_name),
]
HeaderValue = Annotated[
    str, StringConstraints(max_length=limits.MAX_URL_CHARS), AfterValidator(_check_header_value)
]

VersionText = Annotated[
    str,
    BeforeValidator(_check_version),
    WithJsonSchema({"type": "string", "pattern": r"^\d+\.\d+\.\d+$", "examples": ["1.4.0"]}),
]
"""A ``MAJOR.MINOR.PATCH`` version string (see :mod:`jobplan.model.semver`)."""
