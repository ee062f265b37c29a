"""``GET /metrics`` for Prometheus, and the HTTP server's request histogram.

The consumer-group gauges (lag, pending, dead letters, running) and the work-queue gauges (where
its messages are, its workers) are read from Redis at scrape time (eventkit.metrics.observe,
observe_queue): right even while the consumer or worker is stopped. A service puts its queues
in ``request.state.queues`` and its workers in ``request.state.queue_workers``. Prometheus asking
for OpenMetrics gets the histograms' exemplars too — the trace id of a request or a run they
measured, which Grafana turns into a link to the trace.
"""

from __future__ import annotations

import logging
import time

from eventkit import metrics as eventkit_metrics
from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, Histogram
from prometheus_client.exposition import choose_encoder
from redis import exceptions as redis_errors
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.health import consumers_of, queue_workers_of

log = logging.getLogger(__name__)

HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to answer an HTTP request, by route template (never a raw path with ids).",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# The probes and the scrape itself: every few seconds, and not what a user waits for.
UNMEASURED = frozenset({"/live", "/ready", "/health", "/metrics"})


class HttpMetrics:
    """Times every request; labels it with the route it matched (``{payment_id}``, not the
    id), or ``unmatched`` (a 404 for a path nobody serves)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            if route not in UNMEASURED:
                HTTP_DURATION.labels(scope["method"], route, str(status)).observe(
                    time.perf_counter() - started, exemplar=eventkit_metrics.exemplar()
                )


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus' text format, or OpenMetrics (with exemplars) when asked for."""
    watched: list[eventkit_metrics.Watched] = list(getattr(request.state, "watched", ()))
    for consumer in consumers_of(request):
        eventkit_metrics.RUNNING.labels(consumer.stream, consumer.group, consumer.name).set(
            consumer.stats.state == "running"
        )
        watched.append(
            eventkit_metrics.Watched(
                consumer.redis, consumer.stream, consumer.group, consumer.dead_letters
            )
        )
    for group in watched:
        try:
            await eventkit_metrics.observe(group)
        except redis_errors.RedisError as exc:  # the scrape still answers: with older gauges
            log.warning("metrics: could not read %s from redis: %s", group.stream, exc)
    for worker in queue_workers_of(request):
        eventkit_metrics.QUEUE_WORKER_RUNNING.labels(worker.queue.name, worker.name).set(
            worker.stats.state == "running"
        )
    for queue in getattr(request.state, "queues", ()):  # the queues it fills or works on
        try:
            await eventkit_metrics.observe_queue(queue)
        except redis_errors.RedisError as exc:
            log.warning("metrics: could not read queue %s from redis: %s", queue.name, exc)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), media_type=content_type)
