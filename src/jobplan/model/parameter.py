"""Run parameters, and the uniqueness check shared by every list of named items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self

from pydantic import ValidationInfo, model_validator

from jobplan.model._base import Document
from jobplan.model._errors import ErrorCollector, Loc
from jobplan.model._references import check_text, checking
from jobplan.model._types import Description, EnvName, Value

__all__ = ["Parameter"]


class Parameter(Document):
    """A named value given to jobs as an environment variable (Ikasan ``contextParameters``).

    Plan parameters reach every job; stage and job parameters add to or override them for
    their own jobs. A run can be started with other values.
    """

    name: EnvName
    """Variable name: ``[A-Za-z_][A-Za-z0-9_]*``."""
    default: Value = ""
    """Value used when a run does not supply one. May refer to the run's context, e.g.
    ``${scheduled_for:%Y-%m-%d}`` (see docs/plans.md, "References in values")."""
    description: Description = ""
    per_environment: bool = False
    """Differs per environment: exported bundles carry a ``[[name]]`` token instead of the
    default, to be replaced when the bundle is imported elsewhere."""

    @model_validator(mode="after")
    def _check_references(self, info: ValidationInfo) -> Self:
        if checking(info):
            errors = ErrorCollector()
            check_text(self.default, ("default",), errors)
            errors.raise_if_any(type(self).__name__)
        return self


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def check_unique_names(
    items: Sequence[_Named], field: str, what: str, errors: ErrorCollector, *, at: Loc = ()
) -> None:
    """Record an error at ``<at>.<field>[i].name`` for each name already used earlier."""
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.name in first:
            errors.add(
                (*at, field, index, "name"),
                f"duplicate {what} name {item.name!r} (also {field}[{first[item.name]}])",
                item.name,
                error_type="duplicate_name",
            )
        else:
            first[item.name] = index
