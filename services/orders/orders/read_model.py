"""Orders' read models in Redis: the orders, and its local copy of payments (the cache).

They implement the protocols of ports.py.

Every key starts with the hash tag ``{orders}``: the service's scripts stay legal on Redis
Cluster and its access rule is one pattern (``~{orders}:*``).

The cache lives in **generations**: ``{orders}:cache:<n>:…``, and ``{orders}:cache:generation``
says which one readers and the live consumer use. A rebuild (rebuild.py) fills a new
generation aside while the current one keeps serving, then switches the pointer in one
command: readers never see a half-built cache, and a rebuild that fails leaves the current one
as it was. The scripts read the pointer themselves, so a switch cannot fall between reading it
and using it; the keys they derive from it share the declared key's hash tag (one slot).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from contracts.payments import PaymentSnapshot
from redis.asyncio import Redis

from orders.domain import PlacedOrder

TAG = "{orders}"
GENERATION = f"{TAG}:cache:generation"  # the generation in use; absent: 0
NEXT_GENERATION = f"{TAG}:cache:next-generation"  # a counter: each rebuild takes the next


def order_key(order_id: str) -> str:
    return f"{TAG}:order:{order_id}"


def cache_prefix(generation: int) -> str:
    return f"{TAG}:cache:{generation}:"


def copy_key(generation: int, payment_id: str) -> str:
    return f"{cache_prefix(generation)}payment:{payment_id}"


def payments_of_key(generation: int, order_id: str) -> str:
    return f"{cache_prefix(generation)}payments-of:{order_id}"  # hash: payment id → copy


def cached_key(generation: int) -> str:
    return f"{cache_prefix(generation)}cached"  # set: every payment id in the generation


# The generation a script works on: ARGV[1] if given (a rebuild's), else the one in use.
_GENERATION = """
local generation = ARGV[1]
if generation == '' then generation = redis.call('GET', KEYS[1]) or '0' end
local prefix = string.sub(KEYS[1], 1, -11) .. generation .. ':'
"""

# Each copy is kept twice, by one script: under its payment id (GET /cache/payments/{id}) and
# in its order's hash, so that reading an order fetches all its payments in one HVALS.
# Idempotent and ordered per payment: a copy is replaced only by a newer version, so a
# redelivered event, or an older one arriving after a newer one, changes nothing. One call
# applies a whole run of events, in order: one round trip, however long the run.
# KEYS: the generation pointer. ARGV: a generation or '', then per payment its id, its order's
# id, its version and its JSON. Returns how many copies changed.
APPLY = (
    _GENERATION
    + """
local changed = 0
for i = 2, #ARGV, 4 do
  local id, order, version, json = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local copy = prefix .. 'payment:' .. id
  local cached = redis.call('GET', copy)
  if not cached or cjson.decode(cached)['version'] < version then
    redis.call('SET', copy, json)
    redis.call('HSET', prefix .. 'payments-of:' .. order, id, json)
    redis.call('SADD', prefix .. 'cached', id)
    changed = changed + 1
  end
end
return changed
"""
)
# KEYS: the generation pointer. ARGV: '', a payment id. Returns its copy or nil.
GET_COPY = _GENERATION + "return redis.call('GET', prefix .. 'payment:' .. ARGV[2])"
# KEYS: the generation pointer, the order's key. ARGV: '', the order id. Returns the order's
# document (or nil) followed by the copies of its payments.
GET_ORDER = (
    _GENERATION
    + """
