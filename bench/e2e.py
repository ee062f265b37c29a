"""End-to-end latency: from the moment a payment's request is sent to the moment orders holds its
copy (the order is paid), and to the moment notifications recorded it (through its call back).

Orders settles an order at read time from its cached copy of the payment, which one Lua script
writes to ``{orders}:cache:0:payment:<payment_id>``: once that key exists, ``GET /orders/{id}``
says ``paid``. Notifications indexes each notification under
``{notifications}:by-payment:<payment_id>`` (a ZADD) in the script that records it. The bench
sees both writes without polling: Redis keyspace notifications are switched on
(``notify-keyspace-events K$z``), and a thread of the bench process subscribed to both key
prefixes stamps the first ``set`` / ``zadd`` of each key with ``time.monotonic()`` as it
arrives. The request is stamped with the same clock when it is scheduled (open loop: it is sent
then), and the 201 when httpx returns it. A thread (blocking reads) rather than the bench's
event loop (bench/keyspace.py).

The headline is request sent → paid: a latency a client would see. 201 → paid is kept as a
detail: payments publishes before it answers, so orders may hold the copy before the client
has its 201, and that gap can be negative.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.keyspace import KeyspaceListener

AMOUNT = 2500  # every order's total and every payment's amount: one payment pays one order


@dataclass
class Phase:
    """One timed run at a fixed rate: what was sent, acknowledged, and seen."""

    expect: tuple[str, ...]  # the kinds of write each payment must reach
    sent: int = 0
    acknowledged: dict[str, float] = field(default_factory=dict)  # payment id → 201 time
    sent_at: dict[str, float] = field(default_factory=dict)  # payment id → when it was sent
    order_of: dict[str, str] = field(default_factory=dict)  # payment id → order id
    post_ms: list[float] = field(default_factory=list)  # sent → 201
    refused: int = 0
    achieved_rate: float = 0.0
    from_send_ms: dict[str, list[float]] = field(default_factory=dict)  # kind → sent → seen
    after_201_ms: list[float] = field(default_factory=list)  # 201 → paid (may be negative)
    missing: int = 0  # payments some expected write never reached

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sent": self.sent,
            "acknowledged": len(self.acknowledged),
            "refused": self.refused,
            "missing": self.missing,
            "achieved_rate": round(self.achieved_rate, 1),
            "post_p50_ms": percentile(self.post_ms, 50),
            "post_p99_ms": percentile(self.post_ms, 99),
            "after_201_p50_ms": percentile(self.after_201_ms, 50),
            "after_201_p99_ms": percentile(self.after_201_ms, 99),
        }
        for kind, values in self.from_send_ms.items():
            out[f"{kind}_p50_ms"] = percentile(values, 50)
            out[f"{kind}_p99_ms"] = percentile(values, 99)
            out[f"{kind}_max_ms"] = max(values) if values else float("nan")
        return out


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def fixed_rate(
    payments_url: str,
    order_ids: list[str],
    rate: float,
    listener: KeyspaceListener,
    expect: tuple[str, ...] = ("paid",),
) -> Phase:
    """POST one payment per order at a fixed schedule (open loop: a slow answer does not delay
    the next request), then wait until every acknowledged payment reached every ``expect``."""
    phase = Phase(expect=expect, sent=len(order_ids))
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
        while not all(p in listener.seen[k] for k in expect for p in phase.acknowledged):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
    finally:
        sys.setswitchinterval(previous)
    _latencies(phase, listener)
    return phase


def _latencies(phase: Phase, listener: KeyspaceListener) -> None:
    phase.from_send_ms = {kind: [] for kind in phase.expect}
    for payment_id, acked in phase.acknowledged.items():
        seen = {kind: listener.seen[kind].get(payment_id) for kind in phase.expect}
        if any(at is None for at in seen.values()):
            phase.missing += 1
            continue
        sent = phase.sent_at[payment_id]
        for kind, at in seen.items():
            assert at is not None
            phase.from_send_ms[kind].append((at - sent) * 1000)
        if (paid := seen.get("paid")) is not None:
            phase.after_201_ms.append((paid - acked) * 1000)
