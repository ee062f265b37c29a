"""Endpoints for operators: liveness, readiness with each consumer's figures, dead letters.

Convention: a service's lifespan puts its Redis client in ``request.state.redis`` and its
consumers (if any) in ``request.state.consumers``; these routers read them from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal

from eventkit import (
    REDIS_DOWN,
    Consumer,
    DeadLetter,
    InvalidEvent,
    RetryLater,
    list_dead_letters,
    redrive,
)
from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from redis import exceptions as redis_errors

from servicekit.problems import problem, problem_responses

# Nineteen digits a part: always below 2**64, so every id the pattern admits is one Redis can
# look up (a 20-digit part may overflow, which Redis refuses as an invalid id).
EntryId = Annotated[
    str,
    Path(
        pattern=r"^\d{1,19}-\d{1,19}$",
        max_length=39,
        description="a stream entry id, <milliseconds>-<sequence>",
        examples=["1795689293162-0"],
    ),
]


def consumers_of(request: Request) -> Sequence[Consumer]:
    return getattr(request.state, "consumers", ())


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


class Health(BaseModel):
    status: Literal["ok"]
    redis: Literal["up"]


class ConsumerReport(BaseModel):
    """One consumer's figures, as ``consumer_status`` reports them."""

    stream: str
    group: str
    consumer: str
    state: str = Field(description="starting | running | waiting | reconnecting | stopped | failed")
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


class Readiness(BaseModel):
    status: Literal["ready"]
    consumers: list[ConsumerReport]


router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, responses=problem_responses(503))
async def health(request: Request) -> Any:
    """Liveness: Redis answers a PING within a second and no consumer loop has died."""
    failed = [c.name for c in consumers_of(request) if c.stats.state == "failed"]
    if failed:  # it will not recover by itself: let the orchestrator restart the process
        return problem(503, f"consumer loop stopped by an error: {', '.join(failed)}")
    try:
        await asyncio.wait_for(request.state.redis.ping(), timeout=1.0)
    except Exception as exc:  # any failure to answer means "not healthy", and says why
        return problem(503, f"redis unreachable: {type(exc).__name__}: {exc}")
    return {"status": "ok", "redis": "up"}


@router.get("/ready", response_model=Readiness, responses=problem_responses(503))
async def ready(request: Request) -> Any:
    """Readiness: Redis answers and every consumer runs (not waiting on a dependency)."""
    try:
        consumers = [await consumer_status(c) for c in consumers_of(request)]
    except Exception as exc:  # Redis is down: not ready, and say why
        return problem(503, f"redis unreachable: {type(exc).__name__}: {exc}")
    if any(c["state"] != "running" for c in consumers):
        return problem(503, "a consumer is not running", errors=consumers)
    return {"status": "ready", "consumers": consumers}


class DeadLetterView(BaseModel):
    id: str
    original_id: str
    source: str
    group: str
    consumer: str
    error: str
    deliveries: int
    dead_lettered_at: str
    fields: dict[str, str]  # the original entry (bytes that are not UTF-8 shown as U+FFFD)

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterView:
        fields = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in letter.fields.items()
        }
        return cls(**{**letter.__dict__, "fields": fields})


dead_letters_router = APIRouter(prefix="/dead-letters", tags=["operations"])


@dead_letters_router.get("", responses=problem_responses(422, 503))
async def list_letters(
    request: Request, count: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterView]:
    """The oldest dead letters first, with the error and the original fields."""
    letters = []
    for consumer in consumers_of(request):
        found = await list_dead_letters(consumer.redis, consumer.dead_letters, count)
        letters += [DeadLetterView.of(letter) for letter in found]
    return letters


@dead_letters_router.post(
    "/{dead_letter_id}/redrive", responses=problem_responses(404, 409, 422, 503)
)
async def redrive_letter(request: Request, dead_letter_id: EntryId) -> DeadLetterView:
    """Handle a dead letter again (after a fix); on success it leaves the dead-letter stream."""
    for consumer in consumers_of(request):
        try:
            letter = await redrive(
                consumer.redis, consumer.dead_letters, dead_letter_id, consumer.handlers
            )
        except KeyError:
            continue  # not this consumer's
        except InvalidEvent as exc:
            raise HTTPException(422, f"still not a valid event: {exc}") from exc
        except RetryLater as exc:
            raise HTTPException(503, f"a dependency is unavailable: {exc}") from exc
        except REDIS_DOWN:
            raise  # answered 503 by the app's error handler
        except Exception as exc:  # the handler failed again: say how, keep the letter
            raise HTTPException(409, f"handler failed again: {type(exc).__name__}: {exc}") from exc
        return DeadLetterView.of(letter)
    raise HTTPException(404, f"dead letter {dead_letter_id} not found")