local copies = redis.call('HVALS', prefix .. 'payments-of:' .. ARGV[2])
table.insert(copies, 1, redis.call('GET', KEYS[2]) or false)
return copies
"""
)


class RedisPaymentCache:
    """Orders' copy of payments, kept from the state stream. Never asks payments anything.

    ``generation=None`` works on the generation in use (the live consumer, the API); a number
    pins one (a rebuild filling a new generation aside).
    """

    def __init__(self, redis: Redis, generation: int | None = None) -> None:
        self.redis = redis
        self.generation = generation
        self._apply = redis.register_script(APPLY)
        self._get = redis.register_script(GET_COPY)

    @property
    def _pinned(self) -> str:
        return "" if self.generation is None else str(self.generation)

    async def apply(self, payments: Sequence[PaymentSnapshot]) -> int:
        """Keep each copy unless a newer version is cached, in order; return how many changed."""
        if not payments:
            return 0
        args: list[str | int] = [self._pinned]
        for payment in payments:
            args += [payment.payment_id, payment.order_id, payment.version]
            args.append(payment.model_dump_json())
        return int(await self._apply(keys=[GENERATION], args=args))

    async def get(self, payment_id: str) -> PaymentSnapshot | None:
        raw = await self._get(keys=[GENERATION], args=[self._pinned, payment_id])
        return PaymentSnapshot.model_validate_json(raw) if raw else None

    async def copies(self) -> dict[str, PaymentSnapshot]:
        """The whole cache (payment id → copy): what tests and a rebuild compare. Two round
        trips, on one generation: for operators and tests, not for requests."""
        generation = self.generation
        if generation is None:
            generation = await current_generation(self.redis)
        ids = sorted(m.decode() for m in await self.redis.smembers(cached_key(generation)))
        keys = [copy_key(generation, i) for i in ids]
        copies = await self.redis.mget(keys) if keys else []
        return {
            i: PaymentSnapshot.model_validate_json(c) for i, c in zip(ids, copies, strict=True) if c
        }


class RedisOrderStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._get = redis.register_script(GET_ORDER)

    async def place(self, order: PlacedOrder) -> None:
        document = json.dumps(order.__dict__)
        if not await self.redis.set(order_key(order.order_id), document, nx=True):
            raise ValueError(f"order {order.order_id} exists")  # uuid4 ids: never in practice

    async def get(self, order_id: str) -> tuple[PlacedOrder, list[PaymentSnapshot]] | None:
        """The order and the cached copies of its payments (one round trip)."""
        document, *copies = await self._get(
            keys=[GENERATION, order_key(order_id)], args=["", order_id]
        )
        if not document:
            return None
        payments = [PaymentSnapshot.model_validate_json(c) for c in copies]
        return PlacedOrder(**json.loads(document)), payments


# ---- Generations: what a rebuild needs -------------------------------------------------------


async def current_generation(redis: Redis) -> int:
    return int(await redis.get(GENERATION) or 0)


async def new_generation(redis: Redis) -> int:
    """A generation number no rebuild used before (the first is 1: 0 is the initial one)."""
    return int(await redis.incr(NEXT_GENERATION))


# KEYS: the generation pointer. ARGV: the generation expected in use, the new one.
SWITCH = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


async def switch_generation(redis: Redis, in_use: int, generation: int) -> bool:
    """Make ``generation`` the one in use, in one step, if ``in_use`` still is (two rebuilds at
    once: the second to switch finds the pointer moved and gives up)."""
    switched = await redis.register_script(SWITCH)(keys=[GENERATION], args=[in_use, generation])
    return bool(switched)


async def drop_generation(redis: Redis, generation: int, batch: int = 1000) -> int:
    """Delete a generation's keys, a batch at a time (never one long blocking command);
    return how many copies it held. Only for a generation nobody reads any more."""
    ids = [m.decode() for m in await redis.smembers(cached_key(generation))]
    for start in range(0, len(ids), batch):
        keys = [copy_key(generation, i) for i in ids[start : start + batch]]
        orders = {json.loads(c)["order_id"] for c in await redis.mget(keys) if c}
        await redis.unlink(*keys, *(payments_of_key(generation, o) for o in orders))
    await redis.unlink(cached_key(generation))
    return len(ids)


async def cached_ids(redis: Redis, generation: int) -> set[str]:
    return {m.decode() for m in await redis.smembers(cached_key(generation))}
