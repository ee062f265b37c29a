"""Hostile events: arbitrary field maps and bytes go through each consumer's real decode-and-
handle path. The loop never crashes; every entry is either handled or dead-lettered with the
reason; nothing stays pending.

Each consumer runs for the whole test in a thread of its own (with its own event loop), with
the service's real handlers and stores, on a stream of its own; Hypothesis writes entries into
that stream, one per example, and waits for the consumer to be done with it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from eventkit import (
    Consumer,
    ConsumerOptions,
    Event,
    HandlerTable,
    RedisWorkQueue,
    connect,
    list_dead_letters,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notifications.adapters import RedisNotificationStore
from notifications.callback import HttpPaymentsClient, http_client
from notifications.handlers import build_handlers as notification_handlers
from notifications.keys import MAIL_QUEUE, notification_key
from orders.adapters import RedisPaymentCache, copy_key, generation_key
from orders.handlers import build_handlers as order_handlers

from tests.helpers import RedisServer, ServiceProcess, eventually

VALID_DATA = {
    "payment_id": "p-1",
    "order_id": "o-1",
    "customer_id": "c-1",
    "amount": 100,
    "currency": "EUR",
    "refunded_amount": 0,
    "status": "received",
    "version": 1,
}
VALID = Event(source="payments", type="PaymentReceived", subject="p-1", data=VALID_DATA)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
anything = st.binary(max_size=60) | st.text(max_size=60).map(str.encode)

# Arbitrary maps, and valid events with some fields removed, replaced by junk, or with junk data.
arbitrary = st.dictionaries(st.binary(min_size=1, max_size=16), anything, min_size=1, max_size=8)


@st.composite
def mutated(draw: st.DrawFn, valid: Event) -> dict[bytes, bytes]:
    fields = {k.encode(): v.encode() for k, v in valid.to_fields().items()}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "junk", "json"]))
        if action == "drop":
            del fields[name]
        elif action == "junk":
            fields[name] = draw(anything)
        else:
            fields[name] = json.dumps(draw(json_values)).encode()
    if draw(st.booleans()):
        data = {
            **valid.data,
            **draw(st.dictionaries(st.sampled_from(sorted(VALID_DATA)), json_values)),
        }
        fields[b"data"] = json.dumps(data).encode()
    return fields


class BackgroundConsumer:
    """A real Consumer in its own thread and event loop, for a synchronous Hypothesis test."""

    def __init__(
        self,
        url: str,
        stream: str,
        build: Callable[[Any], HandlerTable],
        cleanup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.stream = stream
        ready = threading.Event()

        async def main() -> None:
            client = connect(url)
            self.consumer = Consumer(
                client,
                stream=stream,
                group="fuzz",
                name="c",
                handlers=build(client),
                options=ConsumerOptions(block_ms=20, max_deliveries=1, retry_delay_s=0.01),
            )
            ready.set()
            try:
                await self.consumer.run()
            finally:
                await client.aclose()
                if cleanup is not None:  # in this loop: clients are bound to the loop they run in
                    await cleanup()

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),))
        self.thread.start()
        assert ready.wait(10), "the consumer thread did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.consumer.stop)
        self.thread.join(10)


def done_with(client: redis.Redis, stream: str, entry_id: bytes) -> bool:
    groups = client.xinfo_groups(stream)
    return bool(groups) and groups[0]["last-delivered-id"] == entry_id and groups[0]["pending"] == 0


@pytest.fixture
def orders_consumer(redis_server: RedisServer, uid: str) -> Iterator[BackgroundConsumer]:
    background = BackgroundConsumer(
        redis_server.url,
        f"{{payments}}:fuzz-orders-{uid}",
        lambda client: order_handlers(RedisPaymentCache(client)),
    )
    yield background
    background.stop()


@pytest.fixture
def notifications_consumer(
    redis_server: RedisServer, payments_service: ServiceProcess, uid: str
) -> Iterator[BackgroundConsumer]:
    clients: list[Any] = []

    def build(client: Any) -> HandlerTable:
        clients.append(http_client(payments_service.url, 2.0))
        store = RedisNotificationStore(client, RedisWorkQueue(client, MAIL_QUEUE))
        return notification_handlers(HttpPaymentsClient(clients[0]), store)

    async def close() -> None:
        await clients[0].aclose()

    stream = f"{{payments}}:fuzz-notes-{uid}"
    background = BackgroundConsumer(redis_server.url, stream, build, cleanup=close)
    yield background
    background.stop()


# What a handled entry must have left behind, read with a plain client: True when it is there.
Effect = Callable[[redis.Redis, Event], bool]


def orders_effect(client: redis.Redis, event: Event) -> bool:
    """The cache holds this payment at this version or a newer one."""
    generation = int(client.get(generation_key()) or 0)
    copy = client.get(copy_key(generation, str(event.data["payment_id"])))
    return copy is not None and json.loads(copy)["version"] >= event.data["version"]


def notifications_effect(client: redis.Redis, event: Event) -> bool:
    """The event's notification was recorded."""
    return bool(client.exists(notification_key(event.id)))


