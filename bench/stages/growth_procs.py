"""The growth figures that need the services running (bench/stages/growth.py): Redis memory per
payment, and the console's CPU per event as open pages are added."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from notifications.keys import ALL as NOTIFICATIONS_ALL
from orders.adapters import cached_key
from payments.config import Settings as PaymentsSettings

from bench import workloads
from bench.procs import Proc, wait_healthy

if TYPE_CHECKING:
    from bench.session import Bench

# What holds a key, by its name (checked in order).
HOLDERS = (
    ("state_stream", re.compile(r"^\{payments[^}]*\}:state$")),
    ("notification_stream", re.compile(r"^\{payments[^}]*\}:notifications$")),
    ("event_store", re.compile(r"^\{payments")),
    ("orders_copy", re.compile(r"^\{orders")),
    ("notifications", re.compile(r"^\{notifications")),
)


async def _until(check: Any, what: str, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"growth: timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def memory_per_payment(bench: Bench, n: int) -> dict[str, Any]:
    """``n`` payments through payments, copied by orders and notified by notifications; then
    every key's MEMORY USAGE (SAMPLES 0: exact), added up by what holds it, over ``n``."""
    payments = await bench.payments()
    started: list[Proc] = [
        bench.service("orders-growth", "orders", {"CONSUMER_NAME": "growth"}),
        bench.service(
            "notifications-growth",
            "notifications",
            {"CONSUMER_NAME": "growth", "PAYMENTS_URL": payments.url},
        ),
    ]
    try:
        for proc in started:
            await wait_healthy(proc)
        bodies = [workloads.payment_body(i) for i in range(n)]
        await workloads.post_many(payments.url, "/payments", bodies, "payment_id")
        redis = bench.redis
        await _until(lambda: _at_least(redis.scard(cached_key(0)), n), "orders' copies")
        await _until(lambda: _at_least(redis.zcard(NOTIFICATIONS_ALL), n), "notifications")
        held: dict[str, int] = defaultdict(int)
        entries = {}
        async for key in redis.scan_iter(count=1000):
            name = key.decode()
            holder = next((h for h, pattern in HOLDERS if pattern.match(name)), "other")
            held[holder] += int(await redis.memory_usage(name, samples=0) or 0)
            if holder.endswith("_stream"):
                entries[holder] = await redis.xlen(name)
    finally:
        for proc in started:
            await bench.stop(proc)
    settings = PaymentsSettings()
    per = {holder: round(total / n) for holder, total in sorted(held.items())}
    per["total"] = round(sum(held.values()) / n)
    per_entry = {h: held[h] / entries[h] for h in entries if entries[h]}
    return {
        "payments": n,
        "bytes": dict(held),
        "bytes_per_payment": per,
        "bytes_per_public_entry": {h: round(v) for h, v in per_entry.items()},
        "retention": {
            "stream_retain": settings.stream_retain,
            "stream_maxlen": settings.stream_maxlen,
            # Once every group has acknowledged them, a public stream keeps its newest
            # STREAM_RETAIN entries; at most STREAM_MAXLEN while a group lags.
            "public_streams_bytes_kept": {
                h: round(v * settings.stream_retain) for h, v in per_entry.items()
            },
            "public_streams_bytes_ceiling": {
                h: round(v * settings.stream_maxlen) for h, v in per_entry.items()
            },
        },
    }


async def _at_least(count: Any, n: int) -> bool:
    return int(await count) >= n


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (/proc/<pid>/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def console_point(bench: Bench, pages: int, events: int, chunk: int = 100) -> float:
    """The console's CPU per event (µs) with ``pages`` open event streams, over ``events`` state
    events written ``chunk`` at a time (each chunk seen by every page before the next)."""
    console = bench.service("console-growth", "console", {})
    seen = [0] * pages
    hello = [False] * pages

    async def page(i: int, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"{console.url}/events") as response:
            async for line in response.aiter_lines():
                if line == "event: hello":
                    hello[i] = True
                elif line == "event: entry":
                    seen[i] += 1

    try:
        await wait_healthy(console)
        limits = httpx.Limits(max_connections=pages + 1)
        async with httpx.AsyncClient(timeout=None, limits=limits) as client:
            tasks = [asyncio.create_task(page(i, client)) for i in range(pages)]
            try:
                await _until(_ready(lambda: all(hello)), f"{pages} pages' hello")
                assert console.process is not None
                before = cpu_seconds(console.process.pid)
                for start in range(0, events, chunk):
                    await workloads.state_backlog(bench.redis, min(chunk, events - start))
                    total = min(start + chunk, events)
                    await _until(_ready(lambda t=total: min(seen) >= t), "every page's entries")
                used = cpu_seconds(console.process.pid) - before
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                        await task
    finally:
        await bench.stop(console)
    return used / events * 1e6


def _ready(check: Any) -> Any:
    async def ready() -> bool:
        return bool(check())

    return ready
