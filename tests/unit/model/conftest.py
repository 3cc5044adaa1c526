"""Factories for plan documents used by the model tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from jobplan.model import PlanDocument, error_messages

PlanData = dict[str, Any]


def command(name: str, **fields: Any) -> PlanData:
    """A command job document."""
    return {"name": name, "kind": "command", "command": f"echo {name}", **fields}


@pytest.fixture
def make_plan() -> Callable[..., PlanData]:
    """Build a plan document (plain data); keyword arguments replace top-level fields."""

    def build(**fields: Any) -> PlanData:
        data: PlanData = {
            "name": "nightly",
            "jobs": [command("extract"), command("load", depends_on="extract")],
        }
        data.update(fields)
        return data

    return build


@pytest.fixture
def plan_errors() -> Callable[[PlanData], list[str]]:
    """Validate data that must be invalid; return the rendered error lines."""

    def validate(data: PlanData) -> list[str]:
        with pytest.raises(ValidationError) as info:
            PlanDocument.model_validate(data)
        return error_messages(info.value)

    return validate
