"""Time-ordered run ids and the memoised cron cache of the scheduler's hot path."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from jobplan.cron import CronExpression
from jobplan.engine.crons import CronCache
from jobplan.store.runs import new_run_ids


def test_run_ids_are_unique_uuid7_ordered_by_creation_time() -> None:
    first = new_run_ids(1000)
    time.sleep(0.002)
    later = new_run_ids(3)
    assert len(set(first)) == 1000
    for text in first + later:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert max(first) < min(later), "a later batch sorts after an earlier one"
    stamp = int(later[0].replace("-", "")[:12], 16) / 1000
    assert abs(stamp - time.time()) < 5
    assert new_run_ids(0) == []


def test_cron_cache_answers_as_the_expression_does() -> None:
    crons = CronCache()
    cron = crons.get("0 0 12 * * ?", "Europe/Paris")
    assert crons.get("0 0 12 * * ?", "Europe/Paris") is cron
    assert crons.get("0 0 12 * * ?", "Europe/Paris", "run_at_gap_end") is not cron
    moment = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    for offset in (0, 1, 86_400):
        at = moment + timedelta(seconds=offset)
        assert crons.next_after(cron, at) == cron.next_after(at)
        assert crons.next_after(cron, at) == cron.next_after(at), "remembered answer"


def test_cron_cache_never_mixes_up_expressions() -> None:
    crons = CronCache()
    moment = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    every_second = CronExpression("* * * * * ?")
    hourly = CronExpression("0 0 * * * ?")
    assert crons.next_after(every_second, moment) == moment + timedelta(seconds=1)
    assert crons.next_after(hourly, moment) == moment + timedelta(hours=1)
