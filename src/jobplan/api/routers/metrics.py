"""``/metrics``: this node's Prometheus metrics (docs/operations.md#metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from jobplan.api.adapter import run_blocking
from jobplan.api.deps import MetricsCallerDep, ServicesDep
from jobplan.api.openapi import AUTHENTICATED, problem_responses

router = APIRouter(tags=["operations"])

_TEXT = {"schema": {"type": "string"}}


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics in the Prometheus text format, or OpenMetrics when "
            "the `Accept` header asks for `application/openmetrics-text`.",
            "content": {"text/plain": _TEXT, "application/openmetrics-text": _TEXT},
        },
        **problem_responses(*AUTHENTICATED),
    },
)
async def metrics(request: Request, services: ServicesDep, caller: MetricsCallerDep) -> Response:
    """This node's metrics. Needs a credential with the `metrics:read` scope (system
    administrators hold it), unless the server runs with `JOBPLAN_METRICS_PUBLIC=true`.
    Counters and histograms are this node's own; gauges read from the database are the
    same on every node."""
    body, content_type = await run_blocking(
        services.metrics.scrape, caller, request.headers.get("accept")
    )
    return Response(content=body, media_type=content_type)
