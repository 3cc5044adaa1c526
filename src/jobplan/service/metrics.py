"""``/metrics``: the node's Prometheus metrics, for callers holding ``metrics:read`` (or
anyone, with ``JOBPLAN_METRICS_PUBLIC``).

The counters and histograms are this node's own (:mod:`jobplan.metrics`, recorded where the
facts are born); the gauges that are facts of the database (open runs, due plans, pending
notifications, whether the database answers) are read here at each scrape, so every node
of a cluster reports the same values for them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobplan import __version__
from jobplan.errors import AuthenticationFailed
from jobplan.logging import get_logger
from jobplan.metrics import Metrics
from jobplan.service.caller import Caller, Permission
from jobplan.settings import Settings
from jobplan.store import Database, gauges

__all__ = ["DatabaseGauges", "MetricsService", "node_name"]

log = get_logger(__name__)
_OPEN_STATUSES = ("QUEUED", "RUNNING", "ERROR")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DatabaseGauges(Collector):
    """The gauges read from the database when scraped (a few indexed counts, one read
    transaction): ``jobplan_runs_open``, ``jobplan_scheduler_due``,
    ``jobplan_notifications_pending`` and ``jobplan_database_up`` (0 when the database does
    not answer; the other three are then left out)."""

    def __init__(self, database: Database, clock: Callable[[], datetime] = _utcnow) -> None:
        self._db = database
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        # without this the registry would collect (query the database) to learn the names
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        runs, due, pending, up = self._families()
        try:
            with self._db.read() as conn:
                open_runs = gauges.open_runs_by_status(conn)
                due_count = gauges.due_plans(conn, self._clock())
                pending_count = gauges.pending_notifications(conn)
        except Exception as exc:  # a scrape reports the outage; it does not fail
            log.warning("metrics_database_unavailable", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        for status in sorted({*_OPEN_STATUSES, *open_runs}):
            runs.add_metric([status], open_runs.get(status, 0))
        due.add_metric([], due_count)
        pending.add_metric([], pending_count)
        up.add_metric([], 1)
        yield from (runs, due, pending, up)

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily
    ]:
        return (
            GaugeMetricFamily(
                "jobplan_runs_open",
                "Plan runs not ended, by status (QUEUED, RUNNING, ERROR waiting for an "
                "operator); the same on every node.",
                labels=["status"],
            ),
            GaugeMetricFamily(
                "jobplan_scheduler_due",
                "Enabled plans whose next fire time has come and not yet been fired; the same "
                "on every node.",
            ),
            GaugeMetricFamily(
                "jobplan_notifications_pending",
                "Notifications not yet sent nor given up; the same on every node.",
            ),
            GaugeMetricFamily(
                "jobplan_database_up", "1 when this node's database answered the scrape."
            ),
        )


def node_name(settings: Settings) -> str:
    """This node's name: ``JOBPLAN_NODE_NAME``, or host name and process id (as the engine
    names it)."""
    return settings.node_name or f"{socket.gethostname()}:{os.getpid()}"


class MetricsService:
    """This node's metrics (:attr:`metrics`, given to the engine and the adapters that
    record them) and their exposition."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.public = settings.metrics_public
        self.metrics = Metrics(node_name(settings), __version__)
        self.metrics.registry.register(DatabaseGauges(database))

    def scrape(self, caller: Caller | None, accept: str | None) -> tuple[bytes, str]:
        """The metrics in the text format ``accept`` asks for (Prometheus text, or
        OpenMetrics) and its content type. Needs ``metrics:read`` unless public; blocking
        (reads the database)."""
        if not self.public:
            if caller is None:
                raise AuthenticationFailed("credentials with the 'metrics:read' scope required")
            caller.require(Permission.METRICS_READ)
        encode, content_type = choose_encoder(accept or "")
        return encode(self.metrics.registry), content_type
