"""Checks on names and secrets shared by several services."""

from __future__ import annotations

import re

from pydantic import TypeAdapter, ValidationError

from jobplan.errors import InvalidInput
from jobplan.model import Name

__all__ = ["check_event_name", "check_password", "check_slug", "check_username"]

_NAME = TypeAdapter(Name)

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def check_slug(value: str, field: str) -> str:
    """Lower-case letters, digits and inner hyphens, 1-64 characters (tenant names)."""
    if not _SLUG.fullmatch(value):
        raise InvalidInput("must be 1-64 lower-case letters, digits or inner hyphens", field=field)
    return value


def check_username(value: str, field: str = "username") -> str:
    if not _USERNAME.fullmatch(value):
        raise InvalidInput(
            "must be 1-64 characters: letters, digits and . _ @ - (starting with a letter or "
            "digit)",
            field=field,
        )
    return value


def check_password(value: str, field: str = "password") -> str:
    if len(value) < MIN_PASSWORD:
        raise InvalidInput(f"must be at least {MIN_PASSWORD} characters", field=field)
    if len(value) > MAX_PASSWORD:
        raise InvalidInput(f"must be at most {MAX_PASSWORD} characters", field=field)
    return value


def check_event_name(value: str, field: str = "name") -> str:
    """A global event's name, as plan documents write it (``event`` of an event job): an
    event no plan can wait for is refused rather than raised."""
    try:
        return _NAME.validate_python(value)
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"], field=field) from None
