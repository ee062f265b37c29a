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

Times are Redis's own (``TIME`` inside the scripts), so workers on hosts whose clocks differ
agree on when a retry is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from redis.asyncio import Redis

from eventkit.event_store import check_one_slot
from eventkit.queue import Message, QueueCounts, Receipt, State


def timed(body: str) -> str:
    """A script that knows ``now``: Redis's clock in ms, the same for every worker's host."""
    return "local t = redis.call('TIME')\nlocal now = t[1] * 1000 + math.floor(t[2] / 1000)" + body


# KEYS: processing, queue, receipt. ARGV: element. If the message is not in our processing
# list, a reaper took us for dead and returned it: remove that copy too, if nobody took it yet.
DONE = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
end
redis.call('HSET', KEYS[3], 'state', 'sent', 'error', '', 'at', now)
""")

# KEYS: processing, delayed, receipt. ARGV: element, delay (ms), error. Nothing happens if the
# message is not in our processing list any more (reaped: the copy in the queue is retried).
RETRY = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'queued', 'error', ARGV[3], 'at', now)
return 1
""")

# KEYS: processing, failed, receipt. ARGV: element, error.
FAIL = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'failed', 'error', ARGV[2], 'at', now)
return 1
""")

# KEYS: delayed, queue. ARGV: how many at most. Due messages join the back of the queue.
PROMOTE = timed("""
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, ARGV[1])
for _, element in ipairs(due) do
  redis.call('ZREM', KEYS[1], element)
  redis.call('LPUSH', KEYS[2], element)
end
return #due
""")

# KEYS: workers, heartbeat, processing, queue. ARGV: worker, mode. Mode "dead": only if the
# heartbeat expired (checked here, in the same step as the move: a worker that came back to
# life in between keeps its messages), then unregister it. "own": a live worker gives back
# what it holds. "leave": that, and unregister. Messages go back to the front of the queue
# (the right end, where BLMOVE takes from), oldest first.
RETURN = """
if ARGV[2] == 'dead' and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local moved = 0
while redis.call('LMOVE', KEYS[3], KEYS[4], 'LEFT', 'RIGHT') do moved = moved + 1 end
if ARGV[2] ~= 'own' then
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
return moved
"""

# KEYS: workers, heartbeat. ARGV: worker, ttl (ms). Registered and alive in one step: a worker
# registered without a heartbeat would be reaped while it works.
HEARTBEAT = """
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
"""

# KEYS: failed, queue, receipt. ARGV: element. Attempts start again from 0.
REQUEUE = timed("""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'queued', 'attempts', 0, 'error', '', 'at', now)
return 1
""")


class RedisWorkQueue:
    """eventkit.queue.WorkQueue on Redis. ``name`` must carry a hash tag: ``{service}:what``."""

    def __init__(self, redis: Redis, name: str) -> None:
        self.redis, self.name = redis, name
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
                return bool(await self._requeue(keys=keys, args=[element]))
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
