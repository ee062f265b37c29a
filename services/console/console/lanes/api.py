"""HTTP API of the console's live feed: ``GET /events`` (Server-Sent Events: stream entries,
dead letters, progress) and ``GET /stats`` (the feed's own figures: open pages, readers,
polls). The feed itself is feed.py; the page and the calls that drive the flow, console/api.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import aclosing
from typing import Annotated

from eventkit import unavailable
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field, StringConstraints
from redis.exceptions import RedisError
from servicekit import absent_or, problem_responses
from servicekit.openapi import event_stream
from servicekit.problems import RETRY_AFTER_S

from console.domain import STALLED_AFTER_MS
from console.lanes.cursor import Cursor, InvalidCursor, parse_cursor
from console.lanes.feed import RECONNECT_MS, Feed
from console.lanes.hub import Hub
from console.lanes.poller import ProgressPoller
from console.lanes.reader import StreamReader
from console.lanes.streams import Group


async def get_feed(request: Request) -> Feed:
    return request.state.feed  # set by bootstrap.lifespan


async def get_groups(request: Request) -> tuple[Group, ...]:
    return request.state.groups  # one per consumer group and partition


FeedDep = Annotated[Feed, Depends(get_feed)]
GroupsDep = Annotated[tuple[Group, ...], Depends(get_groups)]

router = APIRouter()


# The longest cursor the console writes: a position in each of 4 streams per partition, up to
# 64 partitions (STREAM_PARTITIONS), and in the chaos run's faults, each at most 70 characters
# ("notifications-dead-letters-63", "=", an id of 19 + 1 + 19 digits, ","). About 25 per stream
# in practice.
MAX_CURSOR_CHARS = (4 * 64 + 1) * 70
CursorText = Annotated[str, StringConstraints(max_length=MAX_CURSOR_CHARS)]


def resumed_cursor(
    feed: FeedDep,
    last_event_id: Annotated[
        CursorText | None,
        Header(description="sent by a reconnecting browser: the SSE id of the last event it got"),
        absent_or(CursorText),  # optional, never null
    ] = None,
) -> Cursor:
    """Checked before the response starts, so a bad one is answered 422, not a broken stream."""
    if not last_event_id:
        return {}
    try:
        return parse_cursor(last_event_id, list(feed.streams))
    except InvalidCursor as exc:
        raise HTTPException(422, f"Last-Event-ID: {exc}") from exc


async def page_slot(feed: FeedDep) -> AsyncIterator[None]:
    """One of the ``MAX_OPEN_PAGES`` the console serves at once, held until the page's response
    ends (``scope="request"``); 503 with Retry-After when all are taken, before the response
    starts."""
    if feed.open_pages >= feed.max_open_pages:
        feed.refused += 1
        raise HTTPException(
            503,
            f"{feed.max_open_pages} pages are open, the most this console serves: "
            "try again in a few seconds",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    feed.open_pages += 1
    try:
        yield
    finally:
        feed.open_pages -= 1


def hello(feed: Feed, groups: tuple[Group, ...], skipped: tuple[str, ...] = ()) -> str:
    """The first event: what the page follows, so it needs no configuration of its own. Every
    stream and every group on it, each with its partition; ``lane`` is where the page shows a
    stream's entries (entries and progress name their lane as their ``stream``). ``skipped``:
    the streams where the page's cursor lay further back than the resume window, and what lay
    between was not sent."""
    return json.dumps(
        {
            "streams": [
                {"name": s.name, "key": s.key, "lane": s.lane, "partition": s.partition}
                for s in feed.streams.values()
            ],
            "groups": [
                {
                    "name": g.name,
                    "partition": g.stream.partition,
                    "stream": g.stream.name,
                    "dead_letters": g.dead_letters.name,
                }
                for g in groups
            ],
            "stalled_after_ms": STALLED_AFTER_MS,
            "traces": feed.trace_template is not None,
            "resume": {"window": feed.resume_window, "skipped": list(skipped)},
        }
    )


# What OpenAPI 3.1 can say of an event stream (servicekit.openapi): a text/event-stream string.
EVENT_STREAM = event_stream(
    "Server-Sent Events, for as long as the page stays open",
    "events hello, entry, dead-letter, fault, progress, unavailable; each one's data is JSON "
    "(docs/console.md), its id the page's cursor",
)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    tags=["console"],
    responses={**EVENT_STREAM, **problem_responses(422, 503)},
    dependencies=[Depends(page_slot, scope="request")],
)
async def events(
    feed: FeedDep, groups: GroupsDep, resumed: Annotated[Cursor, Depends(resumed_cursor)]
) -> AsyncIterable[ServerSentEvent]:
    """The live feed. Event types: ``hello`` (first), ``entry`` (an entry of a public stream of
    payments), ``dead-letter``, ``fault`` (a chaos run's fault injected or healed, from
    ``{chaos}:faults``), ``progress`` (the groups' figures and each recent card's state, when they
    change), ``unavailable`` (Redis cannot be read: the browser reconnects). The SSE id
    is the position in every followed stream (each partition's): send it back as
    ``Last-Event-ID`` to resume."""
    try:
        start = await feed.start(resumed)
        async with aclosing(feed.follow(start.cursor, hello(feed, groups, start.skipped))) as out:
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
    refused: int = Field(description="pages turned away: MAX_OPEN_PAGES were open")
    polls: int = Field(description="progress polls of the consumer groups since the start")
    readers: list[ReaderStats] = Field(description="one per followed stream, for every page")


@router.get("/stats", tags=["console"])
async def stats(request: Request) -> Stats:
    hub: Hub = request.state.hub
    readers: dict[str, StreamReader] = request.state.readers
    poller: ProgressPoller = request.state.poller
    feed: Feed = request.state.feed
    return Stats(
        subscribers=len(hub.subscribers),
        dropped=hub.dropped,
        refused=feed.refused,
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
