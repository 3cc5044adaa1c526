"""Dependency conditions: ``and`` / ``or`` / ``not`` trees over job and stage names.

A condition is written in one of these forms (JSON shown; YAML is the same data):

=======================================  ===============================================
input                                    meaning
=======================================  ===============================================
``"extract"``                            job ``extract`` is done
``["extract", "load"]``                  all of them hold (``and``)
``{"job": "extract"}``                   job ``extract`` is done
``{"stage": "ingest"}``                  stage ``ingest`` is done (all of its jobs are)
``{"and": [c1, c2, ...]}``               all hold
``{"or": [c1, c2, ...]}``                at least one holds
``{"not": c}``                           ``c`` does not hold
=======================================  ===============================================

Operands nest freely and may themselves use the compact forms. Documents are always written
back in the explicit form (``"a"`` becomes ``{"job": "a"}``, ``["a", "b"]`` becomes
``{"and": [{"job": "a"}, {"job": "b"}]}``), so a condition that has been through the model once
round-trips unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from jobplan.model import limits
from jobplan.model._base import Document
from jobplan.model._errors import Loc, custom_error, rewrite_locations
from jobplan.model._types import Name

__all__ = [
    "And",
    "Condition",
    "JobRef",
    "Not",
    "Or",
    "StageRef",
    "parse_condition",
]

_KEYS = ("job", "stage", "and", "or", "not")
_FORMS = (
    "a condition is a job name, a list of conditions (all must hold), or an object with one "
    "key: {job: NAME}, {stage: NAME}, {and: [...]}, {or: [...]} or {not: CONDITION}"
)


class _Node(Document):
    """Behaviour shared by every condition node."""

    def operands(self) -> Sequence[Condition]:
        """The direct sub-conditions (none for a reference)."""
        return ()

    def refs(self) -> Iterator[JobRef | StageRef]:
        """Every job and stage reference in the tree, depth first, left to right."""
        pending: list[_Node] = [self]
        while pending:
            node = pending.pop()
            if isinstance(node, JobRef | StageRef):
                yield node
            else:
                pending.extend(reversed(node.operands()))

    def job_names(self) -> set[str]:
        """Names of the jobs the condition refers to."""
        return {ref.job for ref in self.refs() if isinstance(ref, JobRef)}

    def stage_names(self) -> set[str]:
        """Names of the stages the condition refers to."""
        return {ref.stage for ref in self.refs() if isinstance(ref, StageRef)}

    def names(self) -> set[str]:
        """Names of every job and stage the condition refers to."""
        return {ref.target for ref in self.refs()}

    def depth(self) -> int:
        """Nesting depth: 0 for a single reference, 1 for ``{"and": ["a", "b"]}``, ..."""
        deepest = 0
        pending: list[tuple[_Node, int]] = [(self, 0)]
        while pending:
            node, level = pending.pop()
            deepest = max(deepest, level)
            pending.extend((operand, level + 1) for operand in node.operands())
        return deepest

    def _render(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        """The condition as an expression, e.g. ``extract and (load or not stage:ingest)``."""
        return self._render()


class JobRef(_Node):
    """Holds when the named job is done: ``{"job": "extract"}`` (or just ``"extract"``)."""

    job: Name

    @property
    def target(self) -> str:
        """The referenced name."""
        return self.job

    def _render(self) -> str:
        return self.job


class StageRef(_Node):
    """Holds when every job of the named stage is done: ``{"stage": "ingest"}``."""

    stage: Name

    @property
    def target(self) -> str:
        """The referenced name."""
        return self.stage

    def _render(self) -> str:
        return f"stage:{self.stage}"


class And(_Node):
    """Holds when every operand holds: ``{"and": [...]}`` (or a bare list)."""

    conditions: list[_Operand] = Field(
        alias="and", min_length=1, max_length=limits.MAX_CONDITION_ITEMS
    )

    def operands(self) -> Sequence[Condition]:
        return self.conditions

    def _render(self) -> str:
        return " and ".join(_operand(condition) for condition in self.conditions)


class Or(_Node):
    """Holds when at least one operand holds: ``{"or": [...]}``."""

    conditions: list[_Operand] = Field(
        alias="or", min_length=1, max_length=limits.MAX_CONDITION_ITEMS
    )

    def operands(self) -> Sequence[Condition]:
        return self.conditions

    def _render(self) -> str:
        return " or ".join(_operand(condition) for condition in self.conditions)


class Not(_Node):
    """Holds when the operand does not: ``{"not": ...}``."""

    condition: _Operand = Field(alias="not")

    def operands(self) -> Sequence[Condition]:
        return (self.condition,)

    def _render(self) -> str:
        return f"not {_operand(self.condition)}"


def _operand(condition: _Node) -> str:
    text = condition._render()
    if isinstance(condition, And | Or) and len(condition.conditions) > 1:
        return f"({text})"
    return text


_TAG_OF_TYPE: dict[type[_Node], str] = {
    JobRef: "job",
    StageRef: "stage",
    And: "and",
    Or: "or",
    Not: "not",
}


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((key for key in _KEYS if key in value), None)
    return _TAG_OF_TYPE.get(type(value))


def _expand(value: Any) -> Any:
    """Turn the compact forms into the explicit one and explain malformed objects."""
    if isinstance(value, str):
        return {"job": value}
    if isinstance(value, list):
        if not value:
            raise custom_error(
                "condition",
                "an empty list is not a condition; omit depends_on (or use null) for none",
            )
        return {"and": value}
    if isinstance(value, dict):
        unknown = [key for key in value if key not in _KEYS]
        if unknown:
            raise custom_error("condition", f"unknown condition key {unknown[0]!r}: {_FORMS}")
        if len(value) != 1:
            keys = " and ".join(repr(key) for key in value) or "no keys"
            raise custom_error(
                "condition",
                f"a condition object has exactly one key, found {keys}; nest them instead",
            )
        key = next(iter(value))
        if key in ("and", "or") and value[key] == []:
            raise custom_error("condition", f"{key!r} needs at least one condition")
    return value


_Operand = Annotated[
    Annotated[JobRef, Tag("job")]
    | Annotated[StageRef, Tag("stage")]
    | Annotated[And, Tag("and")]
    | Annotated[Or, Tag("or")]
    | Annotated[Not, Tag("not")],
    Discriminator(_tag, custom_error_type="condition", custom_error_message=_FORMS),
    BeforeValidator(
        _expand, json_schema_input_type=str | list[Any] | JobRef | StageRef | And | Or | Not
    ),
]
"""A condition nested inside another: validated without the checks done once at the top."""


def _validate_condition(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate a whole condition tree: tidy error locations, then check the nesting depth.

    Pydantic puts the discriminator tag into error locations (``and.and[0].job.job``); each
    tag is directly followed by the field of the same name, so one of each pair is dropped.
    """
    too_deep = custom_error(
        "condition_depth",
        f"conditions may be nested at most {limits.MAX_CONDITION_DEPTH} levels deep",
    )
    try:
        condition = handler(value)
    except ValidationError as exc:
        if any(error["type"].startswith("recursion_") for error in exc.errors()):
            raise too_deep from None  # pydantic's own guard, for absurdly deep input
        raise rewrite_locations(exc, _collapse_tags) from None
    if condition.depth() > limits.MAX_CONDITION_DEPTH:
        raise too_deep
    return condition


def _collapse_tags(loc: Loc) -> Loc:
    result: list[str | int] = []
    index = 0
    while index < len(loc):
        part = loc[index]
        result.append(part)
        paired = part in _KEYS and index + 1 < len(loc) and loc[index + 1] == part
        index += 2 if paired else 1
    return tuple(result)


Condition = Annotated[_Operand, WrapValidator(_validate_condition)]
"""A dependency condition: one of :class:`JobRef`, :class:`StageRef`, :class:`And`,
:class:`Or`, :class:`Not`, accepting the compact input forms described in the module."""

And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()

_CONDITION_ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)


def parse_condition(value: object) -> Condition:
    """Validate a condition in any accepted form; raise :class:`pydantic.ValidationError`."""
    return _CONDITION_ADAPTER.validate_python(value)
