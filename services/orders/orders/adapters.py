"""Orders' adapters: its read models in Redis, the orders and its copy of payments (the
cache), implementing the protocols of ports.py.

Every key starts with a hash tag of orders: ``{orders}`` with one partition, ``{orders-p}`` with
several (eventkit.partitions). A copy of a payment is kept in the payment's partition (the one
whose state stream brought it), an order in its own: the scripts stay in one slot on Redis
Cluster, and the access rule is two patterns (``~{orders}:* ~{orders-*}:*``).

The cache lives in **generations** (projections/cache_rebuild.py says why), per partition:
``{orders}:cache:<n>:…``, and ``{orders}:cache:generation`` names the one in use. The scripts
read that pointer themselves, so a rebuild's switch cannot fall between reading it and using it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from contracts.payments import PaymentState
from eventkit import Client, ReplicatedWrites, Replication
from eventkit.partitions import Partitions

from orders.domain import PlacedOrder

NAMESPACE = "orders"
TAG = "{orders}"  # with one partition; partition p of several: {orders-p}


def generation_key(tag: str = TAG) -> str:
    return f"{tag}:cache:generation"  # the generation in use; absent: 0


def order_tag(order_id: str, partitions: Partitions = Partitions()) -> str:
    """The tag of an order's own partition (its payments may be in any)."""
    return partitions.tag(NAMESPACE, partitions.of(f"order:{order_id}"))


def order_key(order_id: str, partitions: Partitions = Partitions()) -> str:
    return f"{order_tag(order_id, partitions)}:order:{order_id}"


def cache_prefix(generation: int, tag: str = TAG) -> str:
    return f"{tag}:cache:{generation}:"


def copy_key(generation: int, payment_id: str, tag: str = TAG) -> str:
    return f"{cache_prefix(generation, tag)}payment:{payment_id}"


def payments_of_key(generation: int, order_id: str, tag: str = TAG) -> str:
    return f"{cache_prefix(generation, tag)}payments-of:{order_id}"  # hash: payment id → copy


def cached_key(generation: int, tag: str = TAG) -> str:
    return f"{cache_prefix(generation, tag)}cached"  # set: every payment id in the generation


# The generation a script works on: ARGV[1] if given (a rebuild's), else the one in use. Its
# keys' prefix is KEYS[1] (generation_key: "<tag>:cache:generation") without its last ten
# characters ("generation"), then the generation: the scripts build the keys they touch from
# it, which Redis Cluster allows because every one shares KEYS[1]'s hash tag (one slot).
_GENERATION = """
local generation = ARGV[1]
if generation == '' then generation = redis.call('GET', KEYS[1]) or '0' end
local prefix = string.sub(KEYS[1], 1, -11) .. generation .. ':'
"""

# Each copy is kept twice, by one script: under its payment id (GET /cache/payments/{id}) and
# in its order's hash (an order's payments are one HVALS). Which copy is kept is the rule
# orders.domain.replaces, here in Lua so that deciding and writing are one step; the contract
# test tests/contracts/test_orders_read_model.py holds the two to each other. One call applies
# a whole run of events, in order: one round trip, however long the run.
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
  if not cached or version > cjson.decode(cached)['version'] then  -- domain.replaces
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
# KEYS: the generation pointer. ARGV: '', an order id. Returns its payments' copies (if here).
PAYMENTS_OF = _GENERATION + "return redis.call('HVALS', prefix .. 'payments-of:' .. ARGV[2])"


class RedisPaymentCache:
    """Orders' copy of one partition's payments (``tag``), kept from that partition's state
    stream. Never asks payments anything.

    ``generation=None`` works on the generation in use (the live consumer, the API); a number
    pins one (a rebuild filling a new generation aside).
    """

    def __init__(self, redis: Client, generation: int | None = None, tag: str = TAG) -> None:
        self.redis, self.generation, self.tag = redis, generation, tag
        self.pointer = generation_key(tag)
        self._apply = redis.register_script(APPLY)
        self._get = redis.register_script(GET_COPY)
        self._payments_of = redis.register_script(PAYMENTS_OF)

    @property
    def _pinned(self) -> str:
        return "" if self.generation is None else str(self.generation)

    async def apply(self, payments: Sequence[PaymentState]) -> int:
        """Keep each copy that domain.replaces keeps, in order; return how many changed."""
        if not payments:
            return 0
        args: list[str | int] = [self._pinned]
        for payment in payments:
            args += [payment.payment_id, payment.order_id, payment.version]
            args.append(payment.model_dump_json())
        return int(await self._apply(keys=[self.pointer], args=args))

    async def get(self, payment_id: str) -> PaymentState | None:
        raw = await self._get(keys=[self.pointer], args=[self._pinned, payment_id])
        return PaymentState.model_validate_json(raw) if raw else None

    async def payments_of(self, order_id: str) -> list[PaymentState]:
        """The copies of an order's payments in this partition (one round trip)."""
        copies = await self._payments_of(keys=[self.pointer], args=[self._pinned, order_id])
        return [PaymentState.model_validate_json(c) for c in copies]

    async def copies(self) -> dict[str, PaymentState]:
        """The whole cache (payment id → copy): what tests and a rebuild compare. Two round
        trips, on one generation: for operators and tests, not for requests."""
        generation = self.generation
        if generation is None:
            generation = await current_generation(self.redis, self.tag)
        members = await self.redis.smembers(cached_key(generation, self.tag))
        ids = sorted(m.decode() for m in members)
        keys = [copy_key(generation, i, self.tag) for i in ids]
        copies = await self.redis.mget(keys) if keys else []
        return {
            i: PaymentState.model_validate_json(c) for i, c in zip(ids, copies, strict=True) if c
        }


class RedisOrderStore:
    """The orders, each in its own partition, read with the copies of their payments from every
    partition's cache (an order's payments may be in any). ``writes``: a placed order is
    confirmed by the replicas its shard must have before ``place`` returns."""

    def __init__(
        self,
        redis: Client,
        caches: Sequence[RedisPaymentCache] | None = None,
        partitions: Partitions = Partitions(),
        writes: ReplicatedWrites | None = None,
    ) -> None:
        self.redis, self.partitions = redis, partitions
        self.caches = list(caches) if caches is not None else [RedisPaymentCache(redis)]
        self.writes = writes or ReplicatedWrites(redis, Replication(replicas=0))

    async def place(self, order: PlacedOrder) -> None:
        """Store the order; NotReplicated if it is stored but its replicas did not confirm it."""
        document = json.dumps(order.__dict__)
        key = order_key(order.order_id, self.partitions)
        if not await self.redis.set(key, document, nx=True):
            raise ValueError(f"order {order.order_id} exists")  # uuid4 ids: never in practice
        await self.writes.mark(order_tag(order.order_id, self.partitions))

    async def get(self, order_id: str) -> tuple[PlacedOrder, list[PaymentState]] | None:
        """The order and the cached copies of its payments (side by side: one round trip per
        partition, at the same time)."""
        document, *copies = await asyncio.gather(
            self.redis.get(order_key(order_id, self.partitions)),
            *(cache.payments_of(order_id) for cache in self.caches),
        )
        if not document:
            return None
        payments = [copy for partition in copies for copy in partition]
        return PlacedOrder(**json.loads(document)), payments


async def current_generation(redis: Client, tag: str = TAG) -> int:
    return int(await redis.get(generation_key(tag)) or 0)
