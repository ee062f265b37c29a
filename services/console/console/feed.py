"""The live feed: one Redis reader per stream, shared by every open page.

::

    Redis ──XREAD BLOCK──▶ StreamReader ─┐   (one per stream, each on a connection of its own)
    Redis ──XINFO, XPENDING─▶ poller ────┤   (progress.py: one for the whole process)
                                         ▼
                                        Hub ──▶ Subscriber ──▶ follow() ──▶ GET /events
                                                (a bounded queue per open page, no Redis)

So a hundred open pages cost Redis what one costs: four blocked XREADs and one poll. A page
that goes away drops its queue, and nothing else, the moment its response ends.

**Resuming without gaps or repeats.** Every event the page gets carries, as its SSE id, the
position reached in *every* followed stream (domain.format_cursor); a reconnecting browser sends
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
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from eventkit import DeadLetter, unavailable
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from console import read_model
from console.domain import ZERO, Cursor, DeadLetterView, EntryId, format_cursor, view_entry
from console.streams import DEAD_LETTER_STREAMS, Stream

log = logging.getLogger(__name__)

QUEUE_SIZE = 1_000  # events a page may be behind before it is dropped (and reconnects)
WINDOW = 100  # recent entry ids per stream whose card states each progress snapshot carries
RECENT = 20  # entries per stream a page that opens afresh is shown from before it opened
BLOCK_MS = 5_000  # below the client's socket timeout (eventkit.connection), so never a timeout
READ_COUNT = 500  # entries per XREAD and per XRANGE page
RETRY_S = 1.0  # after Redis went away, before the reader asks again
READ_CONCURRENCY = 8  # reads for pages that open or catch up, at once
RECONNECT_MS = 1_000  # the browser's wait before it reconnects (the SSE ``retry`` field)


@dataclass(frozen=True)
class EntryItem:
    """One stream entry, made ready to send once and fanned out to every page as it is."""

    stream: str
    id: EntryId
    event: str  # the SSE event type: "entry" or "dead-letter"
    data: str  # JSON


@dataclass(frozen=True)
class ProgressItem:
    data: str  # JSON: domain.Snapshot


class Closed:
    """Put in a subscriber's queue to end its response."""


CLOSED = Closed()
Item = EntryItem | ProgressItem | Closed


def item_of(
    stream: Stream, entry_id: EntryId, fields: dict[bytes, bytes], trace_template: str | None
) -> EntryItem:
    """A stream entry as the page gets it: an event (or why it is none), or a dead letter."""
    if stream.name in DEAD_LETTER_STREAMS:
        letter = DeadLetter.from_entry(str(entry_id).encode(), fields)
        view = DeadLetterView(
            stream=stream.name,
            id=str(entry_id),
            group=letter.group,
            original_id=letter.original_id,
            error=letter.error,
            deliveries=letter.deliveries,
            dead_lettered_at=letter.dead_lettered_at,
        )
        return EntryItem(stream.name, entry_id, "dead-letter", view.model_dump_json())
    entry = view_entry(stream.name, entry_id, fields, trace_template)
    return EntryItem(stream.name, entry_id, "entry", entry.model_dump_json(exclude_none=True))


class Subscriber:
    """One open page: a bounded queue, filled by the hub, emptied by its response."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=size)
        self.closed = False

    def offer(self, item: EntryItem | ProgressItem) -> bool:
        """Queue ``item`` without waiting. False: the page was too far behind and is closed."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close()
            return False
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # What is still queued was never sent, so the page's cursor lies before it: it comes
        # back from Redis when the page reconnects. Drop it, to make room for the end.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(CLOSED)