def check_hostile_entries(
    background: BackgroundConsumer, url: str, valid: Event, effect: Effect
) -> Callable[..., None]:
    """Each example entry is either handled, with its effect in Redis, or dead-lettered with
    the reason and its fields as written; the loop keeps running, nothing stays pending."""
    client = redis.Redis.from_url(url)
    handled: list[bytes] = []

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(fields=arbitrary | mutated(valid))
    def feed(fields: dict[bytes, bytes]) -> None:
        stats = background.consumer.stats
        before = stats.handled + stats.dead_lettered
        entry_id = client.xadd(background.stream, fields)
        # Done: acked (handled, or dead-lettered and acked by the same script) and counted.
        eventually(
            lambda: (
                done_with(client, background.stream, entry_id)
                and stats.handled + stats.dead_lettered == before + 1
            ),
            timeout=10,
        )
        assert stats.state == "running", stats
        letters = asyncio.run(_letters(url, background.consumer.dead_letters))
        mine = [letter for letter in letters if letter.original_id == entry_id.decode()]
        assert len(mine) <= 1, mine  # never dead-lettered twice
        if mine:  # dead-lettered: with the reason, and the entry exactly as it was written
            assert mine[0].error
            assert mine[0].fields == fields
        else:  # handled: so it was a valid event, and its effect is in Redis
            assert effect(client, Event.from_fields(fields)), (fields, Event.from_fields(fields))
            handled.append(entry_id)

    def run() -> None:
        feed()
        # The strategies make valid events too: the test saw both outcomes.
        assert handled, "no example was handled"

    return run


async def _letters(url: str, stream: str) -> list[Any]:
    client = connect(url)
    try:
        return await list_dead_letters(client, stream, count=10_000)
    finally:
        await client.aclose()


def test_orders_consumer_survives_hostile_entries(
    orders_consumer: BackgroundConsumer, redis_server: RedisServer
) -> None:
    check_hostile_entries(orders_consumer, redis_server.url, VALID, orders_effect)()
    assert orders_consumer.consumer.stats.lost == 0


def test_notifications_consumer_survives_hostile_entries(
    notifications_consumer: BackgroundConsumer,
    redis_server: RedisServer,
    payments_service: ServiceProcess,
) -> None:
    body = {"order_id": "o-1", "customer_id": "c-1", "amount": 100, "currency": "EUR"}
    created = httpx.post(f"{payments_service.url}/payments", json=body)
    payment_id = created.json()["payment_id"]
    valid = Event(
        source="payments",
        type="PaymentReceived",
        subject=payment_id,
        data={"payment_id": payment_id},
    )
    check_hostile_entries(notifications_consumer, redis_server.url, valid, notifications_effect)()
    assert notifications_consumer.consumer.stats.lost == 0
