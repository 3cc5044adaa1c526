"""Checks on names and secrets shared by several services."""

from __future__ import annotations

import re

from jobplan.errors import InvalidInput

__all__ = ["check_password", "check_slug", "check_username"]

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
