"""The live feed: one Redis reader per stream, shared by every open page.

::

    Redis ──XREAD BLOCK──▶ StreamReader ─┐   (reader.py: one per stream, on its own connection)
    Redis ──XINFO, XPENDING─▶ poller ────┤   (poller.py: one for the whole process)
                                         ▼
                                        Hub ──▶ Subscriber ──▶ follow() ──▶ GET /events
                                (hub.py: a bounded queue per open page, no Redis)

So a hundred open pages cost Redis what one costs: one blocked XREAD per followed stream (four
with one partition, 4·P with P) and one poll. A page that goes away drops its queue, and
nothing else, the moment its response ends.

**Resuming without gaps or repeats.** Every event the page gets carries, as its SSE id, the
position reached in *every* followed stream (cursor.py); a reconnecting browser sends
the last one back as ``Last-Event-ID``. ``follow`` then

1. subscribes first, so that from now on every new entry is queued for this page;
2. reads from Redis (XRANGE, exclusive) what came after the cursor, stream by stream, and sends
   it, moving the cursor on;
3. then sends what was queued, skipping what step 2 already sent (ids at or before the cursor).

Nothing is lost: an entry the reader handed out before step 1 was already in Redis, so step 2
reads it; one handed out after step 1 is in the queue. Nothing is sent twice: per stream, ids
only go up, and an entry is sent only if it lies beyond the cursor.

**A page that falls behind** (its queue is full: a slow network, a sleeping laptop) is not
waited for, or the reader would stop for everybody: its queue is dropped and its response
ends. The browser reconnects with the cursor of the last event it *received*, and step 2 sends
it the rest from Redis.

**What a page may cost.** The page needs no login, so anybody who reaches it could open pages
by the hundred, or resume from the start of a stream with ``…=0-0`` (every retained entry,
seconds of CPU each). So at most ``max_open_pages`` are open at once (more: 503, the browser
tries again), and a resumed cursor reaches back at most ``resume_window`` entries per stream:
an older one starts from the window, and ``hello`` names the streams where entries were
skipped (the page says so). Within the window nothing is lost or repeated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from eventkit import Client

from console.lanes import read_model
from console.lanes.cursor import ZERO, Cursor, EntryId, format_cursor
from console.lanes.hub import Closed, EntryItem, Hub, ProgressItem
from console.lanes.reader import READ_COUNT, item_of
from console.lanes.streams import Stream

RECENT = 20  # entries per stream a page that opens afresh is shown from before it opened
READ_CONCURRENCY = 8  # reads for pages that open or catch up, at once
RECONNECT_MS = 1_000  # the browser's wait before it reconnects (the SSE ``retry`` field)


@dataclass(frozen=True)
class Outgoing:
    """An event for the page; ``cursor`` becomes its SSE id (None: it keeps the page's last)."""

    event: str
    data: str
    cursor: str | None = None
    retry_ms: int | None = None


# Reads the entries after a position in one stream, a page at a time: [] when there are none.
ReadPage = Callable[[str, EntryId], Awaitable[Sequence[EntryItem]]]


async def follow(
    hub: Hub, start: Cursor, read_page: ReadPage, hello: str
) -> AsyncGenerator[Outgoing]:
    """Everything after ``start`` in each stream, then live, with no gap and no repeat (see the
    module's docstring); progress in between. Ends when the hub closes the page."""
    subscriber = hub.subscribe()  # 1. from here on, new entries queue up for this page
    try:
        cursor = dict(start)
        yield Outgoing("hello", hello, format_cursor(cursor), retry_ms=RECONNECT_MS)
        for stream in cursor:  # 2. what came after the cursor, from Redis
            while not subscriber.closed and (page := await read_page(stream, cursor[stream])):
                for item in page:
                    cursor[stream] = item.id
                    yield Outgoing(item.event, item.data, format_cursor(cursor))
        while True:  # 3. live, minus what step 2 sent already
            queued = await subscriber.queue.get()
            if isinstance(queued, Closed):
                return
            if isinstance(queued, ProgressItem):
                yield Outgoing("progress", queued.data)
                continue
            item = queued
            if item.id <= cursor[item.stream]:
                continue
            cursor[item.stream] = item.id
            yield Outgoing(item.event, item.data, format_cursor(cursor))
    finally:  # the page went away, or was dropped: its queue goes with it, at once
        hub.unsubscribe(subscriber)


@dataclass(frozen=True)
class Start:
    """Where a page starts in each stream, and the streams in which its cursor lay further
    back than the resume window (what lay between was skipped)."""

    cursor: Cursor
    skipped: tuple[str, ...] = ()


class Feed:
    """The feed's Redis side for one process: where a page starts, and what it missed; and how
    many pages may be open at once."""

    def __init__(
        self,
        redis: Client,
        hub: Hub,
        streams: Sequence[Stream],
        trace_template: str | None,
        *,
        max_open_pages: int = 100,
        resume_window: int = 1000,
    ) -> None:
        self.redis, self.hub, self.trace_template = redis, hub, trace_template
        self.streams = {stream.name: stream for stream in streams}
        self.max_open_pages, self.resume_window = max_open_pages, resume_window
        self.open_pages = 0  # admitted and not yet ended (lanes.api's page_slot counts them)
        self.refused = 0  # pages turned away because max_open_pages were open
        # However many pages open or reconnect at once (after a restart, all of them), they
        # read Redis through at most this many pooled connections.
        self._reads = asyncio.Semaphore(READ_CONCURRENCY)

    async def start(self, resumed: Cursor) -> Start:
        """The page's cursor: every stream it did not name (a page that opens afresh names
        none) set just before its RECENT newest entries; one it named at its position, or at
        the start of the resume window if that position lies further back."""
        cursor: Cursor = {}
        skipped: list[str] = []
        for name, stream in self.streams.items():
            if name in resumed:
                # Most pages come back after a moment: first see whether what they missed
                # fits the window (a short read); only if not, find where the window starts.
                async with self._reads:
                    missed = await read_model.read_after(
                        self.redis, stream.key, resumed[name], self.resume_window + 1
                    )
                if len(missed) <= self.resume_window:
                    cursor[name] = resumed[name]
                    continue
                skipped.append(name)
            wanted = self.resume_window + 1 if name in resumed else RECENT + 1
            async with self._reads:
                newest = await read_model.newest(self.redis, stream.key, wanted)
            # Just before the newest ``wanted - 1``: the oldest one read is not sent.
            cursor[name] = newest[-1][0] if len(newest) == wanted else ZERO
        return Start(cursor, tuple(skipped))

    async def read_page(self, name: str, after: EntryId) -> list[EntryItem]:
        stream = self.streams[name]
        async with self._reads:
            entries = await read_model.read_after(self.redis, stream.key, after, READ_COUNT)
        return [item_of(stream, id_, fields, self.trace_template) for id_, fields in entries]

    def follow(self, start: Cursor, hello: str) -> AsyncGenerator[Outgoing]:
        return follow(self.hub, start, self.read_page, hello)
