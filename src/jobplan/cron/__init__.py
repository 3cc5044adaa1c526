"""Quartz cron expressions: parsing, validation, next fire times and descriptions.

``CronExpression("0 15 10 ? * 6#3", "Europe/London").next_after(moment)`` gives the same
fire times as Quartz's ``CronExpression.getTimeAfter`` (Quartz 2.5), checked line by line
against a corpus computed by Quartz itself (``tests/unit/cron/test_cron_conformance.py``);
see ``docs/cron.md`` for the syntax, Quartz's numbering, DST behaviour and the few
deliberate deviations.

Why our own engine: no library implements Quartz exactly. croniter reads day-of-week with
0=SUN (so Quartz's ``6#3``, the third Friday, becomes the third Saturday), puts seconds last
and has no ``?``, ``LW`` or ``L-n``; no library handles ``LW``, ``L-n``, ``#``, ``?`` and the
year field together, nor Quartz's DST behaviour and its ``W`` quirks. The engine is
table-driven (``_engine.py``) and more than ten times faster than croniter
(``bench/cron_bench.py``, ``docs/performance.md``).
"""

from __future__ import annotations

from ._errors import CronError
from ._expression import CronExpression, DstGap
from ._parser import parse as _parse

__all__ = ["CronError", "CronExpression", "DstGap", "validate"]


def validate(expression: str) -> str:
    """Check a Quartz expression without building its schedule (parses are cached, so this
    is cheap for expressions seen before); returns it with whitespace normalised, or raises
    :class:`CronError` naming the bad field, as :class:`CronExpression` would."""
    return _parse(expression).text
