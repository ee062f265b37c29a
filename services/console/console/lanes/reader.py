"""One reader per followed stream: ``XREAD BLOCK`` on a connection of its own, each new entry
made ready to send once (``item_of``) and handed to the hub for every open page.

A reader starts at the stream's newest entry: pages catch up on older ones from Redis
(feed.follow). It keeps the ids of the stream's newest entries, whose card states the progress
poll reports (poller.py). One XREAD names one stream, so each reads from one hash slot,
as a Redis Cluster requires.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from eventkit import Client, DeadLetter, unavailable
from redis import exceptions as redis_errors

from console.lanes import read_model
from console.lanes.cursor import ZERO, EntryId
from console.lanes.entries import DeadLetterView, view_entry
from console.lanes.hub import EntryItem, Hub
from console.lanes.streams import DEAD_LETTER_LANES, FAULTS_LANE, Stream

log = logging.getLogger(__name__)

WINDOW = 100  # recent entry ids per stream whose card states each progress carries
BLOCK_MS = 5_000  # below the client's socket timeout (eventkit.connection), so never a timeout
READ_COUNT = 500  # entries per XREAD and per XRANGE page
RETRY_S = 1.0  # after Redis went away, before the reader asks again


def item_of(
    stream: Stream, entry_id: EntryId, fields: dict[bytes, bytes], trace_template: str | None
) -> EntryItem:
    """A stream entry as the page gets it: an event (or why it is none), or a dead letter. The
    page is told the entry's lane and partition; the item keeps the stream's own name, which
    moves the page's cursor (feed.follow)."""
    if stream.lane in DEAD_LETTER_LANES:
        letter = DeadLetter.from_entry(str(entry_id).encode(), fields)
        view = DeadLetterView(
            stream=stream.lane,
            partition=stream.partition,
            id=str(entry_id),
            group=letter.group,
            original_id=letter.original_id,
            error=letter.error,
            deliveries=letter.deliveries,
            dead_lettered_at=letter.dead_lettered_at,
        )
        return EntryItem(stream.name, entry_id, "dead-letter", view.model_dump_json())
    entry = view_entry(stream.lane, entry_id, fields, trace_template, partition=stream.partition)
    # A chaos run's fault is no entry of payments: an event type of its own, so that whatever
    # reads the feed for payments' events never takes it for one.
    event = "fault" if stream.lane == FAULTS_LANE else "entry"
    return EntryItem(stream.name, entry_id, event, entry.model_dump_json(exclude_none=True))


class StreamReader:
    """Follows one stream with XREAD BLOCK on a connection of its own and hands each new entry
    to the hub."""

    def __init__(
        self,
        redis: Client,
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
        self.stopping = False

    def stop(self) -> None:
        """End the loop at its next turn (within one blocked read): the shutdown also cancels
        it, but a cancellation that lands inside a blocking read can be lost in the client
        (redis/redis-py#2028), and the loop would go on for ever."""
        self.stopping = True

    async def run(self) -> None:
        while not self.stopping:
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
