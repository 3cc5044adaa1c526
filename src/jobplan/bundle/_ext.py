"""The ``jobplan`` extension object: exactly the fields the Ikasan form does not reproduce.

The writer renders an artefact in Ikasan's shape, reads that back with the reader's own
mapping, and keeps in the extension every field whose value would otherwise come back
different (compared as JSON data, after validation, with defaults filled in). The reader maps
the Ikasan fields and lets the extension override them field by field. Round trips are
therefore lossless by construction, and the extension stays empty when Ikasan can say it all.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

__all__ = ["EXT", "extension"]

EXT = "jobplan"
"""Key of the extension object in context and job entries."""

_MISSING: Any = object()


@functools.cache
def _adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    info = model.model_fields[field]
    return TypeAdapter(info.rebuild_annotation())


@functools.cache
def _default(model: type[BaseModel], field: str) -> Any:
    info = model.model_fields[field]
    if info.default is PydanticUndefined and info.default_factory is None:
        return _MISSING
    value = info.get_default(call_default_factory=True, validated_data={})
    return _adapter(model, field).dump_python(value, mode="json", by_alias=True)


def _normalised(model: type[BaseModel], field: str, value: Any) -> Any:
    adapter = _adapter(model, field)
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json", by_alias=True)
    except (ValidationError, ValueError, TypeError):
        return _MISSING


@functools.cache
def _fields(model: type[BaseModel], skip: frozenset[str]) -> tuple[tuple[str, Any], ...]:
    """The fields compared, each with its default as JSON data (or ``_MISSING``)."""
    return tuple(
        (field, _default(model, field)) for field in model.model_fields if field not in skip
    )


def extension(
    model: type[BaseModel],
    want: Mapping[str, Any],
    got: Mapping[str, Any],
    *,
    skip: frozenset[str],
) -> dict[str, Any]:
    """Fields of ``want`` (a ``model_dump(mode="json")``) that ``got`` (what the reader maps
    from the Ikasan form) does not reproduce."""
    result: dict[str, Any] = {}
    for field, default in _fields(model, skip):
        wanted = want.get(field, _MISSING)
        if wanted is _MISSING:
            continue
        value = got.get(field, _MISSING)
        if value is _MISSING:
            if wanted == default:
                continue
        elif value == wanted or _normalised(model, field, value) == wanted:
            continue
        result[field] = wanted
    return result
