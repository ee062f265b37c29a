"""Probes: is the process alive, is the service ready, is it healthy for compose.

Convention: a service's lifespan puts its Redis client in ``request.state.redis``, its
consumers (if any) in ``request.state.consumers`` and its work-queue workers (if any) in
``request.state.queue_workers``; these routes read them from there.

- ``GET /live`` — liveness: the process answers. Nothing else is checked, on purpose: an
  orchestrator restarts a process whose liveness fails, and restarting every pod because Redis
  is down only adds a restart storm to the outage.
- ``GET /ready`` — readiness: Redis answers and every consumer runs (not reconnecting, not
  waiting on a dependency, not blocked by a configuration fault), with each consumer's figures.
  An orchestrator stops routing requests to a service that is not ready, and waits. The queue
  workers' figures are reported too, but do not decide readiness: no request a service answers
  waits on its workers, and taking it out of service would not mend them (a worker that cannot
  go on stops the process; one that waits for Redis waits with the consumers, which do decide).
- ``GET /health`` — what compose's healthchecks (``depends_on: service_healthy``) wait for:
  Redis answers. Kept apart from readiness so that one slow dependency does not hold the start
  of the whole stack.

Errors say what failed, never where it is: no host, port or URL of a dependency in a body
anyone can read (the log has the details).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from eventkit import Consumer, QueueWorker
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from redis import exceptions as redis_errors
from redis.asyncio import RedisCluster

from servicekit.problems import problem, problem_responses

log = logging.getLogger(__name__)
PING_TIMEOUT_S = 1.0


def consumers_of(request: Request) -> Sequence[Consumer]:
    return getattr(request.state, "consumers", ())


def queue_workers_of(request: Request) -> Sequence[QueueWorker]:
    return getattr(request.state, "queue_workers", ())


def worker_status(worker: QueueWorker) -> dict[str, Any]:
    """The worker loop's own figures (the queue's, from Redis, are on ``/metrics``)."""
    return {"queue": worker.queue.name, "worker": worker.name, **asdict(worker.stats)}


async def consumer_status(consumer: Consumer) -> dict[str, Any]:
    """The loop's own figures and the group's backlog in Redis."""
    try:
        groups = await consumer.redis.xinfo_groups(consumer.stream)
    except redis_errors.ResponseError:  # no such stream yet
        groups = []
    info: dict[str, Any] = next((g for g in groups if g["name"] == consumer.group.encode()), {})
    return {
        "stream": consumer.stream,
        "group": consumer.group,
        "consumer": consumer.name,
        **asdict(consumer.stats),
        "pending": info.get("pending"),  # delivered to the group, not yet acked
        "lag": info.get("lag"),  # in the stream, not yet delivered to the group
        "dead_letters": await consumer.redis.xlen(consumer.dead_letters),
    }


async def redis_answers(request: Request) -> bool:
    """Redis answers a PING; on a cluster, every primary does (each holds some partition this
    service reads or writes: one node answering says nothing of the others)."""
    redis = request.state.redis
    try:
        if isinstance(redis, RedisCluster):
            ping = redis.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            ping = redis.ping()
        await asyncio.wait_for(ping, timeout=PING_TIMEOUT_S)
    except Exception as exc:  # any failure to answer in time means "no"; the log says which
        log.warning("redis did not answer a PING: %s: %s", type(exc).__name__, exc)
        return False
    return True


class Alive(BaseModel):
    status: Literal["alive"]


class Health(BaseModel):
    status: Literal["ok"]
    redis: Literal["up"]


class ConsumerReport(BaseModel):
    """One consumer's figures, as ``consumer_status`` reports them."""

    stream: str
    group: str
    consumer: str
    state: str = Field(
        description="starting | running | waiting | blocked | reconnecting | stopped | failed"
    )
    handled: int
    failed: int
    dead_lettered: int
    lost: int = Field(description="pending entries that retention trimmed before they were handled")
    waits: int = Field(description="times a handler asked to retry later (a dependency was down)")
    retry_in_s: float | None = Field(description="while waiting on a dependency: current backoff")
    last_error: str | None
    pending: int | None = Field(description="delivered to the group, not yet acked")
    lag: int | None = Field(description="not yet delivered; null when Redis cannot count it")
    dead_letters: int


class WorkerReport(BaseModel):
    """One queue worker's figures, as ``worker_status`` reports them."""

    queue: str
    worker: str
    state: str = Field(description="starting | running | reconnecting | stopped | failed")
    delivered: int
    retried: int
    failed: int = Field(description="given up on by this worker (the queue's failed list)")
    reaped: int = Field(description="messages this worker's reaper returned from dead workers")
    last_error: str | None


class Readiness(BaseModel):
    status: Literal["ready"]
    consumers: list[ConsumerReport]
    workers: list[WorkerReport] = Field(
        default_factory=list,
        description="this process's queue workers, for reading: they do not decide readiness",
    )


router = APIRouter(tags=["operations"])


@router.get("/live", response_model=Alive)
async def live() -> Any:
    """Liveness: the process answers. Dependencies are readiness's business, not this."""
    return {"status": "alive"}


@router.get("/ready", response_model=Readiness, responses=problem_responses(503))
async def ready(request: Request) -> Any:
    """Readiness: Redis answers and every consumer runs (not waiting on a dependency); with
    each consumer's and each queue worker's figures."""
    if not await redis_answers(request):
        return problem(503, "redis unreachable")
    try:
        consumers = [await consumer_status(c) for c in consumers_of(request)]
    except redis_errors.RedisError as exc:  # Redis went away between the PING and now
        log.warning("readiness: %s: %s", type(exc).__name__, exc)
        return problem(503, "redis unreachable")
    if any(c["state"] != "running" for c in consumers):
        return problem(503, "a consumer is not running", errors=consumers)
    workers = [worker_status(w) for w in queue_workers_of(request)]
    return {"status": "ready", "consumers": consumers, "workers": workers}


@router.get("/health", response_model=Health, responses=problem_responses(503))
async def health(request: Request) -> Any:
    """For compose's healthchecks: Redis answers a PING within a second."""
    if not await redis_answers(request):
        return problem(503, "redis unreachable")
    return {"status": "ok", "redis": "up"}
