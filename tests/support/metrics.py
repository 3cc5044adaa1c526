"""Read ``/metrics`` as a scraper does: prometheus_client's own parser over the text."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Samples", "metric", "scrape"]

#: (sample name, its labels) -> value
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of one ``GET /metrics`` (which must answer 200 in the text format)."""
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric(client: TestClient, headers: dict[str, str], name: str, **labels: str) -> float:
    """One sample's value (0 when there is none)."""
    return scrape(client, headers).get((name, frozenset(labels.items())), 0.0)