class Hub:
    """Fans every entry and every changed progress snapshot out to the open pages."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.progress: str | None = None  # the latest snapshot, for pages that open next
        self.dropped = 0  # pages disconnected because they fell behind
        self.closing = False

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self.queue_size)
        if self.closing:  # shutting down: this response ends at once
            subscriber.close()
            return subscriber
        if self.progress is not None:
            subscriber.offer(ProgressItem(self.progress))
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            self.progress = None  # stale by the time anybody opens the page again

    def publish(self, item: EntryItem | ProgressItem) -> None:
        for subscriber in list(self.subscribers):
            if not subscriber.offer(item):
                self.dropped += 1
                self.subscribers.discard(subscriber)
                log.warning("a page fell %d events behind: dropped, it resumes", self.queue_size)

    def publish_progress(self, snapshot: str) -> None:
        """Only a snapshot that differs from the last: a quiet system sends nothing (and the
        response's keep-alive pings keep proxies from closing it)."""
        if snapshot != self.progress:
            self.progress = snapshot
            self.publish(ProgressItem(snapshot))

    def close_all(self) -> None:
        """End every open response: at shutdown, uvicorn waits for open responses to finish,
        and a page's event stream never finishes by itself."""
        self.closing = True
        for subscriber in self.subscribers:
            subscriber.close()
        self.subscribers.clear()


class StreamReader:
    """Follows one stream with XREAD BLOCK on a connection of its own and hands each new entry
    to the hub. Starts at the newest entry: pages catch up on older ones from Redis (follow)."""

    def __init__(
        self,
        redis: Redis,
        stream: Stream,
        hub: Hub,
        trace_template: str | None,
        *,
        block_ms: int = BLOCK_MS,
    ) -> None:
        self.redis, self.stream, self.hub = redis, stream, hub
        self.trace_template, self.block_ms = trace_template, block_ms
        self.recent: deque[EntryId] = deque(maxlen=WINDOW)  # the poller reports on these
        self.last_id: EntryId | None = None
        self.state = "starting"  # starting | following | reconnecting
        self.entries = 0  # handed to the hub since the start

    async def run(self) -> None:
        while True:
            try:
                if self.last_id is None:
                    await self._start_at_the_newest_entry()
                await self._read()
            except redis_errors.RedisError as exc:
                if not unavailable(exc):  # NOPERM and the like: waiting will not fix it
                    raise
                self.state = "reconnecting"
                log.warning("%s: redis unavailable (%s), retrying", self.stream.key, exc)
                await asyncio.sleep(RETRY_S)

    async def _start_at_the_newest_entry(self) -> None:
        # A fixed position, not "$": "$" means the newest entry at the time of *each* call, so
        # an entry added between two calls would be skipped.
        entries = await read_model.newest(self.redis, self.stream.key, WINDOW)
        self.recent.extend(entry_id for entry_id, _ in reversed(entries))
        self.last_id = entries[0][0] if entries else ZERO

    async def _read(self) -> None:
        assert self.last_id is not None
        self.state = "following"
        reply = await self.redis.xread(
            {self.stream.key: str(self.last_id)}, count=READ_COUNT, block=self.block_ms
        )
        for _key, entries in reply:
            for raw_id, fields in entries:
                entry_id = EntryId.parse(raw_id)
                self.last_id = entry_id
                self.recent.append(entry_id)
                self.entries += 1
                self.hub.publish(item_of(self.stream, entry_id, fields, self.trace_template))


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
    module's docstring); progress snapshots in between. Ends when the hub closes the page."""
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


class Feed:
    """The feed's Redis side for one process: where a page starts, and what it missed."""

    def __init__(
        self,
        redis: Redis,
        hub: Hub,
        streams: Sequence[Stream],
        trace_template: str | None,
    ) -> None:
        self.redis, self.hub, self.trace_template = redis, hub, trace_template
        self.streams = {stream.name: stream for stream in streams}
        # However many pages open or reconnect at once (after a restart, all of them), they
        # read Redis through at most this many pooled connections.
        self._reads = asyncio.Semaphore(READ_CONCURRENCY)

    async def start(self, resumed: Cursor) -> Cursor:
        """The page's cursor, with every stream it did not name (a page that opens afresh names
        none) set just before its RECENT newest entries."""
        cursor: Cursor = {}
        for name, stream in self.streams.items():
            if name in resumed:
                cursor[name] = resumed[name]
                continue
            async with self._reads:
                entries = await read_model.newest(self.redis, stream.key, RECENT + 1)
            cursor[name] = entries[-1][0] if len(entries) > RECENT else ZERO
        return cursor

    async def read_page(self, name: str, after: EntryId) -> list[EntryItem]:
        stream = self.streams[name]
        async with self._reads:
            entries = await read_model.read_after(self.redis, stream.key, after, READ_COUNT)
        return [item_of(stream, id_, fields, self.trace_template) for id_, fields in entries]

    def follow(self, start: Cursor, hello: str) -> AsyncGenerator[Outgoing]:
        return follow(self.hub, start, self.read_page, hello)
