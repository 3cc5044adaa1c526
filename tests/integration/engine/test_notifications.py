"""Run state: the plan's ``notifications`` become outbox messages in the transaction that
decides the outcome (failed, completed, overdue), once each, for the recipients named."""

from __future__ import annotations

from typing import Any

import pytest

from jobplan.store import Database
from jobplan.store import notifications as outbox
from jobplan.store.records import NotificationRecord, PlanRunRecord
from support.engine import T0, Harness, at, cmd, gate

HOOK = "https://hooks.example.com/jobplan?token=s3cret"
OPS = "ops@example.com"


@pytest.fixture
def h(database: Database) -> Harness:
    return Harness(database)


def messages(h: Harness, **filters: Any) -> list[NotificationRecord]:
    items, _ = h.tx(lambda c: outbox.list_for_tenant(c, h.tenant_id, limit=500, **filters))
    return sorted(items, key=lambda m: (m.created_at, m.event, m.recipient))


def told(h: Harness) -> list[tuple[str, str, str]]:
    return [(m.event, m.channel, m.recipient) for m in messages(h)]


def notifying(**settings: Any) -> dict[str, Any]:
    return {"notifications": settings}


def test_a_failed_run_held_for_an_operator_is_told_once(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a"), cmd("b", depends_on="a")],
        **notifying(on_failure=[HOOK, OPS, HOOK], on_success=["happy@example.com"]),
    )
    run = h.start(plan)
    assert h.step(at(1), ok=False) == ["a"]
    assert h.status(run) == "ERROR"
    assert told(h) == [("run_failed", "webhook", HOOK), ("run_failed", "email", OPS)]
    message = messages(h)[0]
    assert message.status == "pending" and message.attempts == 0
    assert message.next_attempt_at == at(1)
    assert (message.plan_id, message.plan_path, message.plan_run_id) == (plan.id, "p", run.id)
    payload = message.payload
    assert payload["event"] == "run_failed" and payload["status"] == "ERROR"
    assert payload["failed_jobs"] == ["a"]
    assert payload["plan"] == "p" and payload["plan_run_id"] == run.id
    assert payload["version"] == "1.0.0" and payload["trigger"] == "manual"
    assert payload["started_at"] == T0.isoformat()

    # the operator gives up on it: its end is no news (it was told when it failed)
    h.stop(run, at(2))
    assert len(messages(h)) == 2


def test_on_error_end_tells_once_naming_the_failed_job(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a"), cmd("b", depends_on="a")],
        policies={"on_error": "end"},
        **notifying(on_failure=[HOOK]),
    )
    run = h.start(plan)
    h.step(at(1), ok=False)
    [message] = messages(h)
    assert message.payload["status"] == "ERROR"
    assert message.payload["reason"] == "ended because job 'a' failed (on_error: end)"
    assert message.payload["ended_at"] == at(1).isoformat()
    assert h.plan_run(run).ended_at == at(1)  # type: ignore[union-attr]


def test_completed_runs_tell_on_success_only(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], **notifying(on_failure=[HOOK], on_success=[OPS]))
    run = h.start(plan)
    h.step(at(1))
    assert h.status(run) == "COMPLETE"
    assert told(h) == [("run_completed", "email", OPS)]
    assert messages(h)[0].payload["status"] == "COMPLETE"


def test_a_run_complete_as_it_opens_is_told_too(h: Harness) -> None:
    """A run whose only job is a time gate already due completes inside the scheduler's
    bulk open (its fast path): the message is written there as well."""
    plan = h.plan(
        jobs=[gate("g", "* * * * * ?")],
        window={"cron": "0 * * * * ?"},
        **notifying(on_success=[OPS]),
    )
    h.set_next_fire(plan, at(60))
    outcomes = h.tx(lambda c: h.scheduler.tick(c, at(60.2)))
    [outcome] = outcomes
    assert outcome.run is not None and outcome.run.status == "COMPLETE"
    assert told(h) == [("run_completed", "email", OPS)]
    assert messages(h)[0].plan_run_id == outcome.run.id


