"""End-to-end latency: from payments' 201 to the moment orders holds the payment's copy.

Orders settles an order at read time from its cached copy of the payment, which one Lua script
writes to ``{orders}:payment:<payment_id>``: once that key exists, ``GET /orders/{id}`` says
``paid``. The bench sees the write without polling: Redis keyspace notifications are switched
on (``notify-keyspace-events K$``), and a thread of the bench process subscribed to
``__keyspace@0__:{orders}:payment:*`` stamps each ``set`` with ``time.monotonic()`` as it
arrives. The 201 is stamped with the same clock when httpx returns the response. Latency is
the difference. A thread (blocking reads) rather than the bench's event loop, so that a stamp
does not wait for the loop to finish sending other requests.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis
from orders.read_model import copy_key

AMOUNT = 2500  # every order's total and every payment's amount: one payment pays one order

PREFIX = copy_key(0, "")  # "{orders}:cache:0:payment:" (generation 0: Redis is flushed)
CHANNEL_PREFIX = f"__keyspace@0__:{PREFIX}"


class KeyspaceListener(threading.Thread):
    """Stamps the first ``set`` of every ``{orders}:payment:*`` key."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(name="keyspace-listener", daemon=True)
        self.client = redis.Redis.from_url(redis_url)
        self.seen: dict[str, float] = {}
        self._stopping = threading.Event()
        self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)

    def start(self) -> None:
        self.client.config_set("notify-keyspace-events", "K$")
        self._pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
        super().start()
        # Subscribed for sure once a probe write is seen.
        probe = f"probe-{uuid.uuid4().hex}"
        deadline = time.monotonic() + 5
        while probe not in self.seen:
            self.client.set(PREFIX + probe, "probe", px=1000)
            time.sleep(0.01)  # blocks the bench's loop for a moment, before any load starts
            if time.monotonic() > deadline:
                raise RuntimeError("keyspace notifications do not arrive")

    def run(self) -> None:
        offset = len(CHANNEL_PREFIX)
        while not self._stopping.is_set():
            message = self._pubsub.get_message(timeout=0.05)
            if message is None:
                continue
            now = time.monotonic()
            if message["data"] == b"set":
                self.seen.setdefault(message["channel"][offset:].decode(), now)

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=2)
        try:
            self._pubsub.close()
            self.client.config_set("notify-keyspace-events", "")
        finally:
            self.client.close()


@dataclass
class Phase:
    """One timed run at a fixed rate: what was sent, acknowledged, and seen."""

    sent: int = 0
    acknowledged: dict[str, float] = field(default_factory=dict)  # payment id → 201 time
    sent_at: dict[str, float] = field(default_factory=dict)  # payment id → when it was sent
    order_of: dict[str, str] = field(default_factory=dict)  # payment id → order id
    post_ms: list[float] = field(default_factory=list)  # schedule → 201
    refused: int = 0
    achieved_rate: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # 201 → copy written
    from_send_ms: list[float] = field(default_factory=list)  # request sent → copy written
    missing: int = 0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "sent": self.sent,
            "acknowledged": len(self.acknowledged),
            "refused": self.refused,
            "missing": self.missing,
            "achieved_rate": round(self.achieved_rate, 1),
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "max_ms": lat[-1] if lat else None,
            "min_ms": lat[0] if lat else None,
            "post_p50_ms": percentile(sorted(self.post_ms), 50),
            "post_p99_ms": percentile(sorted(self.post_ms), 99),
            "from_send_p50_ms": percentile(sorted(self.from_send_ms), 50),
            "from_send_p99_ms": percentile(sorted(self.from_send_ms), 99),
        }


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def fixed_rate(
    payments_url: str, order_ids: list[str], rate: float, listener: KeyspaceListener
) -> Phase:
    """POST one payment per order at a fixed schedule (open loop: a slow answer does not delay
    the next request), then wait until every acknowledged payment's copy was seen."""
    phase = Phase(sent=len(order_ids))
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # the listener thread gets the GIL back quickly
    try:
        async with httpx.AsyncClient(base_url=payments_url, timeout=10.0, limits=limits) as c:

            async def post(i: int, scheduled: float) -> None:
                body = {
                    "order_id": order_ids[i],
                    "customer_id": f"cust-{i % 100}",
                    "amount": AMOUNT,
                    "currency": "EUR",
                }
                try:
                    response = await c.post("/payments", json=body)
                except httpx.HTTPError:
                    phase.refused += 1
                    return
                now = time.monotonic()
                if response.status_code != 201:
                    phase.refused += 1
                    return
                payment_id = response.json()["payment_id"]
                phase.acknowledged[payment_id] = now
                phase.sent_at[payment_id] = scheduled
                phase.order_of[payment_id] = order_ids[i]
                phase.post_ms.append((now - scheduled) * 1000)

            tasks: list[asyncio.Task[None]] = []
            try:
                start = time.monotonic() + 0.02
                for i in range(len(order_ids)):
                    at = start + i / rate
                    delay = at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(post(i, at)))
                elapsed = time.monotonic() - start
                n = len(order_ids)
                phase.achieved_rate = (n - 1) / elapsed if n > 1 and elapsed > 0 else rate
                await asyncio.gather(*tasks)
            finally:  # interrupted: no request left behind
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        deadline = time.monotonic() + 10
        while not all(p in listener.seen for p in phase.acknowledged):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
    finally:
        sys.setswitchinterval(previous)
    for payment_id, acked in phase.acknowledged.items():
        seen = listener.seen.get(payment_id)
        if seen is None:
            phase.missing += 1
        else:
            phase.latencies_ms.append((seen - acked) * 1000)
            phase.from_send_ms.append((seen - phase.sent_at[payment_id]) * 1000)
    return phase


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
