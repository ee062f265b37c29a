"""The console of a system with STREAM_PARTITIONS=3, every service a real process on one real
redis-server: the page's feed shows the state events of every partition in the one "state"
lane, one progress summary per group combined over its partitions, a cursor that resumes every
partition's stream, and /metrics and /stats per partition's stream; in Chromium, two entries
of two partitions with one id are two cards, each with its own state.

Which partition a payment lands in depends on its id (a random uuid4), so the tests pay until
their payments span at least two partitions.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console.lanes.cursor import EntryId, parse_cursor
from console.lanes.streams import followed, groups
from eventkit.partitions import Partitions
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Stack, sse
from tests.helpers.browser import chromium, needs_chromium

PARTITIONS = Partitions(3)
NAMES = [stream.name for stream in followed(PARTITIONS)]
GROUP_OF_LANE = {"state": "orders", "notifications": "notifications"}  # as on the page


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("console-partitions"), partitions=PARTITIONS.count)
    system.start("payments", "orders", "notifications", "console")
    yield system
    system.stop()


def pay_in_partitions(stack: Stack, customer: str) -> dict[str, int]:
    """Payments until they fall in at least two partitions: payment id -> its partition."""
    order = stack.place_order(customer, total=10**6)
    return stack.pay_into_partitions(order["order_id"], customer, 100, partitions=2, at_most=30)


def caught_up(latest: dict[str, Any], cards: dict[str, dict[tuple[int, str], str]]) -> bool:
    """One summary per group, each at rest, and each group's ``cards`` ((partition, entry id)
    -> payment) acknowledged by it."""
    if [g["summary"]["group"] for g in latest.get("groups", [])] != list(GROUP_OF_LANE.values()):
        return False
    for each in latest["groups"]:
        summary = each["summary"]
        states = {(c["partition"], c["id"]): c["state"] for c in each["cards"]}
        if any(states.get(card) != "acknowledged" for card in cards[summary["group"]]):
            return False
        if (summary["lag_entries"], summary["pending"], summary["exists"]) != (0, 0, True):
            return False
    return True


async def test_the_page_shows_every_partition_in_its_lane_and_one_summary_per_group(
    stack: Stack, uid: str
) -> None:
    before = pay_in_partitions(stack, f"cust-{uid}-a")  # read back from Redis when it opens
    cards: dict[str, dict[tuple[int, str], str]] = {group: {} for group in GROUP_OF_LANE.values()}
    latest: dict[str, Any] = {}
    cursor: str | None = None
    async with httpx.AsyncClient() as http, sse.stream(http, stack["console"].url) as response:
        events = sse.events(response)
        hello = (await anext(events)).json()
        assert [s["name"] for s in hello["streams"]] == NAMES
        assert [s["lane"] for s in hello["streams"][:3]] == ["state"] * 3
        assert len(hello["groups"]) == 2 * PARTITIONS.count  # each group on each partition
        # ...and some while it is open, handed to it by the readers.
        paid = before | await asyncio.to_thread(pay_in_partitions, stack, f"cust-{uid}-b")

        async def until_caught_up() -> None:
            nonlocal latest, cursor
            async for event in events:
                cursor = event.id or cursor
                if event.event == "entry" and (entry := event.json())["subject"] in paid:
                    group = GROUP_OF_LANE[entry["stream"]]
                    cards[group][(entry["partition"], entry["id"])] = entry["subject"]
                elif event.event == "progress":
                    latest = event.json()
                everything = all(set(found.values()) == set(paid) for found in cards.values())
                if everything and caught_up(latest, cards):
                    return

        try:
            await asyncio.wait_for(until_caught_up(), timeout=30)
        except TimeoutError:
            summaries = [g["summary"] for g in latest.get("groups", [])]
            raise AssertionError(f"not caught up: {cards}; progress: {summaries}") from None

    # The state lane holds the entries of more than one partition, each from its payment's own.
    assert len({partition for partition, _ in cards["orders"]}) >= 2
    for found in cards.values():
        assert {(payment, p) for (p, _), payment in found.items()} == set(paid.items())
    # One summary per group, combined: one consumer process per group, named once although it
    # consumes all three partitions; no last-delivered id, a position in one stream only.
    for each in latest["groups"]:
        assert each["summary"]["consumers"] == [each["summary"]["group"]]
        assert "last_delivered_id" not in each["summary"]
    assert [g["stream"] for g in latest["groups"]] == list(GROUP_OF_LANE)  # the lanes
    # The cursor has a position in each of the thirteen streams, past every entry it sent.
    assert cursor is not None
    positions = parse_cursor(cursor, NAMES)
    assert list(positions) == NAMES
    for partition, entry_id in cards["orders"]:
        assert positions[f"state-{partition}"] >= EntryId.parse(entry_id)


async def test_a_page_resumes_every_partition_from_its_last_event_id(
    stack: Stack, uid: str
) -> None:
    async with httpx.AsyncClient() as http:
        async with sse.stream(http, stack["console"].url) as response:
            cursor = (await anext(sse.events(response))).id
        paid = pay_in_partitions(stack, f"cust-{uid}")
        got: Counter[tuple[str, int]] = Counter()

        async def resume() -> None:
            async with sse.stream(http, stack["console"].url, cursor) as response:
                events = sse.events(response)
                assert (await anext(events)).id == cursor  # it starts where the page was
                async for event in events:
                    if event.event == "entry" and (entry := event.json())["stream"] == "state":
                        got[(entry["subject"], entry["partition"])] += 1
                        if set(paid.items()) <= set(got):
                            return

        await asyncio.wait_for(resume(), timeout=30)
    assert {key: n for key, n in got.items() if key[0] in paid} == dict.fromkeys(paid.items(), 1)


def test_metrics_and_stats_cover_the_stream_of_every_partition(stack: Stack) -> None:
    text = httpx.get(f"{stack['console'].url}/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for metric in ("eventkit_consumer_lag_entries", "eventkit_consumer_pending_entries"):
        labels = {(s.labels["stream"], s.labels["group"]) for s in families[metric].samples}
        assert labels == {(g.stream.key, g.name) for g in groups(PARTITIONS)}, metric
    letters = {s.labels["stream"] for s in families["eventkit_dead_letter_entries"].samples}
    assert letters == {g.dead_letters.key for g in groups(PARTITIONS)}

    stats = httpx.get(f"{stack['console'].url}/stats").json()
    assert [reader["stream"] for reader in stats["readers"]] == NAMES
    assert {reader["state"] for reader in stats["readers"]} == {"following"}


@pytest.mark.browser
@needs_chromium
def test_in_the_browser_two_partitions_entries_with_one_id_are_two_cards(
    stack: Stack, tmp_path: Path
) -> None:
    # Ids are unique within one stream only: the same id in two partitions' streams, each an
    # entry that is not an event, so that orders dead-letters both.
    admin = stack.redis.client()
    keys = [PARTITIONS.key("payments", p, "state") for p in (0, 1)]
    newest = [admin.xrevrange(key, count=1) for key in keys]
    seconds, micros = admin.time()
    ms = max([seconds * 1000 + micros // 1000] + [EntryId.parse(e[0][0]).ms for e in newest if e])
    same = f"{ms + 1}-0"
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 960}).new_page()
        page.goto(stack["console"].url)
        expect(page.locator("#connection")).to_have_attribute("data-connection", "live")
        for key in keys:
            assert admin.xadd(key, {"surprise": "not an event"}, id=same).decode() == same
        admin.close()

        lane = page.locator('.lane[data-lane="state-transfer"]')
        expect(lane.locator(f'.card[data-entry-id="{same}"]')).to_have_count(2)
        for p in (0, 1):
            card = lane.locator(f'.card[data-partition="{p}"][data-entry-id="{same}"]')
            expect(card).to_contain_text(f"partition {p} · {same}")
            expect(card).to_have_attribute("data-state", "dead-lettered", timeout=15_000)
        letters = page.locator(f'.dead-letters[data-group="orders"] [data-original-id="{same}"]')
        expect(letters).to_have_count(2)
        # The lane names its streams; the group's figures are one set for its three partitions.
        keys_shown = page.locator('code[data-keys="state"]')
        expect(keys_shown).to_have_text("{payments-0}:state … {payments-2}:state")
        consumers = page.locator('.figures[data-group="orders"] [data-figure="consumers"]')
        expect(consumers).to_have_text("1")
        page.screenshot(path=tmp_path / "partitions.png")