def test_no_recipients_no_messages(h: Harness) -> None:
    run = h.start(h.plan(jobs=[cmd("a"), cmd("b")]))
    h.step(at(1), ok=False)
    h.stop(run, at(2))
    assert messages(h) == []


@pytest.mark.parametrize("how", ["stop", "ttl"])
def test_runs_ended_before_completing_are_failures(h: Harness, how: str) -> None:
    window = {"cron": "0 0 0 1 1 ? 2099", "ttl_seconds": 60} if how == "ttl" else None
    extra = {"window": window} if window else {}
    run = h.start(h.plan(jobs=[cmd("a")], **extra, **notifying(on_failure=[HOOK])))
    if how == "stop":
        h.stop(run, at(5), by="alice")
    else:
        h.tx(lambda c: h.state.expire_deadlines(c, at(61)))
    [message] = messages(h)
    assert message.event == "run_failed"
    assert message.payload["status"] == "ENDED"
    expected = "stopped by alice" if how == "stop" else "TTL reached"
    assert message.payload["reason"] == expected


def overdue_plan(h: Harness, seconds: int = 60) -> PlanRunRecord:
    plan = h.plan(
        jobs=[cmd("a")],
        **notifying(overdue_after_seconds=seconds, on_overdue=[HOOK], on_failure=[OPS]),
    )
    return h.start(plan)


def test_a_run_still_going_past_overdue_after_seconds_is_told_once(h: Harness) -> None:
    run = overdue_plan(h)
    assert h.plan_run(run).overdue_at == at(60)  # type: ignore[union-attr]
    assert h.tx(lambda c: h.state.notify_overdue(c, at(59))) == 0
    assert h.tx(lambda c: h.state.notify_overdue(c, at(61))) == 1
    assert h.tx(lambda c: h.state.notify_overdue(c, at(500))) == 0, "told once"
    [message] = messages(h)
    assert (message.event, message.recipient) == ("run_overdue", HOOK)
    assert message.payload["reason"] == "still RUNNING 60 s after it started"
    assert h.plan_run(run).overdue_at is None  # type: ignore[union-attr]


def test_a_run_that_ends_in_time_is_never_overdue(h: Harness) -> None:
    run = overdue_plan(h)
    h.step(at(10))
    assert h.status(run) == "COMPLETE"
    assert h.plan_run(run).overdue_at is None  # type: ignore[union-attr]
    assert h.tx(lambda c: h.state.notify_overdue(c, at(100))) == 0
    assert messages(h) == []


def test_without_recipients_runs_get_no_overdue_time(h: Harness) -> None:
    run = h.start(h.plan(jobs=[cmd("a")], **notifying(overdue_after_seconds=5)))
    assert h.plan_run(run).overdue_at is None  # type: ignore[union-attr]


def test_a_buffered_run_is_overdue_from_when_it_starts(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a")],
        policies={"overlap": "buffer_one"},
        **notifying(overdue_after_seconds=60, on_overdue=[HOOK]),
    )
    first = h.start(plan)
    queued = h.open(plan, at(1)).run
    assert queued is not None and h.plan_run(queued).overdue_at is None  # type: ignore[union-attr]
    h.stop(first, at(30))
    assert h.status(queued) == "RUNNING"
    assert h.plan_run(queued).overdue_at == at(90)  # type: ignore[union-attr]


