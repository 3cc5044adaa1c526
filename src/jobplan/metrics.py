"""Prometheus metrics: every name jobplan exports, defined once (docs/operations.md#metrics).

One :class:`Metrics` per process (per application in tests), with its own
:class:`~prometheus_client.CollectorRegistry`, never the library's global one: several
applications in one process do not share or collide. Lower layers get the object and record
facts where they are born (the engine, the writer, the notifier, the transfer worker, the
HTTP middleware); gauges that are facts of the database are collected when scraped
(``service/metrics.py``), so every node of a cluster reports the same values.

The names and labels are a stable interface (dashboards and alerts depend on them). Every
label takes values from a small fixed set - statuses, kinds, policies, channels, route
templates, HTTP methods and status codes - never a plan, run, tenant or user name or id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "HTTP_METHODS",
    "JOB_KINDS",
    "UNMATCHED_ROUTE",
    "Metrics",
]

#: Fire or start delays and short waits, in seconds (10 ms ... 1 h).
_DELAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
#: Job run durations, in seconds (100 ms ... 1 day).
_DURATION_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)
#: Scheduler ticks and HTTP requests, in seconds (1 ms ... 30 s).
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

JOB_KINDS = ("command", "http", "file", "time", "event")
_PLAN_RUN_ENDS = ("COMPLETE", "ERROR", "ENDED")
_JOB_RUN_ENDS = ("COMPLETE", "ERROR", "KILLED", "SKIPPED")
_MISFIRE_POLICIES = ("skip", "run_once", "run_all")
_CHANNELS = ("webhook", "email")
_DELIVERY_RESULTS = ("sent", "retry", "failed")
_TRANSFER_KINDS = ("export", "import")
_TRANSFER_ENDS = ("completed", "failed", "cancelled", "closed_by_timeout")
#: Methods kept as they are in ``jobplan_http_requests_total``; any other is ``other``.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of requests that matched no route (or were answered before routing).
UNMATCHED_ROUTE = "unmatched"


class Metrics:
    """The metrics of one jobplan process, registered in :attr:`registry`."""

    def __init__(self, node: str = "", version: str = "") -> None:
        # the `_created` series (a timestamp per counter and histogram) are not part of
        # jobplan's interface; this is a process-wide switch of the library
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.schedule_delay = Histogram(
            "jobplan_schedule_delay_seconds",
            "From a window's fire time to its plan run being durable (committed).",
            buckets=_DELAY_BUCKETS,
            registry=registry,
        )
        self.job_start_delay = Histogram(
            "jobplan_job_start_delay_seconds",
            "From a job run being ready (armed, retry due, lock free) to its process or "
            "request starting.",
            buckets=_DELAY_BUCKETS,
            registry=registry,
        )
        self.plan_runs = Counter(
            "jobplan_plan_runs",
            "Plan runs that ended, by final status.",
            ["status"],
            registry=registry,
        )
        self.job_runs = Counter(
            "jobplan_job_runs",
            "Job runs that ended, by job kind and final status.",
            ["kind", "status"],
            registry=registry,
        )
        self.job_run_duration = Histogram(
            "jobplan_job_run_duration_seconds",
            "Start to end of job runs that ended having started, by job kind.",
            ["kind"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.misfires = Counter(
            "jobplan_misfires",
            "Times a plan's window was found more than the misfire threshold late, by the "
            "misfire policy applied.",
            ["policy"],
            registry=registry,
        )
        self.tick_duration = Histogram(
            "jobplan_scheduler_tick_duration_seconds",
            "One scheduler tick, from being queued to the writer to being committed.",
            buckets=_FAST_BUCKETS,
            registry=registry,
        )
        self.writer_queue_depth = Gauge(
            "jobplan_writer_queue_depth",
            "Transactions waiting for this node's writer thread.",
            registry=registry,
        )
        self.notifications = Counter(
            "jobplan_notifications",
            "Notification delivery attempts, by channel and result (sent; retry: failed and "
            "tried again later; failed: given up).",
            ["channel", "result"],
            registry=registry,
        )
        self.transfer_jobs = Counter(
            "jobplan_transfer_jobs",
            "Export and import jobs that ended, by kind and final status.",
            ["kind", "status"],
            registry=registry,
        )
        self.http_requests = Counter(
            "jobplan_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "jobplan_http_request_duration_seconds",
            "HTTP request to the end of its response, by route template and method.",
            ["route", "method"],
            buckets=_FAST_BUCKETS,
            registry=registry,
        )
        self.node_info = Gauge(
            "jobplan_node_info",
            "Always 1: this node's name and jobplan version.",
            ["node", "version"],
            registry=registry,
        )
        self.node_info.labels(node, version).set(1)
        # series that exist from the start, at 0, so that rates and alerts see them; the
        # engine's own are kept at hand (``labels()`` costs more than the count itself)
        self._plan_ends = {status: self.plan_runs.labels(status) for status in _PLAN_RUN_ENDS}
        self._job_durations = {kind: self.job_run_duration.labels(kind) for kind in JOB_KINDS}
        self._job_ends = {
            (kind, status): self.job_runs.labels(kind, status)
            for kind in JOB_KINDS
            for status in _JOB_RUN_ENDS
        }
        for policy in _MISFIRE_POLICIES:
            self.misfires.labels(policy)
        for channel in _CHANNELS:
            for result in _DELIVERY_RESULTS:
                self.notifications.labels(channel, result)
        for transfer in _TRANSFER_KINDS:
            for status in _TRANSFER_ENDS:
                self.transfer_jobs.labels(transfer, status)

    # --- recording (cheap: called on the engine's hot path) --------------------------------

    def plan_run_ended(self, status: str) -> None:
        counter = self._plan_ends.get(status)
        (counter or self.plan_runs.labels(status)).inc()

    def job_run_ended(
        self, kind: str, status: str, started: datetime | None, ended: datetime
    ) -> None:
        """A job run reached a final status; its duration counts if it had started."""
        counter = self._job_ends.get((kind, status))
        (counter or self.job_runs.labels(kind, status)).inc()
        if started is not None:
            histogram = self._job_durations.get(kind) or self.job_run_duration.labels(kind)
            histogram.observe(max(0.0, (ended - started).total_seconds()))

    def runs_opened(self, fires: Iterable[datetime], durable: datetime) -> None:
        """Scheduled runs became durable at ``durable``: observe each fire's delay."""
        for fire in fires:
            self.schedule_delay.observe(max(0.0, (durable - fire).total_seconds()))

    def job_started(self, ready: datetime | None, started: datetime) -> None:
        if ready is not None:
            self.job_start_delay.observe(max(0.0, (started - ready).total_seconds()))

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in HTTP_METHODS else "other"
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_duration.labels(route, method).observe(seconds)
