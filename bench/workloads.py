"""The workloads: backlogs written straight into Redis, payments made over HTTP, and the drain
timer that watches a consumer group work through a backlog."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from contracts.payments import (
    PAYMENT_RECEIVED,
    SOURCE,
    STATE_STREAM,
    PaymentSnapshot,
    PaymentStatus,
)
from eventkit import Event
from faststream.redis.parser import BinaryMessageFormatV1
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bench.procs import Proc

POLL_S = 0.005  # how often the drain timer asks Redis about the group
CHUNK = 1000  # stream entries per pipeline


def snapshots(n: int) -> list[PaymentSnapshot]:
    """``n`` valid state events' data: one payment (version 1) per event, one order each."""
    return [
        PaymentSnapshot(
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


def state_entry(snapshot: PaymentSnapshot) -> dict[str, str]:
    """The entry payments publishes on the state stream: the envelope's fields, ``data`` JSON."""
    event = Event(
        source=SOURCE,
        type=PAYMENT_RECEIVED,
        subject=snapshot.payment_id,
        data=snapshot.model_dump(mode="json"),
    )
    return event.to_fields()


async def faststream_entry(snapshot: PaymentSnapshot) -> dict[str, bytes]:
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


async def write_backlog(redis: Redis, stream: str, entries: list[Any]) -> str:
    """XADD every entry with pipelines; return the id of the last one."""
    last = b""
    for start in range(0, len(entries), CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for fields in entries[start : start + CHUNK]:
                pipe.xadd(stream, fields)
            ids = await pipe.execute()
        last = ids[-1]
    return last.decode()


async def state_backlog(redis: Redis, n: int) -> str:
    return await write_backlog(redis, STATE_STREAM, [state_entry(s) for s in snapshots(n)])


async def peer_backlog(redis: Redis, n: int) -> str:
    entries = [await faststream_entry(s) for s in snapshots(n)]
    return await write_backlog(redis, STATE_STREAM, entries)


@dataclass(frozen=True)
class Drain:
    count: int
    seconds: float  # from the group's appearance to nothing pending and nothing undelivered
    startup_s: float  # from the process's start to the group's appearance (not counted)

    @property
    def rate(self) -> float:
        return self.count / max(self.seconds, 1e-6)


async def group_info(redis: Redis, stream: str, group: str) -> dict[str, Any] | None:
    """The group's XINFO GROUPS entry; None while the group (or the stream) does not exist."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError as exc:
        if "no such key" in str(exc):
            return None
        raise
    for info in groups:
        if info["name"] in (group, group.encode()):
            return dict(info)
    return None


async def time_drain(
    redis: Redis, proc: Proc, *, stream: str, group: str, last_id: str, count: int
) -> Drain:
    """Watch ``group`` (polling XINFO GROUPS every 5 ms) from the moment it appears until it has
    nothing pending and its last-delivered-id is the stream's last entry (not XINFO's ``lag``,
    which Redis may report as null)."""
    deadline = time.monotonic() + max(60.0, count / 100)
    appeared: float | None = None
    while True:
        now = time.monotonic()
        info = await group_info(redis, stream, group)
        if info is not None:
            if appeared is None:
                appeared = now
            delivered = info["last-delivered-id"]
            delivered = delivered.decode() if isinstance(delivered, bytes) else delivered
            if info["pending"] == 0 and delivered == last_id:
                return Drain(count, now - appeared, appeared - proc.started_at)
        proc.check_alive()
        if now > deadline:
            raise RuntimeError(f"{proc.name} did not drain {stream} in time: {info}")
        await asyncio.sleep(POLL_S)


async def raw_drain(redis_url: str, stream: str, expected: int) -> float:
    """The consumer floor, in this process: a fresh group over the same backlog, XREADGROUP
    COUNT 100 and one XACK per batch, no handler work. Returns entries per second."""
    redis = Redis.from_url(redis_url)
    group = "bench-raw"
    try:
        await redis.xgroup_create(stream, group, id="0")
        count = 0
        started = time.monotonic()
        while True:
            reply = await redis.xreadgroup(group, "raw-1", {stream: ">"}, count=100)
            entries = reply[0][1] if reply else []
            if not entries:
                break
            await redis.xack(stream, group, *[entry_id for entry_id, _ in entries])
            count += len(entries)
        seconds = time.monotonic() - started
        await redis.xgroup_destroy(stream, group)
    finally:
        await redis.aclose()
    if count != expected:
        raise RuntimeError(f"raw consumer read {count} entries, expected {expected}")
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
