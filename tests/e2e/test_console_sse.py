"""The console's live feed over a real uvicorn (``python -m console``) and a real Redis.

What the page relies on: resuming with Last-Event-ID loses and repeats nothing, even while
entries keep arriving; a hundred open pages cost Redis one reader per stream; a page that goes
away leaves nothing behind; keep-alive pings on a quiet feed; a clean stop with pages open.
Entries are written by admin, as payments and the consumers would: the console needs no other
service for its feed.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from console.lanes.cursor import EntryId, parse_cursor
from console.lanes.feed import READ_CONCURRENCY, RECENT
from console.lanes.streams import followed
from eventkit import Event
from eventkit.partitions import Partitions

from tests.helpers import Stack, eventually_async, sse

FOLLOWED = followed(Partitions(1))  # the stack's services run with one partition (the default)
NAMES = [stream.name for stream in FOLLOWED]
KEYS = {stream.name: stream.key for stream in FOLLOWED}
FED = ("entry", "dead-letter", "fault")  # the events that carry a stream entry


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("console-sse")).start("console")
    yield system
    system.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as http:
        yield http


def fields_for(stream: str, n: int) -> dict[str, str]:
    """What payments publishes on the public streams, a consumer writes as a dead letter, or a
    chaos run announces."""
    if stream.endswith("dead-letters"):
        return {
            "original_id": f"{n}-0",
            "source": "{payments}:state",
            "group": stream.split("-")[0],
            "consumer": "c",
            "error": "ValueError: test",
            "deliveries": "1",
            "dead_lettered_at": "2026-12-01T00:00:00+00:00",
        }
    if stream == "faults":  # as a chaos run announces a fault
        data = {"run": "r", "seed": 1, "kind": "sigkill", "target": "orders", "detail": {"n": n}}
        return Event(source="chaos", type="FaultInjected", subject="orders", data=data).to_fields()
    subject = f"p-{n}"
    event = Event(source="payments", type="PaymentReceived", subject=subject, data={"n": n})
    return event.to_fields()


async def stats(client: httpx.AsyncClient, console: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await client.get(f"{console}/stats")).json()
    return answer


def entry_of(event: sse.SseEvent) -> tuple[str, EntryId]:
    payload = event.json()
    return payload["stream"], EntryId.parse(payload["id"])


async def test_resuming_with_last_event_id_loses_and_repeats_nothing(
    stack: Stack, admin: redis.Redis, client: httpx.AsyncClient
) -> None:
    # A writer keeps publishing on all five streams while the page drops its connection again
    # and again, each time after a different number of events, and resumes with the SSE id of
    # the last event it got: catching up and the live hand-over are both under way each time.
    stop = threading.Event()

    def write() -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            # Mostly payments' two streams; dead letters of both groups and faults too.
            name = {0: NAMES[3], 5: NAMES[4]}.get(n % 10, NAMES[n % 3])
            admin.xadd(KEYS[name], fields_for(name, n))
            stop.wait(0.002)  # pacing the load, not waiting for anything

    got: dict[str, list[EntryId]] = {name: [] for name in NAMES}
    cursor: str | None = None
    start: dict[str, EntryId] | None = None
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for round_, take in enumerate([1, 7, 30, 2, 55, 3, 12, 90, 5, 25, 1, 40]):
            async with sse.stream(client, stack["console"].url, cursor) as response:
                assert response.status_code == 200
                seen = 0
                async for event in sse.events(response):
                    if event.event == "hello":
                        assert event.retry == 1000
                        if cursor is not None:  # it says where the page resumes: where it was
                            assert event.id == cursor, round_
                        start = start or parse_cursor(event.id or "", NAMES)
                    if event.event in FED:
                        name, entry = entry_of(event)
                        got[name].append(entry)
                        seen += 1
                    if event.id is not None:
                        cursor = event.id
                    if seen == take:
                        break  # the connection drops here, mid-stream
    finally:
        stop.set()
        writer.join(timeout=10)

    # Written all there is: catch up to the newest entry of every stream.
    newest = {name: EntryId.parse(admin.xrevrange(KEYS[name], count=1)[0][0]) for name in NAMES}
    async with sse.stream(client, stack["console"].url, cursor) as response:
        async for event in sse.events(response):
            if event.event in FED:
                name, entry = entry_of(event)
                got[name].append(entry)
            if event.id is not None and parse_cursor(event.id, NAMES) == newest:
                break

    assert start is not None
    for name in NAMES:
        after = admin.xrange(KEYS[name], min=f"({start[name]}", max="+")
        expected = [EntryId.parse(entry_id) for entry_id, _ in after]
        assert len(expected) > 20, name  # the writer really wrote during the rounds
        assert got[name] == expected, f"{name}: a gap or a repeat"


async def subscribers(client: httpx.AsyncClient, console: str, count: int) -> bool:
    return (await stats(client, console))["subscribers"] == count


async def read_until(events: AsyncIterator[sse.SseEvent], entry: EntryId) -> None:
    async for event in events:
        if event.event == "entry" and entry_of(event)[1] == entry:
            return
    raise AssertionError(f"the response ended before {entry}")


async def test_a_hundred_pages_share_one_reader_per_stream_and_leave_nothing_behind(
    stack: Stack, admin: redis.Redis, client: httpx.AsyncClient
) -> None:
    def readers() -> list[dict[str, Any]]:
        return [c for c in admin.client_list() if c["name"].startswith("console:xread:")]

    expected_readers = sorted(f"console:xread:{name}" for name in NAMES)
    assert sorted(c["name"] for c in readers()) == expected_readers
    async with AsyncExitStack() as pages:
        responses = [
            await pages.enter_async_context(sse.stream(client, stack["console"].url))
            for _ in range(100)
        ]
        assert {response.status_code for response in responses} == {200}
        url = stack["console"].url
        await eventually_async(lambda: subscribers(client, url, 100), what="100 pages")

        # Still one blocked XREAD per stream, on its own connection, for all of them; the
        # console's other connections are the small pool its reads share.
        clients = admin.client_list()
        assert sorted(c["name"] for c in readers()) == expected_readers
        assert all(c["cmd"] == "xread" for c in readers())
        console_connections = [c for c in clients if c["user"] == "console"]
        assert len(console_connections) <= len(NAMES) + READ_CONCURRENCY + 2

        # And each of the hundred gets what the one reader reads.
        entry = EntryId.parse(admin.xadd(KEYS["state"], fields_for("state", 1)))
        await asyncio.wait_for(
            asyncio.gather(*(read_until(sse.events(r), entry) for r in responses)), timeout=30
        )
        assert (await stats(client, url))["readers"][0]["last_id"] == str(entry)
    # The pages went away: their queues went with them (a loaded machine may take seconds to
    # see a hundred connections close).
    await eventually_async(lambda: subscribers(client, url, 0), timeout=20, what="no page")
    assert sorted(c["name"] for c in readers()) == expected_readers


async def test_a_page_that_opens_afresh_starts_with_the_newest_entries(
    stack: Stack, admin: redis.Redis, client: httpx.AsyncClient
) -> None:
    key = KEYS["notifications"]
    for n in range(RECENT + 5):
        admin.xadd(key, fields_for("notifications", n))
    newest = [EntryId.parse(entry_id) for entry_id, _ in admin.xrevrange(key, count=RECENT + 1)]
    shown: list[EntryId] = []
    async with sse.stream(client, stack["console"].url) as response:
        events = sse.events(response)
        hello = await anext(events)
        assert hello.event == "hello"
        assert parse_cursor(hello.id or "", NAMES)["notifications"] == newest[-1]
        assert [s["name"] for s in hello.json()["streams"]] == NAMES
        async for event in events:
            if event.event == "entry" and entry_of(event)[0] == "notifications":
                shown.append(entry_of(event)[1])
                if len(shown) == RECENT:
                    break
    assert shown == newest[-2::-1]  # the RECENT newest, oldest first


def test_a_last_event_id_the_console_did_not_write_is_refused_before_streaming(
    stack: Stack,
) -> None:
    response = httpx.get(
        f"{stack['console'].url}/events", headers={"Last-Event-ID": "state=1-0,elsewhere=2-0"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "Last-Event-ID: unknown part 'elsewhere=2-0'" in response.json()["detail"]


@pytest.mark.slow
async def test_a_quiet_feed_sends_keep_alive_pings(
    stack: Stack, admin: redis.Redis, client: httpx.AsyncClient
) -> None:
    # Quiet: both groups exist and have been given everything, so the progress does
    # not change and nothing else is sent. FastAPI pings an idle stream every 15 s.
    for stream, group in (("state", "orders"), ("notifications", "notifications")):
        admin.xadd(KEYS[stream], fields_for(stream, 0))
        admin.xgroup_create(KEYS[stream], group, id="$", mkstream=True)
    async with sse.stream(client, stack["console"].url) as response:
        kinds: list[str] = []
        async for event in sse.events(response):
            kinds.append(event.event)
            if event.event == sse.COMMENT:
                assert event.data == "ping"
                break
    assert "progress" in kinds  # it was live, and then quiet


def test_trace_links_when_a_trace_ui_is_configured(stack: Stack, admin: redis.Redis) -> None:
    template = "http://t.example/{trace_id}"
    traced = stack.add("console", "console-traced", TRACE_URL_TEMPLATE=template)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    fields = fields_for("state", 7) | {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    entry = admin.xadd(KEYS["state"], fields).decode()

    async def first_entries() -> tuple[dict[str, Any], dict[str, Any]]:
        async with (
            httpx.AsyncClient() as http,
            sse.stream(http, traced.url) as response,
        ):
            events = sse.events(response)
            hello = await anext(events)
            async for event in events:
                if event.event == "entry" and event.json()["id"] == entry:
                    return hello.json(), event.json()
        raise AssertionError("no entry")

    hello, payload = asyncio.run(first_entries())
    assert hello["traces"] is True
    assert payload["trace_url"] == f"http://t.example/{trace_id}"
    traced.stop()


def test_stopping_with_pages_open_ends_their_streams_and_exits_at_once(stack: Stack) -> None:
    # uvicorn waits at shutdown for open responses to end, and a page's never would: the
    # console ends them itself (console/__main__.py). Were it not so, this test would hang.
    console = stack.add("console", "console-stopping")

    async def pages_end_when_it_stops() -> int:
        async with httpx.AsyncClient() as http, AsyncExitStack() as pages:
            responses = [
                await pages.enter_async_context(sse.stream(http, console.url)) for _ in range(3)
            ]
            await eventually_async(lambda: subscribers(http, console.url, 3))
            console.signal(signal.SIGTERM)
            ended = 0
            for response in responses:
                async for _event in sse.events(response):
                    pass  # until the console ends the response
                ended += 1
            return ended

    assert asyncio.run(asyncio.wait_for(pages_end_when_it_stops(), timeout=20)) == 3
    assert console.process is not None
    # uvicorn re-raises the signal once it has shut down: "terminated by SIGTERM", cleanly.
    assert console.process.wait(timeout=10) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in console.log()


async def test_while_redis_is_away_pages_are_told_and_the_feed_resumes_without_a_gap(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    stack = Stack(tmp_path).start("console")  # a Redis of its own, to kill
    try:
        url, admin = stack["console"].url, stack.redis.client()
        async with sse.stream(client, url) as response:
            events = sse.events(response)
            assert (await anext(events)).event == "hello"
            before = EntryId.parse(admin.xadd(KEYS["state"], fields_for("state", 1)))
            await read_until(events, before)

            stack.redis.kill()  # the page stays open: it waits on its queue, not on Redis
            async for event in events:
                if event.event == "progress" and "error" in event.json():
                    break  # the poll could not read the groups, and the page is told
            async with sse.stream(client, url) as refused:  # a page that opens meanwhile
                opened = [event async for event in sse.events(refused)]
            assert [e.event for e in opened] == ["unavailable"]
            assert opened[0].retry == 1000  # and it will try again in a second

            stack.redis.start()  # from its append-only file: the entries are still there
            after = EntryId.parse(stack.redis.client().xadd(KEYS["state"], fields_for("state", 2)))
            sent: list[EntryId] = []
            async for event in events:
                if event.event == "entry":
                    sent.append(entry_of(event)[1])
                    if sent[-1] == after:
                        break
            assert sent == [after]  # the reader resumed after `before`: nothing twice
    finally:
        stack.stop()
