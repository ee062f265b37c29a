"""Group progress for every open page, from one poll: what each card's state is, and how far
behind each consumer group is.

Every ``progress_every_s`` (0.5 s), while at least one page is open, it asks Redis about each
group (read_model.read_group: XINFO GROUPS, XINFO CONSUMERS, XPENDING, XRANGE, XLEN, XREVRANGE)
and lets domain.progress infer the state of the recent cards. The snapshot goes to the pages
only when it differs from the last one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from console import domain
from console.feed import Hub, StreamReader
from console.read_model import read_group
from console.streams import Group

log = logging.getLogger(__name__)


class ProgressPoller:
    def __init__(
        self,
        redis: Redis,
        hub: Hub,
        groups: Sequence[Group],
        readers: Mapping[str, StreamReader],
        every_s: float,
    ) -> None:
        self.redis, self.hub, self.groups = redis, hub, groups
        self.readers, self.every_s = readers, every_s
        self.polls = 0

    async def run(self) -> None:
        while True:
            if self.hub.subscribers:  # nobody is watching: ask Redis nothing
                self.hub.publish_progress(await self.snapshot())
            await asyncio.sleep(self.every_s)

    async def snapshot(self) -> str:
        self.polls += 1
        try:
            readings = [await read_group(self.redis, group) for group in self.groups]
        except redis_errors.RedisError as exc:  # down, or refused: the page says so
            log.warning("progress poll failed: %s: %s", type(exc).__name__, exc)
            return domain.Snapshot.failed(f"{type(exc).__name__}: {exc}").json_text()
        now_ms = time.time_ns() // 1_000_000  # after the reads: ages are never understated
        groups = [
            domain.progress(
                reading, group.stream.name, self.readers[group.stream.name].recent, now_ms
            )
            for reading, group in zip(readings, self.groups, strict=True)
        ]
        return domain.Snapshot(groups=groups).json_text()
