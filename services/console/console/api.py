"""HTTP API of the console: the page, its live feed, and the calls that drive the flow.

- ``GET /`` the page (static/: plain HTML, CSS and one ES module; works offline);
- ``GET /events`` Server-Sent Events: stream entries, dead letters, progress snapshots;
- ``/api/...`` the services' APIs, called for the page (adapters.py), errors passed through;
- ``GET /stats`` the feed's own figures: open pages, readers, polls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, Coroutine
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any

import httpx
from contracts.payments import Id
from eventkit import unavailable
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from servicekit import problem, problem_responses

from console.adapters import (
    PROBLEM_MEDIA_TYPE,
    Services,
    UpstreamError,
    describe,
    passed_headers,
)
from console.domain import STALLED_AFTER_MS, Cursor, InvalidCursor, parse_cursor
from console.feed import RECONNECT_MS, Feed, Hub, StreamReader
from console.progress import ProgressPoller
from console.streams import FOLLOWED, GROUPS

STATIC = Path(__file__).parent / "static"


async def get_feed(request: Request) -> Feed:
    return request.state.feed  # set by bootstrap.lifespan


async def get_services(request: Request) -> Services:
    return request.state.services


FeedDep = Annotated[Feed, Depends(get_feed)]
ServicesDep = Annotated[Services, Depends(get_services)]

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


# ---- the live feed -----------------------------------------------------------------------------


def resumed_cursor(
    last_event_id: Annotated[
        str | None,
        Header(
            description="sent by a reconnecting browser: the SSE id of the last event it got",
            max_length=1000,
        ),
    ] = None,
) -> Cursor:
    """Checked before the response starts, so a bad one is answered 422, not a broken stream."""
    if not last_event_id:
        return {}
    try:
        return parse_cursor(last_event_id, [stream.name for stream in FOLLOWED])
    except InvalidCursor as exc:
        raise HTTPException(422, f"Last-Event-ID: {exc}") from exc


def hello(traces: bool) -> str:
    """The first event: what the page follows, so it needs no configuration of its own."""
    return json.dumps(
        {
            "streams": [{"name": s.name, "key": s.key} for s in FOLLOWED],
            "groups": [
                {"name": g.name, "stream": g.stream.name, "dead_letters": g.dead_letters.name}
                for g in GROUPS
            ],
            "stalled_after_ms": STALLED_AFTER_MS,
            "traces": traces,
        }
    )


@router.get(
    "/events",
    response_class=EventSourceResponse,
    tags=["console"],
    responses=problem_responses(422),
)
async def events(
    feed: FeedDep, resumed: Annotated[Cursor, Depends(resumed_cursor)]
) -> AsyncIterable[ServerSentEvent]:
    """The live feed. Event types: ``hello`` (first), ``entry`` (an entry of a public stream of
    payments), ``dead-letter``, ``progress`` (the groups' figures and each recent card's state,
    when they change), ``unavailable`` (Redis cannot be read: the browser reconnects). The SSE id
    is the position in every followed stream: send it back as ``Last-Event-ID`` to resume."""
    try:
        start = await feed.start(resumed)
        async with aclosing(feed.follow(start, hello(feed.trace_template is not None))) as out:
            async for item in out:
                yield ServerSentEvent(
                    event=item.event, raw_data=item.data, id=item.cursor, retry=item.retry_ms
                )
    except RedisError as exc:  # the browser reconnects, with its cursor, after RECONNECT_MS
        if not unavailable(exc):
            raise
        # What failed, not where Redis is (docs/security.md).
        detail = json.dumps({"detail": f"redis unavailable ({type(exc).__name__})"})
        yield ServerSentEvent(event="unavailable", raw_data=detail, retry=RECONNECT_MS)


class ReaderStats(BaseModel):
    stream: str
    key: str
    state: str = Field(description="starting | following | reconnecting")
    last_id: str | None
    entries: int = Field(description="entries handed to the open pages since the start")


class Stats(BaseModel):
    subscribers: int = Field(description="open pages (event streams), each one queue, no Redis")
    dropped: int = Field(description="pages disconnected because they fell too far behind")
    polls: int = Field(description="progress polls of the consumer groups since the start")
    readers: list[ReaderStats] = Field(description="one per followed stream, for every page")


@router.get("/stats", tags=["console"])
async def stats(request: Request) -> Stats:
    hub: Hub = request.state.hub
    readers: dict[str, StreamReader] = request.state.readers
    poller: ProgressPoller = request.state.poller
    return Stats(
        subscribers=len(hub.subscribers),
        dropped=hub.dropped,
        polls=poller.polls,
        readers=[
            ReaderStats(
                stream=name,
                key=reader.stream.key,
                state=reader.state,
                last_id=None if reader.last_id is None else str(reader.last_id),
                entries=reader.entries,
            )
            for name, reader in readers.items()
        ],
    )


# ---- driving the flow: the services' APIs, called for the page ---------------------------------

Json = Annotated[dict[str, Any], Body(description="passed on as it is; the service checks it")]
IdempotencyKey = Annotated[str | None, Header(max_length=128)]
UPSTREAM_ERRORS = problem_responses(404, 409, 422, 502, 503, 504)


def passthrough(response: httpx.Response) -> JSONResponse:
    return JSONResponse(
        response.json(), status_code=response.status_code, headers=passed_headers(response)
    )


def keyed(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


@router.post("/api/orders", status_code=201, tags=["drive"], responses=UPSTREAM_ERRORS)
async def place_order(body: Json, services: ServicesDep) -> JSONResponse:
    """orders: ``POST /orders``."""
    return passthrough(await services.orders.call("POST", "/orders", json=body))


@router.post("/api/payments", status_code=201, tags=["drive"], responses=UPSTREAM_ERRORS)
async def pay(
    body: Json, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """payments: ``POST /payments`` (with the page's Idempotency-Key, so a retry is safe)."""
    response = await services.payments.call(
        "POST", "/payments", json=body, headers=keyed(idempotency_key)
    )
    return passthrough(response)


@router.post(
    "/api/payments/{payment_id}/refunds",
    status_code=201,
    tags=["drive"],
    responses=UPSTREAM_ERRORS,
)
async def refund(
    payment_id: Id, body: Json, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """payments: ``POST /payments/{payment_id}/refunds``."""
    path = f"/payments/{payment_id}/refunds"
    response = await services.payments.call("POST", path, json=body, headers=keyed(idempotency_key))
    return passthrough(response)


class PaymentPanel(BaseModel):
    """One payment, as each service knows it (their answers as they gave them)."""

    payment: dict[str, Any] = Field(description="payments: its state, folded from its events")
    history: list[dict[str, Any]] | None = Field(description="payments: the event store's events")
    cached: dict[str, Any] | None = Field(
        description="orders: its copy from the state events; null: none reached it yet"
    )
    order: dict[str, Any] | None = Field(description="orders: the order and its status")
    notifications: list[dict[str, Any]] | None = Field(description="notifications: sent for it")
    problems: dict[str, dict[str, Any]] = Field(
        description="the parts that could not be had, each a problem detail"
    )


@router.get("/api/payments/{payment_id}", tags=["drive"], responses=UPSTREAM_ERRORS)
async def payment_panel(payment_id: Id, services: ServicesDep) -> PaymentPanel:
    """The panel for one payment: payments' state and history, orders' copy and the order,
    the notifications. Without the payment there is no panel (payments' error is passed on);
    any other part that fails is null, with its problem detail under ``problems``."""
    payment = await services.payments.get_json(f"/payments/{payment_id}")
    parts: dict[str, Coroutine[Any, Any, Any]] = {
        "history": services.payments.get_json(f"/payments/{payment_id}/events"),
        "cached": services.orders.get_or_none(f"/cache/payments/{payment_id}"),
        "order": services.orders.get_or_none(f"/orders/{payment['order_id']}"),
        "notifications": services.notifications.get_json(
            "/notifications", params={"payment_id": payment_id, "limit": "100"}
        ),
    }
    answers = await asyncio.gather(*parts.values(), return_exceptions=True)
    found: dict[str, Any] = {}
    problems: dict[str, dict[str, Any]] = {}
    for part, answer in zip(parts, answers, strict=True):
        if isinstance(answer, UpstreamError):
            found[part], problems[part] = None, describe(answer)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found[part] = answer
    return PaymentPanel(payment=payment, problems=problems, **found)


async def upstream_failed(_: Request, exc: Exception) -> JSONResponse:
    """A service's error, passed on: its own problem detail when it sent one."""
    assert isinstance(exc, UpstreamError)
    if exc.problem is None:
        response = problem(exc.status, exc.detail)
    else:
        response = JSONResponse(exc.problem, status_code=exc.status, media_type=PROBLEM_MEDIA_TYPE)
    response.headers.update(exc.headers)
    return response
