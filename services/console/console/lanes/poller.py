"""The one poll of the consumer groups, for every open page: what each card's state is, and how far
behind each consumer group is.

Every ``progress_every_s`` (0.5 s), while at least one page is open, it asks Redis about each
group on each partition (read_model.read_group: XINFO GROUPS, XINFO CONSUMERS, XPENDING, XRANGE,
XLEN, XREVRANGE, each on one key), lets domain.py infer the state of the recent cards, and
combines each group's partitions into one (progress.combine). The progress goes to the pages
only when it differs from the last one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from eventkit import Client
from redis import exceptions as redis_errors

from console.lanes.hub import Hub
from console.lanes.progress import Progress, combine, group_progress
from console.lanes.read_model import read_group
from console.lanes.reader import StreamReader
from console.lanes.streams import Group

log = logging.getLogger(__name__)


class ProgressPoller:
    def __init__(
        self,
        redis: Client,
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
                self.hub.publish_progress(await self.poll())
            await asyncio.sleep(self.every_s)

    async def poll(self) -> str:
        self.polls += 1
        try:
            readings = [await read_group(self.redis, group) for group in self.groups]
        except redis_errors.RedisError as exc:  # down, or refused: the page says so
            log.warning("progress poll failed: %s: %s", type(exc).__name__, exc)
            return Progress.failed(f"{type(exc).__name__}: {exc}").json_text()
        now_ms = time.time_ns() // 1_000_000  # after the reads: ages are never understated
        parts = [
            group_progress(
                reading, group.stream.lane, self.readers[group.stream.name].recent, now_ms
            )
            for reading, group in zip(readings, self.groups, strict=True)
        ]
        return Progress(groups=combine(parts)).json_text()
