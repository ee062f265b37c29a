"""The hub: fans every stream entry and every change of progress out to the open pages.

Each open page is a ``Subscriber``: a bounded queue, filled by the hub without waiting, emptied
by the page's response (feed.follow). A page that falls too far behind is not waited for: its
queue is dropped and its response ends (it resumes from Redis when the browser reconnects).
No Redis here: a hundred pages cost Redis nothing more than one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from console.lanes.cursor import EntryId

log = logging.getLogger(__name__)

QUEUE_SIZE = 1_000  # events a page may be behind before it is dropped (and reconnects)


@dataclass(frozen=True)
class EntryItem:
    """One stream entry, made ready to send once and fanned out to every page as it is."""

    stream: str  # the stream's name (streams.Stream.name): which position of the cursor it moves
    id: EntryId
    event: str  # the SSE event type: "entry", "dead-letter" or "fault"
    data: str  # JSON


@dataclass(frozen=True)
class ProgressItem:
    data: str  # JSON: progress.Progress


class Closed:
    """Put in a subscriber's queue to end its response."""


CLOSED = Closed()
Item = EntryItem | ProgressItem | Closed


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
    """Fans every entry and every change of progress out to the open pages."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.progress: str | None = None  # the latest progress, for pages that open next
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

    def publish_progress(self, progress: str) -> None:
        """Only a progress that differs from the last: a quiet system sends nothing (and the
        response's keep-alive pings keep proxies from closing it)."""
        if progress != self.progress:
            self.progress = progress
            self.publish(ProgressItem(progress))

    def close_all(self) -> None:
        """End every open response: at shutdown, uvicorn waits for open responses to finish,
        and a page's event stream never finishes by itself."""
        self.closing = True
        for subscriber in self.subscribers:
            subscriber.close()
        self.subscribers.clear()
