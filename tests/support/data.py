"""Paths of the test data carried in the repository (``tests/data``, see its README)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA", "IKASAN_FIXTURES", "QUARTZ_CORPUS"]

DATA = Path(__file__).resolve().parents[1] / "data"
IKASAN_FIXTURES = DATA / "ikasan"
QUARTZ_CORPUS = DATA / "conformance" / "quartz-cron.tsv"
