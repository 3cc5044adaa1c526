"""Building and rendering validation errors with precise locations.

Model validators collect problems in an :class:`ErrorCollector` and raise one
:class:`pydantic.ValidationError` whose locations are relative to the model being validated;
pydantic prefixes them with the model's own location as the error bubbles up, so a user sees
``jobs[2].depends_on: unknown job 'x'``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pydantic import ValidationError, ValidatorFunctionWrapHandler
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "ErrorCollector",
    "Loc",
    "error_messages",
    "format_location",
    "rewrite_locations",
    "strip_union_tags",
]

Loc = tuple[str | int, ...]


def custom_error(error_type: str, message: str) -> PydanticCustomError:
    """A pydantic error whose message is ``message`` verbatim (braces included)."""
    return PydanticCustomError(error_type, message)


class ErrorCollector:
    """Accumulates ``(location, message)`` problems, then raises them as one ValidationError."""

    def __init__(self) -> None:
        self._lines: list[InitErrorDetails] = []

    def __bool__(self) -> bool:
        return bool(self._lines)

    def add(self, loc: Loc, message: str, value: object, *, error_type: str) -> None:
        """Record a problem at ``loc`` (relative to the model being validated)."""
        self._lines.append({"type": custom_error(error_type, message), "loc": loc, "input": value})

    def raise_if_any(self, title: str) -> None:
        """Raise the collected problems, if any, as a :class:`pydantic.ValidationError`."""
        if self._lines:
            raise ValidationError.from_exception_data(title, self._lines)


def rewrite_locations(exc: ValidationError, rewrite: Callable[[Loc], Loc]) -> ValidationError:
    """A copy of ``exc`` with every error location passed through ``rewrite``.

    Error types and messages are kept; pydantic's per-type ``ctx`` and documentation URLs are
    not (they are not part of what jobplan promises).
    """
    lines: list[InitErrorDetails] = [
        {
            "type": custom_error(error["type"], error["msg"]),
            "loc": rewrite(error["loc"]),
            "input": error["input"],
        }
        for error in exc.errors(include_url=False)
    ]
    return ValidationError.from_exception_data(exc.title, lines)


def strip_union_tags(tags: Collection[str]) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    """A wrap validator removing the discriminated-union tag pydantic puts in error locations.

    Without it an error in the third job reads ``jobs.2.http.url``; with it, ``jobs.2.url``.
    """
    tag_set = frozenset(tags)

    def strip(loc: Loc) -> Loc:
        return loc[1:] if loc and loc[0] in tag_set else loc

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            raise rewrite_locations(exc, strip) from None

    return validate


def format_location(loc: Loc) -> str:
    """Render a pydantic location the way users write paths: ``jobs[2].depends_on``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def error_messages(exc: ValidationError) -> list[str]:
    """One line per error: ``"<path>: <message>"`` (just the message for document-level ones).

    Suitable for CLI output and for the ``detail`` of an HTTP 422 problem document.
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        where = format_location(error["loc"])
        lines.append(f"{where}: {error['msg']}" if where else error["msg"])
    return lines