def test_a_job_past_its_max_execution_time_is_flagged_and_told_once(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("slow", max_execution_seconds=30), cmd("quick", max_execution_seconds=30)],
        **notifying(on_overdue=[HOOK]),
    )
    run = h.start(plan)
    tickets = {t.job_run.job_name: t for t in h.claim(at(1))}
    slow = tickets["slow"].job_run.id
    # the engine's control loop sees "slow" still running past its limit, twice
    h.tx(lambda c: h.state.flag_overdue_job(c, slow, at(40)))
    h.tx(lambda c: h.state.flag_overdue_job(c, slow, at(41)))
    # "quick" finishes past its limit before the control loop saw it: flagged as it ends
    assert h.finish(tickets["quick"], at(45))
    assert h.finish(tickets["slow"], at(50))
    assert "overdue" in h.job(run, "slow").flags and "overdue" in h.job(run, "quick").flags
    told_jobs = sorted(m.payload["job"] for m in messages(h) if m.event == "job_overdue")
    assert told_jobs == ["quick", "slow"]
    reasons = {m.payload["job"]: m.payload["reason"] for m in messages(h)}
    assert reasons["slow"] == "job 'slow' ran longer than its 30 s"
    assert all(m.job_run_id for m in messages(h))


def test_messages_belong_to_the_runs_tenant(h: Harness) -> None:
    other = h.other_tenant("globex")
    run = other.start(other.plan(jobs=[cmd("a")], **notifying(on_success=[OPS])))
    other.step(at(1))
    assert other.status(run) == "COMPLETE"
    assert messages(h) == []
    assert [m.tenant_id for m in messages(other)] == [other.tenant_id]


