"""console.lanes.feed without Redis: the hub's fan-out and follow()'s hand-over from catching up to
live, with the interleavings that matter played out step by step.

The same guarantees over a real uvicorn and a real Redis: tests/e2e/test_console_sse.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

import pytest
from console.lanes.cursor import ZERO, Cursor, EntryId, parse_cursor
from console.lanes.feed import Outgoing, follow
from console.lanes.hub import EntryItem, Hub

STREAMS = ("a", "b")


class Streams:
    """Streams in memory, and a stand-in for the readers: what is added is stored (so a page
    catching up reads it) and handed to the hub (so a live page gets it), as in the console."""

    def __init__(self, hub: Hub, page_size: int = 3) -> None:
        self.hub, self.page_size = hub, page_size
        self.entries: dict[str, list[EntryItem]] = {name: [] for name in STREAMS}
        self.before_read: Callable[[], None] = lambda: None
        self.clock = 0

    def add(self, stream: str, *, publish: bool = True) -> EntryItem:
        self.clock += 1
        item = EntryItem(stream, EntryId(self.clock, 0), "entry", f'"{stream}{self.clock}"')
        self.entries[stream].append(item)
        if publish:
            self.hub.publish(item)
        return item

    async def read_page(self, stream: str, after: EntryId) -> list[EntryItem]:
        self.before_read()
        return [e for e in self.entries[stream] if e.id > after][: self.page_size]

    def ids(self, stream: str) -> list[EntryId]:
        return [e.id for e in self.entries[stream]]


def start_of_everything() -> Cursor:
    return dict.fromkeys(STREAMS, ZERO)


async def take(feed: AsyncGenerator[Outgoing], count: int) -> list[Outgoing]:
    return [await asyncio.wait_for(anext(feed), timeout=1) for _ in range(count)]


def received(events: list[Outgoing], stream: str) -> list[EntryId]:
    """The entries of ``stream`` the page got, read back from the cursors (the SSE ids): the
    position in ``stream`` moves on each time one of its entries is sent."""
    ids: list[EntryId] = []
    last = ZERO
    for event in events:
        if event.cursor is None:
            continue
        position = parse_cursor(event.cursor, STREAMS)[stream]
        if event.event != "hello" and position != last:
            ids.append(position)
        last = position
    return ids


async def test_entries_that_arrive_while_the_page_catches_up_are_sent_once() -> None:
    hub = Hub()
    streams = Streams(hub)
    for _ in range(5):
        streams.add("a", publish=False)  # before the page opened: only in Redis
    arrivals = iter([["a", "b"], ["a"], []])

    def arrive_while_reading() -> None:  # new entries land between the page's reads
        for stream in next(arrivals, []):
            streams.add(stream)

    streams.before_read = arrive_while_reading
    feed = follow(hub, start_of_everything(), streams.read_page, "{}")
    events = await take(feed, 1 + 8)  # hello, then 7 of a and 1 of b
    streams.add("b")  # and some once it is live
    streams.add("a")
    events += await take(feed, 2)

    assert [e.event for e in events] == ["hello"] + ["entry"] * 10
    assert [e.data for e in events[1:]] == [
        *(f'"{e.stream}{e.id.ms}"' for e in streams.entries["a"][:7]),
        *(f'"b{e.id.ms}"' for e in streams.entries["b"][:1]),
        f'"b{streams.entries["b"][1].id.ms}"',
        f'"a{streams.entries["a"][7].id.ms}"',
    ]
    for stream in STREAMS:
        assert received(events, stream) == streams.ids(stream)  # each once, in order
    assert hub.subscribers  # still live
    await feed.aclose()


async def test_a_page_resumes_after_its_cursor_with_no_gap_and_no_repeat() -> None:
    hub = Hub()
    streams = Streams(hub)
    for _ in range(4):
        streams.add("a", publish=False)
        streams.add("b", publish=False)
    seen = {"a": streams.entries["a"][1].id, "b": streams.entries["b"][2].id}

    feed = follow(hub, seen, streams.read_page, "{}")
    events = await take(feed, 1 + 3)
    assert events[0].cursor == f"a={seen['a']},b={seen['b']}"  # hello: where it stands
    assert received(events, "a") == streams.ids("a")[2:]
    assert received(events, "b") == streams.ids("b")[3:]
    await feed.aclose()


async def test_a_page_that_falls_behind_is_dropped_and_resumes_where_it_was() -> None:
    hub = Hub(queue_size=3)
    streams = Streams(hub)
    feed = follow(hub, start_of_everything(), streams.read_page, "{}")
    await take(feed, 1)  # hello
    live = streams.add("a")
    [first] = await take(feed, 1)  # the page takes one...
    for _ in range(4):  # ...then stops reading while four more arrive: one too many
        streams.add("a")
    assert hub.dropped == 1
    assert not hub.subscribers  # the reader never waited for it
    with pytest.raises(StopAsyncIteration):  # its response ends
        await take(feed, 1)

    # The browser reconnects with the SSE id of the last event it received.
    assert first.cursor is not None
    resumed = follow(hub, parse_cursor(first.cursor, STREAMS), streams.read_page, "{}")
    events = await take(resumed, 1 + 4)
    assert [live.id, *received(events, "a")] == streams.ids("a")
    await resumed.aclose()


async def test_a_page_that_goes_away_leaves_nothing_behind() -> None:
    hub = Hub()
    streams = Streams(hub)
    feeds = [follow(hub, start_of_everything(), streams.read_page, "{}") for _ in range(100)]
    for feed in feeds:
        await take(feed, 1)
    streams.add("a")
    for feed in feeds:  # every page gets it from the one hub
        [event] = await take(feed, 1)
        assert event.data == f'"a{streams.clock}"'
    assert len(hub.subscribers) == 100
    for feed in feeds:
        await feed.aclose()
    assert not hub.subscribers


async def test_progress_goes_out_only_when_it_changed_and_a_new_page_gets_the_latest() -> None:
    hub = Hub()
    streams = Streams(hub)
    feed = follow(hub, start_of_everything(), streams.read_page, "{}")
    await take(feed, 1)
    hub.publish_progress('{"n":1}')
    hub.publish_progress('{"n":1}')  # the same: not sent again
    hub.publish_progress('{"n":2}')
    sent = await take(feed, 2)
    assert [(e.event, e.data, e.cursor) for e in sent] == [
        ("progress", '{"n":1}', None),  # no id: the page's cursor stays where it was
        ("progress", '{"n":2}', None),
    ]
    late = follow(hub, start_of_everything(), streams.read_page, "{}")
    assert [e.data for e in await take(late, 2)] == ["{}", '{"n":2}']
    await feed.aclose()
    await late.aclose()
    assert hub.progress is None  # nobody watches: the next page waits for a fresh poll


async def test_shutting_down_ends_every_page_and_any_that_opens_late() -> None:
    hub = Hub()
    streams = Streams(hub)
    feeds = [follow(hub, start_of_everything(), streams.read_page, "{}") for _ in range(3)]
    for feed in feeds:
        await take(feed, 1)
    hub.close_all()
    for feed in feeds:
        with pytest.raises(StopAsyncIteration):
            await take(feed, 1)
    late = follow(hub, start_of_everything(), streams.read_page, "{}")
    await take(late, 1)  # hello, then the end
    with pytest.raises(StopAsyncIteration):
        await take(late, 1)
