"""Enumerations: values are the wire format."""

from __future__ import annotations

from jobplan.model import (
    HistoryStrategy,
    JobKind,
    JobRunStatus,
    MisfirePolicy,
    OverlapPolicy,
    PlanRunStatus,
    Role,
    StartupControl,
)


def test_role_order() -> None:
    assert [role.rank for role in (Role.VIEWER, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)] == [
        0,
        1,
        2,
        3,
    ]
    assert Role.ADMIN.at_least(Role.SUPERVISOR)
    assert Role.OPERATOR.at_least(Role.OPERATOR)
    assert not Role.VIEWER.at_least(Role.OPERATOR)
    assert Role("supervisor") is Role.SUPERVISOR


def test_wire_values() -> None:
    assert [kind.value for kind in JobKind] == ["command", "http", "time", "file", "event"]
    assert [v.value for v in StartupControl] == ["automatic", "manual", "disabled"]
    assert [v.value for v in OverlapPolicy] == [
        "skip",
        "buffer_one",
        "buffer_all",
        "cancel_other",
        "allow",
    ]
    assert [v.value for v in MisfirePolicy] == ["skip", "run_once", "run_all"]
    assert [v.value for v in HistoryStrategy] == ["OFF", "MINIMAL", "ERROR", "FULL"]
    assert [v.value for v in JobRunStatus] == [
        "WAITING",
        "LOCK_QUEUED",
        "RUNNING",
        "COMPLETE",
        "ERROR",
        "KILLED",
        "SKIPPED",
        "ON_HOLD",
        "DISABLED",
    ]
    assert [v.value for v in PlanRunStatus] == ["QUEUED", "RUNNING", "COMPLETE", "ERROR", "ENDED"]
    assert str(Role.ADMIN) == "admin"
