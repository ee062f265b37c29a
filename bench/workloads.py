"""The workloads: backlogs written straight into Redis (with one partition or several), the raw
consumer baseline and the required work done by a bare loop, payments made over HTTP
(bench/drains.py times the consumers)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from contracts import payments as contract
from contracts.payments import (
    PAYMENT_RECEIVED,
    SOURCE,
    STATE_STREAM,
    PaymentState,
    PaymentStatus,
)
from eventkit import Client, Event, connect, events_of, parse_many
from eventkit.partitions import Partitions
from faststream.redis.parser import BinaryMessageFormatV1
from orders.adapters import RedisPaymentCache
from redis.asyncio import Redis

CHUNK = 1000  # stream entries per pipeline
REQUIRED_WORK_GENERATION = 1_000  # the floor's copies: apart from orders' (generation 0)


def snapshots(n: int) -> list[PaymentState]:
    """``n`` valid state events' data: one payment (version 1) per event, one order each."""
    return [
        PaymentState(
            payment_id=str(uuid.uuid4()),
            order_id=f"ord-{uuid.uuid4().hex[:16]}",
            customer_id=f"cust-{i % 100}",
            amount=1000 + i % 9000,
            currency="EUR",
            refunded_amount=0,
            status=PaymentStatus.RECEIVED,
            version=1,
        )
        for i in range(n)
    ]


def state_entry(snapshot: PaymentState) -> dict[str, str]:
    """The entry payments publishes on the state stream: the envelope's fields, ``data`` JSON."""
    event = Event(
        source=SOURCE,
        type=PAYMENT_RECEIVED,
        subject=snapshot.payment_id,
        data=snapshot.model_dump(mode="json"),
    )
    return event.to_fields()


async def faststream_entry(snapshot: PaymentState) -> dict[str, bytes]:
    """The entry FastStream's own publisher writes for ``broker.publish(snapshot, stream=…)``:
    one field ``__data__``, the body (the snapshot's JSON) in its binary message format with
    its headers (correlation_id, content-type)."""
    data = await BinaryMessageFormatV1.encode(
        message=snapshot.model_dump(mode="json"),
        reply_to=None,
        headers=None,
        correlation_id=str(uuid.uuid4()),
    )
    return {"__data__": data}


async def write_backlog(redis: Client, stream: str, entries: list[Any]) -> str:
    """XADD every entry with pipelines; return the id of the last one."""
    last = b""
    for start in range(0, len(entries), CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for fields in entries[start : start + CHUNK]:
                pipe.xadd(stream, fields)
            ids = await pipe.execute()
        last = ids[-1]
    return last.decode()


async def state_backlog(
    redis: Client, n: int, partitions: Partitions = Partitions()
) -> dict[str, str]:
    """``n`` state events, each on its payment's partition's state stream (as payments would
    publish it); returns each stream's last entry id."""
    by_stream: dict[str, list[dict[str, str]]] = {}
    for snapshot in snapshots(n):
        partition = partitions.of(contract.event_stream(snapshot.payment_id))
        stream = partitions.key(contract.NAMESPACE, partition, contract.STATE)
        by_stream.setdefault(stream, []).append(state_entry(snapshot))
    return {stream: await write_backlog(redis, stream, e) for stream, e in by_stream.items()}


async def peer_backlog(redis: Redis, n: int) -> str:
    entries = [await faststream_entry(s) for s in snapshots(n)]
    return await write_backlog(redis, STATE_STREAM, entries)


async def raw_drain(redis_url: str, stream: str, expected: int) -> float:
    """The consumer floor, in this process: a fresh group over the same backlog, XREADGROUP
    COUNT 100 and one XACK per batch, no handler work. Returns entries per second."""
    redis = Redis.from_url(redis_url)
    try:
        return await _group_drain(redis, stream, "bench-raw", expected)
    finally:
        await redis.aclose()


async def required_work_drain(redis_url: str, stream: str, expected: int) -> float:
    """The floor of the work orders must do, in this process and without its consumer loop:
    the raw loop above plus, per batch, what may not be skipped — each entry's envelope decoded
    and validated (``events_of``: one validation call a batch, as orders does), its snapshot
    validated (``parse_many``, likewise), the copies
    written by orders' own apply script in one call (into a generation of their own, so every
    copy is new, as in orders' drain) — with the client orders uses (``eventkit.connect``).
    No dispatch, leases, metrics, dead letters or projection. Returns entries per second."""
    redis = connect(redis_url, name="bench-required-work")
    cache = RedisPaymentCache(redis, generation=REQUIRED_WORK_GENERATION)

    async def work(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        # As orders validates (issue 27): the batch's envelopes in one call, then its data in
        # one call; an entry that is not an event would stop the floor (there are none).
        events = [e for e in events_of([fields for _, fields in entries]) if isinstance(e, Event)]
        await cache.apply(parse_many(PaymentState, events))

    try:
        return await _group_drain(redis, stream, "bench-required-work", expected, work)
    finally:
        await redis.aclose()


async def _group_drain(
    redis: Client,
    stream: str,
    group: str,
    expected: int,
    work: Callable[[list[tuple[bytes, dict[bytes, bytes]]]], Awaitable[None]] | None = None,
) -> float:
    """Read the whole backlog with a fresh group, 100 entries at a time, ``work`` on each batch,
    one XACK per batch; the group is destroyed afterwards. Returns entries per second."""
    await redis.xgroup_create(stream, group, id="0")
    count = 0
    started = time.monotonic()
    while True:
        reply = await redis.xreadgroup(group, f"{group}-1", {stream: ">"}, count=100)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        if work is not None:
            await work(entries)
        await redis.xack(stream, group, *[entry_id for entry_id, _ in entries])
        count += len(entries)
    seconds = time.monotonic() - started
    await redis.xgroup_destroy(stream, group)
    if count != expected:
        raise RuntimeError(f"{group} read {count} entries, expected {expected}")
    return count / seconds


def payment_body(i: int, order_id: str | None = None) -> dict[str, Any]:
    return {
        "order_id": order_id or f"ord-bench-{i}",
        "customer_id": f"cust-{i % 100}",
        "amount": 1000 + i % 9000,
        "currency": "EUR",
    }


async def post_many(
    base_url: str, path: str, bodies: list[dict[str, Any]], key: str, concurrency: int = 16
) -> list[str]:
    """POST every body (``concurrency`` at a time); every answer must be 201. Returns each
    answer's ``key`` field, in the order of ``bodies``."""
    out: list[str] = [""] * len(bodies)
    queue = iter(enumerate(bodies))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits) as client:

        async def worker() -> None:
            for i, body in queue:
                response = await client.post(path, json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
                out[i] = response.json()[key]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


async def sequential_gets(base_url: str, payment_ids: list[str]) -> float:
    """The call-back floor: GET /payments/{id} one after another with one shared
    ``httpx.AsyncClient`` (default transport and limits). Returns calls per second."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        started = time.monotonic()
        for payment_id in payment_ids:
            response = await client.get(f"/payments/{payment_id}")
            if response.status_code != 200:
                raise RuntimeError(f"GET /payments/{payment_id}: {response.status_code}")
        seconds = time.monotonic() - started
    return len(payment_ids) / seconds
