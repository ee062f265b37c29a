"""The work queue (eventkit.queue) in Redis: lists, a sorted set, and one Lua script per move.

Keys, all under the queue's name, e.g. ``{notifications}:mail`` (its hash tag puts them in one
slot)::

    <name>:queue                 LIST   ready messages: LPUSH in, BLMOVE out from the right
    <name>:processing:<worker>   LIST   what a worker holds
    <name>:delayed               ZSET   messages waiting for a retry, scored by when they are due
    <name>:failed                LIST   given up, newest first
    <name>:workers               SET    registered workers
    <name>:heartbeat:<worker>    STRING a live worker's heartbeat, expiring after the visibility
                                        timeout (PX): gone means the worker is taken for dead
    <name>:receipt:<id>          HASH   state, attempts, error, at (ms)

Each move is one Lua script (eventkit.queue_scripts). Times are Redis's own (``TIME`` inside
the scripts), so workers on hosts whose clocks differ agree on when a retry is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from eventkit.connection import Client
from eventkit.partitions import check_one_slot
from eventkit.queue import Message, QueueCounts, Receipt, State
from eventkit.queue_scripts import DONE, FAIL, HEARTBEAT, PROMOTE, REQUEUE, RETRY, RETURN
from eventkit.replication import ReplicatedWrites, Replication


class RedisWorkQueue:
    """eventkit.queue.WorkQueue on Redis. ``name`` must carry a hash tag: ``{service}:what``.
    ``writes``: an operator's requeue is confirmed by the replicas the shard must have."""

    def __init__(self, redis: Client, name: str, writes: ReplicatedWrites | None = None) -> None:
        self.redis, self.name = redis, name
        self.writes = writes or ReplicatedWrites(redis, Replication(replicas=0))
        self.queue_key, self.delayed_key = f"{name}:queue", f"{name}:delayed"
        self.failed_key, self.workers_key = f"{name}:failed", f"{name}:workers"
        check_one_slot([self.queue_key, self.processing_key("w"), self.receipt_key("m")])
        self._done, self._retry, self._fail = map(redis.register_script, (DONE, RETRY, FAIL))
        self._promote, self._return = map(redis.register_script, (PROMOTE, RETURN))
        self._heartbeat, self._requeue = map(redis.register_script, (HEARTBEAT, REQUEUE))

    def processing_key(self, worker: str) -> str:
        return f"{self.name}:processing:{worker}"

    def heartbeat_key(self, worker: str) -> str:
        return f"{self.name}:heartbeat:{worker}"

    def receipt_key(self, message_id: str) -> str:
        return f"{self.name}:receipt:{message_id}"

    async def enqueue(self, messages: Sequence[Message]) -> None:
        if messages:
            await self.redis.lpush(self.queue_key, *(m.element for m in messages))

    async def take(self, worker: str, block_s: float) -> Message | None:
        element = await self.redis.blmove(
            self.queue_key, self.processing_key(worker), block_s, "RIGHT", "LEFT"
        )
        if element is None:
            return None
        message = Message.decode(element)
        # Counted after the move, not in the same step (a blocking command cannot run in a
        # script): a worker that dies in between leaves one attempt uncounted, never one more.
        attempts = await self.redis.hincrby(self.receipt_key(message.id), "attempts", 1)
        return replace(message, attempts=int(attempts))

    async def done(self, worker: str, message: Message) -> None:
        keys = [self.processing_key(worker), self.queue_key, self.receipt_key(message.id)]
        await self._done(keys=keys, args=[message.element])

    async def retry(self, worker: str, message: Message, delay_s: float, error: str) -> None:
        keys = [self.processing_key(worker), self.delayed_key, self.receipt_key(message.id)]
        await self._retry(keys=keys, args=[message.element, int(delay_s * 1000), error])

    async def fail(self, worker: str, message: Message, error: str) -> None:
        keys = [self.processing_key(worker), self.failed_key, self.receipt_key(message.id)]
        await self._fail(keys=keys, args=[message.element, error])

    async def heartbeat(self, worker: str, ttl_s: float) -> None:
        keys = [self.workers_key, self.heartbeat_key(worker)]
        await self._heartbeat(keys=keys, args=[worker, max(int(ttl_s * 1000), 1)])

    async def release(self, worker: str, *, leave: bool = False) -> int:
        return await self._return_of(worker, "leave" if leave else "own")

    async def promote_due(self, limit: int = 1000) -> int:
        return int(await self._promote(keys=[self.delayed_key, self.queue_key], args=[limit]))

    async def reap(self) -> int:
        returned = 0
        for worker in await self.redis.smembers(self.workers_key):
            returned += max(await self._return_of(worker.decode(), "dead"), 0)
        return returned

    async def failed(self, count: int) -> list[tuple[Message, Receipt]]:
        elements = await self.redis.lrange(self.failed_key, 0, count - 1)
        messages = [Message.decode(element) for element in elements]
        receipts = await self.receipts([m.id for m in messages])
        return [(m, receipts.get(m.id, Receipt())) for m in messages]

    async def requeue(self, message_id: str) -> bool:
        # The failed list is read whole to find the message: an operator's occasional O(N).
        for element in await self.redis.lrange(self.failed_key, 0, -1):
            if Message.decode(element).id == message_id:
                keys = [self.failed_key, self.queue_key, self.receipt_key(message_id)]
                if not await self._requeue(keys=keys, args=[element]):
                    return False
                await self.writes.mark(self.name[: self.name.index("}") + 1])  # its hash tag
                return True
        return False

    async def receipts(self, message_ids: Sequence[str]) -> dict[str, Receipt]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.hgetall(self.receipt_key(message_id))
            found = await pipe.execute()
        return {i: _receipt(raw) for i, raw in zip(message_ids, found, strict=True) if raw}

    async def counts(self) -> QueueCounts:
        workers = [w.decode() for w in await self.redis.smembers(self.workers_key)]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.queue_key).zcard(self.delayed_key).llen(self.failed_key)
            for worker in workers:
                pipe.llen(self.processing_key(worker))
            queued, delayed, failed, *held = await pipe.execute()
        return QueueCounts(queued, delayed, sum(held), failed, len(workers))

    async def _return_of(self, worker: str, mode: str) -> int:
        keys = [
            self.workers_key,
            self.heartbeat_key(worker),
            self.processing_key(worker),
            self.queue_key,
        ]
        return int(await self._return(keys=keys, args=[worker, mode]))


def _receipt(raw: dict[bytes, bytes]) -> Receipt:
    stored = raw.get(b"state", b"queued")
    state: State = "sent" if stored == b"sent" else "failed" if stored == b"failed" else "queued"
    return Receipt(
        state=state,
        attempts=int(raw.get(b"attempts", b"0")),
        error=raw.get(b"error", b"").decode(errors="replace"),
    )
