"""Every line of the Quartz conformance corpus, computed by Quartz's own ``CronExpression``.

Each line is ``expression<TAB>zone<TAB>start epoch-ms<TAB>expected``, where ``expected`` is the
next fire time in epoch-ms, ``-1`` for none, or ``ERR:<Quartz's message>`` if Quartz rejects
the expression. Valid lines must agree 100%; every ``ERR:`` line must raise ``CronError``.
The corpus is carried in the repository (``tests/data/conformance``); a missing corpus is a
failure, not a skip.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobplan.cron import CronError, CronExpression
from support.data import QUARTZ_CORPUS

CORPUS = QUARTZ_CORPUS

# Expressions Quartz accepts that we reject on purpose (documented in docs/cron.md).
DELIBERATE_DEVIATIONS: dict[str, str] = {
    "0 0/0 * ? * *": "a step of 0 is meaningless (Quartz silently reads '0/0' as '0')",
    "0 0 0 ? * L-2": "'L-n' belongs to day-of-month (Quartz silently reads it as 'L' = Saturday)",
}


def _read_corpus() -> list[tuple[int, str, str, int, str]]:
    assert CORPUS.is_file(), f"conformance corpus not found at {CORPUS}: tests/data is incomplete"
    rows = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        expression, zone, start_ms, expected = line.split("\t")
        rows.append((number, expression, zone, int(start_ms), expected))
    return rows


def _iso(epoch_ms: int, expression: CronExpression) -> str:
    if epoch_ms == -1:
        return "none"
    return datetime.fromtimestamp(epoch_ms / 1000, expression.timezone).isoformat()


def test_corpus_agrees_with_quartz_on_every_line() -> None:
    rows = _read_corpus()
    assert len(rows) > 9000, f"corpus unexpectedly short: {len(rows)} lines"
    expressions: dict[tuple[str, str], CronExpression | CronError] = {}
    mismatches: list[str] = []
    checked = rejected = deviations = 0
    deviations_seen: set[str] = set()
    for number, text, zone, start_ms, expected in rows:
        key = (text, zone)
        if key not in expressions:
            try:
                expressions[key] = CronExpression(text, zone)
            except CronError as exc:
                expressions[key] = exc
        cron = expressions[key]
        if expected.startswith("ERR:"):
            if isinstance(cron, CronError):
                rejected += 1
            else:
                mismatches.append(f"line {number}: {text!r} accepted, Quartz says {expected}")
            continue
        if text in DELIBERATE_DEVIATIONS:
            assert isinstance(cron, CronError), f"deviation {text!r} is no longer rejected"
            deviations += 1
            deviations_seen.add(text)
            continue
        if isinstance(cron, CronError):
            mismatches.append(f"line {number}: {text!r} rejected ({cron}), Quartz accepts it")
            continue
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
        fire = cron.next_after(start)
        got = -1 if fire is None else int(fire.timestamp() * 1000)
        checked += 1
        if got != int(expected):
            mismatches.append(
                f"line {number}: {text!r} in {zone} after {_iso(start_ms, cron)}: "
                f"expected {_iso(int(expected), cron)}, got {_iso(got, cron)}"
            )
    summary = f"{checked} fire times checked, {rejected} rejections, {deviations} deviations"
    assert not mismatches, (
        f"{len(mismatches)} of {len(rows)} lines disagree with Quartz ({summary}); first 20:\n"
        + "\n".join(mismatches[:20])
    )
    assert checked + rejected + deviations == len(rows), summary
    assert deviations_seen == set(DELIBERATE_DEVIATIONS), summary


def test_every_deliberate_deviation_is_in_the_corpus_and_rejected_with_a_reason() -> None:
    corpus_expressions = {row[1] for row in _read_corpus()}
    for text, reason in DELIBERATE_DEVIATIONS.items():
        assert text in corpus_expressions, f"{text!r} ({reason}) is not in the corpus"
        try:
            CronExpression(text)
        except CronError as exc:
            assert str(exc), reason
        else:
            raise AssertionError(f"{text!r} should be rejected: {reason}")
