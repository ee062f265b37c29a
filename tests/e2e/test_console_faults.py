"""The console shows a running chaos run's faults (issue 26): what ``python -m chaos`` announces
on ``{chaos}:faults`` (its envelope, types FaultInjected and FaultHealed, data ``{run, seed, kind,
target, detail}``) reaches every open page as ``fault`` events, read by the console's own Redis
user (the stack loads the ACL), resumed with Last-Event-ID like every other stream.

The faults are written here by admin, as chaos/faults.py writes them: the console needs no chaos
run to show them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from console.lanes.cursor import parse_cursor
from console.lanes.streams import FAULTS_LANE, FAULTS_STREAM, followed
from eventkit import Event
from eventkit.partitions import Partitions

from tests.helpers import Stack, sse

NAMES = [stream.name for stream in followed(Partitions(1))]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("console-faults")).start("console")
    yield system
    system.stop()


def announce(admin: redis.Redis, type_: str, run: str, kind: str, target: str) -> str:
    """One fault event, as chaos/faults.py's Announcer writes it."""
    data = {"run": run, "seed": 7, "kind": kind, "target": target, "detail": {"signal": 9}}
    event = Event(source="chaos", type=type_, subject=target, data=data)
    entry_id: bytes = admin.xadd(FAULTS_STREAM, event.to_fields(), maxlen=10000)
    return entry_id.decode()


async def faults_until(
    events: Any, wanted: set[str], seen: list[dict[str, Any]]
) -> tuple[str | None, list[str]]:
    """Read ``events`` until every entry id in ``wanted`` came as a ``fault``; the last SSE id
    and the other event types seen. Each fault's data is appended to ``seen``."""
    cursor, others = None, list[str]()
    async for event in events:
        cursor = event.id or cursor
        if event.event == "fault":
            seen.append(event.json())
            if wanted <= {fault["id"] for fault in seen}:
                return cursor, others
        elif event.event != sse.COMMENT:
            others.append(event.event)
    raise AssertionError("the feed ended")


async def test_a_chaos_runs_faults_reach_the_page_as_they_happen_and_on_resume(
    stack: Stack, admin: redis.Redis, uid: str
) -> None:
    run = f"run-{uid}"
    console = stack["console"].url
    before = announce(admin, "FaultInjected", run, "sigstop", "orders")  # a page catches up
    async with httpx.AsyncClient() as http, sse.stream(http, console) as response:
        events = sse.events(response)
        hello = await anext(events)
        streams = {s["name"]: s for s in hello.json()["streams"]}
        assert streams["faults"] == {
            "name": "faults",
            "key": "{chaos}:faults",
            "lane": FAULTS_LANE,
            "partition": 0,
        }
        live = announce(admin, "FaultHealed", run, "sigstop", "orders")  # while it is open
        seen: list[dict[str, Any]] = []
        cursor, others = await asyncio.wait_for(faults_until(events, {before, live}, seen), 15)

    ours = [fault for fault in seen if fault["data"]["run"] == run]
    assert [(f["id"], f["type"], f["stream"], f["valid"]) for f in ours] == [
        (before, "FaultInjected", "faults", True),
        (live, "FaultHealed", "faults", True),
    ]
    assert ours[0]["subject"] == "orders"
    assert ours[0]["data"] == {
        "run": run,
        "seed": 7,
        "kind": "sigstop",
        "target": "orders",
        "detail": {"signal": 9},
    }
    assert "entry" not in others  # a fault is never sent as one of payments' entries
    assert cursor is not None
    assert str(parse_cursor(cursor, NAMES)["faults"]) == live  # the cursor moved on with it

    # A page back after a fault it missed gets it, and only it, from Redis.
    missed = announce(admin, "FaultInjected", run, "redis-kill", "redis")
    async with httpx.AsyncClient() as http, sse.stream(http, console, cursor) as response:
        seen = []
        await asyncio.wait_for(faults_until(sse.events(response), {missed}, seen), 15)
    assert [fault["id"] for fault in seen] == [missed]

    reader = next(r for r in (await stats(console))["readers"] if r["stream"] == "faults")
    assert (reader["key"], reader["state"]) == (FAULTS_STREAM, "following")
    assert reader["entries"] >= 2  # handed to the open pages: at least the two written live


async def test_an_entry_there_that_is_no_event_is_shown_as_such(
    stack: Stack, admin: redis.Redis, uid: str
) -> None:
    odd = admin.xadd(FAULTS_STREAM, {"note": f"by hand {uid}"}).decode()
    async with httpx.AsyncClient() as http, sse.stream(http, stack["console"].url) as response:
        seen: list[dict[str, Any]] = []
        await asyncio.wait_for(faults_until(sse.events(response), {odd}, seen), 15)
    [shown] = [fault for fault in seen if fault["id"] == odd]
    assert (shown["valid"], shown["fields"]) == (False, {"note": f"by hand {uid}"})


async def stats(console: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        answer: dict[str, Any] = (await http.get(f"{console}/stats")).json()
    return answer