def test_an_operators_skip_or_release_does_not_repeat_an_old_failure(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a"), cmd("b")], **notifying(on_failure=[HOOK]))
    run = h.start(plan)
    assert h.step(at(1), ok=False) == ["a", "b"]
    assert h.status(run) == "ERROR"
    assert len(messages(h)) == 1
    h.act(run, "a", "skip", at(2))  # b is still failed: the run stalls again, nothing new
    assert h.status(run) == "ERROR"
    h.act(run, "b", "reset", at(3))
    assert h.step(at(4), ok=False) == ["b"]  # b failed again: that is news
    assert [m.event for m in messages(h)] == ["run_failed", "run_failed"]
    assert messages(h)[1].created_at == at(4)


def test_outcomes_are_recorded_only_by_the_node_holding_the_lease(h: Harness) -> None:
    run = h.start(h.plan(jobs=[cmd("a")], **notifying(on_success=[HOOK])))
    h.step(at(1))
    assert h.status(run) == "COMPLETE"
    [message] = h.tx(lambda c: outbox.claim_due(c, "n1", at(2), at(3), 10))
    # n1's lease ran out and n2 took the message over
    [taken] = h.tx(lambda c: outbox.claim_due(c, "n2", at(4), at(9), 10))
    assert taken.id == message.id
    h.tx(lambda c: outbox.mark_failed(c, message.id, "n1", 1, "late result from n1"))
    assert messages(h)[0].status == "pending", "n1 no longer holds it: nothing changes"
    h.tx(lambda c: outbox.mark_sent(c, message.id, "n2", 1, at(5)))
    sent = messages(h)[0]
    assert (sent.status, sent.sent_at, sent.owner_node, sent.lease_until) == (
        "sent",
        at(5),
        None,
        None,
    )
    assert h.tx(lambda c: outbox.claim_due(c, "n1", at(10), at(11), 10)) == []


def test_old_sent_and_failed_messages_are_purged_pending_ones_kept(h: Harness) -> None:
    for index in range(3):
        run = h.start(h.plan(f"p{index}", jobs=[cmd("a")], **notifying(on_success=[HOOK])))
        h.step(at(1))
        assert h.status(run) == "COMPLETE"
    first, second, _third = messages(h)
    h.tx(lambda c: outbox.claim_due(c, "n1", at(2), at(3), 10))
    h.tx(lambda c: outbox.mark_sent(c, first.id, "n1", 1, at(2)))
    h.tx(lambda c: outbox.mark_failed(c, second.id, "n1", 8, "gone"))
    assert h.tx(lambda c: outbox.purge(c, at(1))) == 0, "created at at(1): not older than that"
    assert h.tx(lambda c: outbox.purge(c, at(100))) == 2
    assert [m.status for m in messages(h)] == ["pending"]


# --- on_start and webhook templates ----------------------------------------------------------

SLACK = "https://hooks.slack.example/services/T0/B0/x"
SLACK_TEMPLATE = (
    '{"text": {{ (event ~ ": " ~ plan ~ " is " ~ status) | tojson }},'
    ' "failed": [{% for job in failed_jobs %}{{ job | tojson }}'
    "{% if not loop.last %},{% endif %}{% endfor %}]}"
)


def test_on_start_is_told_when_a_run_opens_before_its_end(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a")], **notifying(on_start=[HOOK], on_success=[HOOK], on_failure=[OPS])
    )
    run = h.start(plan)
    [started] = messages(h)
    assert (started.event, started.recipient, started.status) == ("run_started", HOOK, "pending")
    assert started.payload["status"] == "RUNNING" and started.payload["ended_at"] is None
    assert started.payload["started_at"] == T0.isoformat()
    assert started.plan_run_id == run.id
    h.step(at(1))
    assert [m.event for m in messages(h)] == ["run_started", "run_completed"]


def test_a_run_complete_as_it_opens_tells_its_start_first(h: Harness) -> None:
    plan = h.plan(
        jobs=[gate("g", "* * * * * ?")],
        window={"cron": "0 * * * * ?"},
        **notifying(on_start=[OPS], on_success=[OPS]),
    )
    h.set_next_fire(plan, at(60))
    [outcome] = h.tx(lambda c: h.scheduler.tick(c, at(60.2)))
    assert outcome.run is not None and outcome.run.status == "COMPLETE"
    rows = h.tx(lambda c: outbox.list_for_tenant(c, h.tenant_id, limit=10))[0]
    # same created_at: the outbox's own order (insertion) puts the start first
    assert sorted(m.event for m in rows) == ["run_completed", "run_started"]


def test_a_queued_run_is_told_when_it_leaves_the_queue(h: Harness) -> None:
    plan = h.plan(jobs=[cmd("a")], policies={"overlap": "buffer_one"}, **notifying(on_start=[HOOK]))
    first = h.start(plan)
    queued = h.open(plan, at(1)).run
    assert queued is not None
    assert [m.plan_run_id for m in messages(h)] == [first.id], "queued: not started yet"
    h.stop(first, at(30))
    assert [m.plan_run_id for m in messages(h)] == [first.id, queued.id]
    assert messages(h)[1].created_at == at(30)


def test_a_webhook_template_shapes_the_payload(h: Harness) -> None:
    plan = h.plan(
        jobs=[cmd("a"), cmd("b")],
        **notifying(on_failure=[SLACK, OPS], webhook_templates={SLACK: SLACK_TEMPLATE}),
    )
    h.start(plan)
    h.step(at(1), ok=False)
    by_recipient = {m.recipient: m for m in messages(h)}
    assert by_recipient[SLACK].payload == {
        "text": "run_failed: p is ERROR",
        "failed": ["a", "b"],
    }
    assert by_recipient[SLACK].status == "pending"
    assert by_recipient[OPS].payload["event"] == "run_failed", "emails keep the standard fields"


def test_a_template_failing_at_render_makes_a_failed_message_saying_why(h: Harness) -> None:
    # accepted at apply (only values show it), but the list is not JSON-quoted: Python's
    # rendering of ['a'] is not JSON
    template = '{"jobs": {{ failed_jobs }}}'
    plan = h.plan(
        jobs=[cmd("a")],
        policies={"on_error": "end"},
        **notifying(on_failure=[SLACK], webhook_templates={SLACK: template}),
    )
    h.start(plan)
    h.step(at(1), ok=False)
    [message] = messages(h)
    assert message.status == "failed" and message.next_attempt_at is None
    assert message.last_error is not None
    assert message.last_error.startswith("webhook template: the template did not render valid JSON")
