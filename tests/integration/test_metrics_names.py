"""The metric names are an interface: the Grafana dashboard in docs/ queries only names that
jobplan exports, and docs/operations.md documents every one of them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric

from jobplan.metrics import Metrics
from jobplan.service.metrics import DatabaseGauges
from jobplan.store import Database

DOCS = Path(__file__).resolve().parents[2] / "docs"
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
}


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> list[Metric]:
    """Every family a scrape holds, each with samples (labels) to show."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'metrics.db'}")
    database.upgrade()
    metrics = Metrics("node-1", "1.0.0")
    metrics.registry.register(DatabaseGauges(database))
    metrics.http_request("/healthz", "GET", 200, 0.01)
    try:
        return list(metrics.registry.collect())
    finally:
        database.dispose()


def exported_series(families: list[Metric]) -> set[str]:
    """Every series name a scrape can hold."""
    return {f.name + suffix for f in families for suffix in _SUFFIXES[f.type]}


def expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def test_the_dashboard_queries_only_exported_names(families: list[Metric]) -> None:
    dashboard = json.loads((DOCS / "grafana" / "jobplan.json").read_text())
    queries = list(expressions(dashboard))
    assert len(queries) >= 15
    used = {name for query in queries for name in re.findall(r"\bjobplan_\w+", query)}
    assert used, "the dashboard queries jobplan's metrics"
    unknown = used - exported_series(families)
    assert not unknown, f"the dashboard queries names jobplan does not export: {sorted(unknown)}"
    shown = {f.name for f in families if any(n.startswith(f.name) for n in used)}
    missing = {f.name for f in families} - shown
    assert not missing, f"metrics the dashboard never shows: {sorted(missing)}"


def test_every_metric_is_documented_with_its_labels(families: list[Metric]) -> None:
    text = (DOCS / "operations.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(jobplan_\w+)` \|[^|]*\|([^|]*)\|", section, re.M)
    }
    assert len(families) == 17
    for family in families:
        documented = family.name + ("_total" if family.type == "counter" else "")
        assert documented in rows, f"{documented} is not in the Metrics table"
        labels = set(re.findall(r"`(\w+)`", rows[documented]))
        assert family.samples, family.name
        actual = {label for sample in family.samples for label in sample.labels} - {"le"}
        assert actual == labels, (documented, actual, labels)
