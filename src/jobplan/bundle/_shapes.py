"""Reading back one job of each shape: the writer's shortcut through the read-back.

The writer finds a job's ``jobplan`` extension by reading its Ikasan form back with the
reader's own mapping (:mod:`jobplan.bundle._ext`). Jobs of one plan, or of the plans of one
export, mostly differ only in their names, commands, agents and whom they wait for, and the
reader does not look into those values: so it finds the same fields missing for all of them.
The writer reads back one job of each *shape* and gives the others of that shape the same
extension fields, with their own values.

A job's shape is its model and its ``model_dump(mode="json")``, in which the texts of the
:data:`OPAQUE_FIELDS` and the job and stage names in ``depends_on`` are replaced by the order
in which each distinct text first appears in the job (one numbering for all of them; ``""``
and ``None`` are kept as they are). Every other value is kept exactly (compared by its
``repr``, which tells apart any two JSON values that are not equal). Two jobs of one shape
come back with the same fields missing because, for those texts, the reader
(:func:`jobplan.bundle._mapping.job_fields` and the assembler):

- copies them, or tests them for being empty: ``commandLine``, ``jobDescription``,
  ``agentName``, ``workingDirectory``, ``filePath``, ``filenames``, ``cronExpression``,
  ``moveDirectory``; what comes back is then compared with what was written for equality,
  which the shape keeps;
- compares them with each other: an event job's event comes back as its name, and a
  condition's job names come back through the job identifiers (``agent-job``), which the
  reader resolves to the same names when no two jobs share an identifier (else the read-back
  reports a problem and nothing is written); repeated operands and a job waiting for itself
  are found by equality, which the shape keeps.

The problems the reader can find in a job's own fields (wrong types, missing or unknown
values) depend on the values kept exactly, so the job read back for a shape shows them.
Timezones, blackouts, numbers, startup, parameters, every ``http`` field and the structure of
conditions are kept exactly. The plan-level read-back (contexts, identifiers, where each job
is defined, and every problem found there) still runs over all jobs; only the mapping of the
jobs of a known shape is not repeated. ``tests/unit/bundle/test_bundle_shapes.py`` writes
bundles with and without the shortcut, of generated plans and of jobs that differ in one
field (every field of every kind), and compares the bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from operator import itemgetter
from typing import Any

__all__ = ["OPAQUE_FIELDS", "JobShapes", "job_shape"]

OPAQUE_FIELDS = frozenset(
    {
        "name",
        "description",
        "agent",
        "command",
        "working_directory",
        "path",
        "patterns",
        "cron",
        "poll_cron",
        "move_to",
        "event",
    }
)
"""Job fields whose texts the reader copies, tests for being empty or compares for equality."""
_LEAVES = ("job", "stage")
_Getter = Callable[[Mapping[str, Any]], tuple[Any, ...]]
_LAYOUTS: dict[tuple[type, tuple[str, ...]], tuple[_Getter, _Getter]] = {}
"""(model, dump keys) -> getters of the values kept exactly and of the opaque ones."""


def _getter(fields: list[str]) -> _Getter:
    if len(fields) == 1:
        (field,) = fields
        return lambda dump: (dump[field],)
    if not fields:
        return lambda dump: ()
    getter: _Getter = itemgetter(*fields)
    return getter


def _layout(model: type, keys: tuple[str, ...]) -> tuple[_Getter, _Getter]:
    exact = [key for key in keys if key not in OPAQUE_FIELDS and key != "depends_on"]
    layout = (_getter(exact), _getter([key for key in keys if key in OPAQUE_FIELDS]))
    _LAYOUTS[(model, keys)] = layout
    return layout


def _text(value: Any, texts: dict[str, int]) -> Hashable:
    """A text of an opaque field: the order of its first appearance in the job."""
    if type(value) is str:
        return texts.setdefault(value, len(texts)) if value else ""
    if type(value) is list:
        return ("[", tuple(_text(item, texts) for item in value))
    return repr(value)  # None (or a value of another type, kept exactly)


def _condition(value: Any, texts: dict[str, int]) -> Hashable:
    """A condition (explicit form) with its job and stage names as texts."""
    if type(value) is list:
        return ("[", tuple(_condition(item, texts) for item in value))
    if type(value) is not dict:
        return repr(value)
    if len(value) == 1 and type(name := value.get("job")) is str and name:  # the usual leaf
        return ("{", (("job", texts.setdefault(name, len(texts))),))
    return (
        "{",
        tuple(
            (key, _text(item, texts) if key in _LEAVES else _condition(item, texts))
            for key, item in value.items()
        ),
    )


def job_shape(model: type, dump: Mapping[str, Any]) -> Hashable:
    """The shape of a job of type ``model`` whose ``model_dump(mode="json")`` is ``dump``.

    Values kept exactly are compared by their ``repr``, which tells apart every two JSON
    values (``1``, ``1.0``, ``True``, ``"1"``, ``[]``, ``{}``, ...) that are not equal.
    """
    keys = tuple(dump)
    exact, opaque = _LAYOUTS.get((model, keys)) or _layout(model, keys)
    texts: dict[str, int] = {}
    opaque_texts = tuple(
        [
            texts.setdefault(value, len(texts))
            if type(value) is str and value
            else _text(value, texts)
            for value in opaque(dump)
        ]
    )
    return (model, keys, repr(exact(dump)), opaque_texts, _condition(dump.get("depends_on"), texts))


class JobShapes:
    """The extension fields found for each job shape read back so far (one per export)."""

    def __init__(self) -> None:
        self._fields: dict[Hashable, tuple[str, ...]] = {}

    def fields(self, shape: Hashable) -> tuple[str, ...] | None:
        """The extension fields of jobs of this shape, or None if none was read back yet."""
        return self._fields.get(shape)

    def learn(self, shape: Hashable, fields: tuple[str, ...]) -> None:
        self._fields[shape] = fields
