"""What changed between two versions of a plan, for ``jobplan apply`` and the UI.

Jobs, stages, locks and parameters are matched by name, so reordering them is not a change,
while moving a job into another stage is (``jobs.load.stage``). Conditions are compared as
expressions (``a and (b or not c)``). The ``version`` field is not compared: the diff is about
content.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from jobplan.model._checks import Located
from jobplan.model.condition import Condition
from jobplan.model.parameter import Parameter

if TYPE_CHECKING:
    from jobplan.model.plan import PlanDocument

__all__ = ["Change", "ChangeKind", "diff_plans"]

_MAX_RENDERED = 80


class ChangeKind(StrEnum):
    """Whether something was added, removed or changed."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: ``path`` is dotted (``jobs.load.command``); values are JSON data."""

    kind: ChangeKind
    path: str
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        if self.kind is ChangeKind.ADDED:
            suffix = "" if isinstance(self.after, dict) else f" = {_render(self.after)}"
            return f"+ {self.path}{suffix}"
        if self.kind is ChangeKind.REMOVED:
            return f"- {self.path}"
        return f"~ {self.path}: {_render(self.before)} -> {_render(self.after)}"


def diff_plans(old: PlanDocument, new: PlanDocument) -> list[Change]:
    """The changes that turn ``old`` into ``new``, in document order; empty if equivalent."""
    changes: list[Change] = []
    _compare(_comparable(old), _comparable(new), "", changes)
    return changes


def _render(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _MAX_RENDERED else text[: _MAX_RENDERED - 3] + "..."


def _condition(condition: Condition | None) -> str | None:
    return None if condition is None else str(condition)


def _parameters(parameters: Sequence[Parameter]) -> dict[str, Any]:
    return {item.name: item.model_dump(mode="json", exclude={"name"}) for item in parameters}


def _view(entry: Located) -> dict[str, Any]:
    item = entry.item
    data = item.model_dump(mode="json", exclude={"name", "jobs", "stages"})
    data["depends_on"] = _condition(item.depends_on)
    data["parameters"] = _parameters(item.parameters)
    data["stage"] = entry.stage.name if entry.stage is not None else None
    return data


def _comparable(plan: PlanDocument) -> dict[str, Any]:
    data = plan.model_dump(mode="json", exclude={"version", "jobs", "stages", "locks"})
    data["parameters"] = _parameters(plan.parameters)
    entries = plan.walk()
    data["jobs"] = {entry.name: _view(entry) for entry in entries if not entry.is_stage}
    data["stages"] = {entry.name: _view(entry) for entry in entries if entry.is_stage}
    data["locks"] = {
        lock.name: lock.model_dump(mode="json", exclude={"name"}) for lock in plan.locks
    }
    return data


def _compare(old: Any, new: Any, path: str, changes: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            where = f"{path}.{key}" if path else key
            if key in new:
                _compare(value, new[key], where, changes)
            else:
                changes.append(Change(ChangeKind.REMOVED, where, before=value))
        for key, value in new.items():
            if key not in old:
                where = f"{path}.{key}" if path else key
                changes.append(Change(ChangeKind.ADDED, where, after=value))
    elif old == new:
        return
    elif old is None and isinstance(new, dict):
        changes.append(Change(ChangeKind.ADDED, path, after=new))
    elif new is None and isinstance(old, dict):
        changes.append(Change(ChangeKind.REMOVED, path, before=old))
    else:
        changes.append(Change(ChangeKind.CHANGED, path, before=old, after=new))
