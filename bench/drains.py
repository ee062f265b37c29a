"""Timing consumers through a backlog: paused while it is written, resumed together, watched
until their group has nothing left.

1. The consumers start on empty streams and join their group: XINFO CONSUMERS lists each one
   once it has read (it then waits in XREADGROUP … BLOCK).
2. They are paused (SIGSTOP to each process group), the backlog is written, and they are
   resumed (SIGCONT) together: **the clock starts** there. Start-up (about a second of imports
   per process) is not counted, and two replicas start at the same moment. (While paused, a
   consumer's blocked read may already have been answered with its first batch: the reply
   waits in its socket.)
3. The clock stops when, on every stream, the group has nothing pending and its last-delivered
   id is the stream's last entry (not XINFO's ``lag``, which Redis may report as null). Polled
   every 5 ms: about 1 % of a 0.5 s drain.

The FastStream peer, which has no way to say it has joined, is timed from the moment its group
appears instead (``started=None``), after the backlog was written.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventkit import Client
from redis.exceptions import ResponseError

from bench.procs import Proc

POLL_S = 0.005  # how often the timer asks Redis about the group


@dataclass(frozen=True)
class Drain:
    count: int
    seconds: float  # from the start to nothing pending and nothing undelivered

    @property
    def rate(self) -> float:
        return self.count / max(self.seconds, 1e-6)


async def group_info(redis: Client, stream: str, group: str) -> dict[str, Any] | None:
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


async def joined(redis: Client, streams: Sequence[str], group: str, names: Sequence[str]) -> bool:
    """Every one of ``names`` has read from ``group`` on every stream."""
    for stream in streams:
        if await group_info(redis, stream, group) is None:
            return False
        consumers = await redis.xinfo_consumers(stream, group)
        present = {
            c["name"].decode() if isinstance(c["name"], bytes) else c["name"] for c in consumers
        }
        if not set(names) <= present:
            return False
    return True


async def paused_drain(
    redis: Client,
    procs: Sequence[Proc],
    *,
    group: str,
    names: Sequence[str],
    streams: Sequence[str],
    write: Callable[[], Awaitable[dict[str, str]]],
    count: int,
) -> Drain:
    """Wait until ``procs`` (consumers ``names``) joined ``group`` on ``streams``, pause them,
    ``write`` the backlog (it returns each stream's last entry id), resume them and time the
    drain."""
    deadline = time.monotonic() + 60
    while not await joined(redis, streams, group, names):
        for proc in procs:
            proc.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{[p.name for p in procs]} did not join group {group}")
        await asyncio.sleep(0.02)
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    try:
        last_ids = await write()
    finally:
        started = time.monotonic()
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
    return await time_drain(
        redis, procs, group=group, last_ids=last_ids, count=count, started=started
    )


async def time_drain(
    redis: Client,
    procs: Sequence[Proc],
    *,
    group: str,
    last_ids: dict[str, str],
    count: int,
    started: float | None,
) -> Drain:
    """Watch ``group`` on each stream of ``last_ids`` until it has nothing pending and has
    delivered the stream's last entry. ``started``: when the clock started (None: when the
    group first appears on every stream)."""
    deadline = time.monotonic() + max(60.0, count / 100)
    while True:
        now = time.monotonic()
        infos = [await group_info(redis, stream, group) for stream in last_ids]
        if started is None and all(info is not None for info in infos):
            started = now
        if all(_drained(info, last) for info, last in zip(infos, last_ids.values(), strict=True)):
            assert started is not None
            return Drain(count, now - started)
        for proc in procs:
            proc.check_alive()
        if now > deadline:
            raise RuntimeError(f"{group} did not drain {list(last_ids)} in time: {infos}")
        await asyncio.sleep(POLL_S)


def _drained(info: dict[str, Any] | None, last_id: str) -> bool:
    if info is None:
        return False
    delivered = info["last-delivered-id"]
    delivered = delivered.decode() if isinstance(delivered, bytes) else delivered
    return bool(info["pending"] == 0 and delivered == last_id)
