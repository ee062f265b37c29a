"""The work queue (eventkit.queue) in memory, for unit tests; ``eventkit.testing`` exports it.

Same semantics as ``RedisWorkQueue``: a message is always in exactly one place (the queue, one
processing list, the delayed set, the failed list), attempts are counted when a message is
taken, heartbeats expire, settling writes the receipt. tests/contracts/test_work_queue.py runs
the same tests against both. No await between reading and writing a place: each operation is
atomic under asyncio, as each script is in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import replace

from eventkit.queue import Message, QueueCounts, Receipt, State


class InMemoryWorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic, name: str = "memory") -> None:
        self.clock, self.name = clock, name
        self.ready: deque[Message] = deque()  # appended on the left, taken from the right
        self.processing: dict[str, list[Message]] = defaultdict(list)
        self.delayed: list[tuple[float, Message]] = []
        self.failed_messages: list[Message] = []  # newest first
        self.heartbeats: dict[str, float] = {}  # registered worker → when its heartbeat expires
        self._receipts: dict[str, Receipt] = {}
        self._arrival = asyncio.Event()

    async def enqueue(self, messages: Sequence[Message]) -> None:
        self.ready.extendleft(messages)
        if messages:
            self._arrival.set()

    async def take(self, worker: str, block_s: float) -> Message | None:
        if not self.ready:
            self._arrival.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrival.wait(), block_s)
        if not self.ready:
            return None
        message = self.ready.pop()
        self.processing[worker].insert(0, message)
        receipt = self._receipts.get(message.id, Receipt())
        self._receipts[message.id] = replace(receipt, attempts=receipt.attempts + 1)
        return replace(message, attempts=receipt.attempts + 1)

    async def done(self, worker: str, message: Message) -> None:
        if not self._remove(self.processing[worker], message):
            self._remove(self.ready, message)  # a copy a reaper returned, if nobody took it
        self._settle(message, "sent", "")

    async def retry(self, worker: str, message: Message, delay_s: float, error: str) -> None:
        if self._remove(self.processing[worker], message):
            self.delayed.append((self.clock() + delay_s, self._stored(message)))
            self._settle(message, "queued", error)

    async def fail(self, worker: str, message: Message, error: str) -> None:
        if self._remove(self.processing[worker], message):
            self.failed_messages.insert(0, self._stored(message))
            self._settle(message, "failed", error)

    async def heartbeat(self, worker: str, ttl_s: float) -> None:
        self.heartbeats[worker] = self.clock() + ttl_s

    async def release(self, worker: str, *, leave: bool = False) -> int:
        held = self.processing.pop(worker, [])
        self.ready.extend(held)  # to the front (the right), the oldest rightmost: taken first
        if leave:
            self.heartbeats.pop(worker, None)
        if held:
            self._arrival.set()
        return len(held)

    async def promote_due(self) -> int:
        now = self.clock()
        due = [message for when, message in self.delayed if when <= now]
        self.delayed = [(when, message) for when, message in self.delayed if when > now]
        await self.enqueue(due)
        return len(due)

    async def reap(self) -> int:
        now = self.clock()
        dead = [worker for worker, expires in self.heartbeats.items() if expires <= now]
        return sum([await self.release(worker, leave=True) for worker in dead])

    async def failed(self, count: int) -> list[tuple[Message, Receipt]]:
        return [(m, self._receipts.get(m.id, Receipt())) for m in self.failed_messages[:count]]

    async def requeue(self, message_id: str) -> bool:
        for message in self.failed_messages:
            if message.id == message_id:
                self.failed_messages.remove(message)
                self._receipts[message_id] = Receipt("queued", 0, "")
                await self.enqueue([message])
                return True
        return False

    async def receipts(self, message_ids: Sequence[str]) -> dict[str, Receipt]:
        return {i: self._receipts[i] for i in message_ids if i in self._receipts}

    async def counts(self) -> QueueCounts:
        in_flight = sum(len(self.processing.get(worker, [])) for worker in self.heartbeats)
        return QueueCounts(
            len(self.ready), len(self.delayed), in_flight, len(self.failed_messages),
            len(self.heartbeats),
        )  # fmt: skip

    @staticmethod
    def _stored(message: Message) -> Message:
        """As it sits in a list: its element, not the attempts of one taking."""
        return replace(message, attempts=0)

    @staticmethod
    def _remove(places: MutableSequence[Message], message: Message) -> bool:
        for held in places:
            if held.element == message.element:
                places.remove(held)
                return True
        return False

    def _settle(self, message: Message, state: State, error: str) -> None:
        attempts = self._receipts.get(message.id, Receipt()).attempts
        self._receipts[message.id] = Receipt(state, attempts, error)
