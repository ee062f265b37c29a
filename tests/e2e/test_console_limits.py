"""What an anonymous page may cost the console, over a real uvicorn and a real Redis: at most
MAX_OPEN_PAGES open at once (more: 503 with Retry-After), a resume reaching back at most
RESUME_WINDOW entries per stream (and told when it was cut short), and /live fast throughout.

Failed before: every page was accepted (300 of them were), and a Last-Event-ID of `…=0-0` sent
every retained entry (2.5 s of console CPU per 20,000).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import httpx
import pytest
import redis
from console.lanes.cursor import format_cursor, parse_cursor
from console.lanes.streams import followed
from eventkit import Event
from eventkit.partitions import Partitions

from tests.helpers import Stack, eventually_async, sse

FOLLOWED = followed(Partitions(1))
NAMES = [stream.name for stream in FOLLOWED]
STATE = next(stream for stream in FOLLOWED if stream.key == "{payments}:state")
MAX_OPEN_PAGES, RESUME_WINDOW = 3, 50


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"MAX_OPEN_PAGES": str(MAX_OPEN_PAGES), "RESUME_WINDOW": str(RESUME_WINDOW)}
    system = Stack(tmp_path_factory.mktemp("console-limits"), env=env).start("console")
    yield system
    system.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def publish(stack: Stack, count: int) -> None:
    admin: redis.Redis = stack.redis.client()
    with admin.pipeline(transaction=False) as pipe:
        for n in range(count):
            event = Event(source="payments", type="PaymentReceived", subject=f"p-{n}", data={})
            pipe.xadd(STATE.key, event.to_fields())
        pipe.execute()
    admin.close()


async def test_pages_beyond_the_limit_are_refused_with_retry_after_until_one_closes(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    console = stack["console"].url
    async with AsyncExitStack() as pages:
        readers = []  # each page's event reader, kept: a dropped one closes its response
        for _ in range(MAX_OPEN_PAGES):
            page = await pages.enter_async_context(sse.stream(client, console))
            assert page.status_code == 200
            readers.append(sse.events(page))
            assert (await anext(readers[-1])).event == "hello"
        refused = await client.get(f"{console}/events")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert f"{MAX_OPEN_PAGES} pages are open" in refused.json()["detail"]
        live = await client.get(f"{console}/live", timeout=2)
        assert live.status_code == 200
        assert (await client.get(f"{console}/stats")).json()["refused"] >= 1

    # The pages closed: their places are free again, once the console has seen them go.
    async def admitted() -> bool:
        async with sse.stream(client, console) as page:
            return page.status_code == 200

    await eventually_async(admitted, timeout=10, interval=0.2, what="a page admitted again")


async def test_a_resume_from_further_back_than_the_window_starts_at_the_window_and_says_so(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    publish(stack, 500)
    console = stack["console"].url
    from_the_start = format_cursor(parse_cursor(",".join(f"{n}=0-0" for n in NAMES), NAMES))
    started = time.monotonic()
    async with sse.stream(client, console, from_the_start) as page:
        received = sse.events(page)
        hello = (await anext(received)).json()
        assert hello["resume"] == {"window": RESUME_WINDOW, "skipped": [STATE.name]}
        sent: list[str] = []
        while len(sent) < RESUME_WINDOW:  # then the page follows live: nothing more comes
            event = await anext(received)
            if event.event == "entry":
                sent.append(event.json()["subject"])
        # The newest RESUME_WINDOW entries, in order: p-450 … p-499.
        assert sent == [f"p-{n}" for n in range(500 - RESUME_WINDOW, 500)]
    assert time.monotonic() - started < 10


async def test_a_resume_within_the_window_loses_and_skips_nothing(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    admin: redis.Redis = stack.redis.client()
    newest = {s.name: admin.xrevrange(s.key, count=1) for s in FOLLOWED}
    admin.close()
    # A page that had seen everything so far, and went away.
    cursor = ",".join(
        f"{name}={entries[0][0].decode() if entries else '0-0'}" for name, entries in newest.items()
    )
    publish(stack, 10)
    async with sse.stream(client, stack["console"].url, cursor) as page:
        received = sse.events(page)
        assert (await anext(received)).json()["resume"]["skipped"] == []
        subjects: list[str] = []

        async def ten_entries() -> bool:
            event = await anext(received)
            if event.event == "entry":
                subjects.append(event.json()["subject"])
            return len(subjects) == 10

        await eventually_async(ten_entries, timeout=10, what="the ten missed entries")
        assert subjects == [f"p-{n}" for n in range(10)]
