"""Orders' read models in Redis: the orders, and its local copy of payments (the cache).

They implement the protocols of ports.py.

Every key starts with the hash tag ``{orders}``: the service's scripts stay legal on Redis
Cluster and its access rule is one pattern (``~{orders}:*``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from contracts.payments import PaymentSnapshot
from redis.asyncio import Redis

from orders.domain import PlacedOrder

CACHED = "{orders}:cached-payments"  # every payment id in the cache: what a rebuild drops


def order_key(order_id: str) -> str:
    return f"{{orders}}:order:{order_id}"


def payment_key(payment_id: str) -> str:
    return f"{{orders}}:payment:{payment_id}"


def payments_of_key(order_id: str) -> str:
    return f"{{orders}}:payments-of:{order_id}"  # hash: payment id → copy


# Each copy is kept twice, by one script: under its payment id (GET /cache/payments/{id}) and
# in its order's hash, so that reading an order fetches all its payments in one HVALS.


# Idempotent and ordered per payment: a copy is replaced only by a newer version, so a
# redelivered event, or an older one arriving after a newer one, changes nothing. One call
# applies a whole run of events, in order: one round trip, however long the run.
# KEYS: the set of cached ids, then per payment its copy and its order's hash.
# ARGV: per payment its id, its version and its JSON. Returns how many copies changed.
APPLY = """
local changed = 0
for i = 1, #ARGV / 3 do
  local copy, payments_of = KEYS[2 * i], KEYS[2 * i + 1]
  local id, version, json = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), ARGV[3 * i]
  local cached = redis.call('GET', copy)
  if not cached or cjson.decode(cached)['version'] < version then
    redis.call('SET', copy, json)
    redis.call('HSET', payments_of, id, json)
    redis.call('SADD', KEYS[1], id)
    changed = changed + 1
  end
end
return changed
"""


class RedisPaymentCache:
    """Orders' copy of payments, kept from the state stream. Never asks payments anything."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._apply = redis.register_script(APPLY)

    async def apply(self, payments: Sequence[PaymentSnapshot]) -> int:
        """Keep each copy unless a newer version is cached, in order; return how many changed."""
        if not payments:
            return 0
        keys, args = [CACHED], []
        for payment in payments:
            keys += [payment_key(payment.payment_id), payments_of_key(payment.order_id)]
            args += [payment.payment_id, payment.version, payment.model_dump_json()]
        return int(await self._apply(keys=keys, args=args))

    async def get(self, payment_id: str) -> PaymentSnapshot | None:
        raw = await self.redis.get(payment_key(payment_id))
        return PaymentSnapshot.model_validate_json(raw) if raw else None

    async def copies(self) -> dict[str, PaymentSnapshot]:
        """The whole cache (payment id → copy): what tests and a rebuild compare."""
        ids = sorted(m.decode() for m in await self.redis.smembers(CACHED))
        copies = await self.redis.mget([payment_key(i) for i in ids]) if ids else []
        return {
            i: PaymentSnapshot.model_validate_json(c) for i, c in zip(ids, copies, strict=True) if c
        }

    async def count(self) -> int:
        return int(await self.redis.scard(CACHED))

    async def drop(self) -> int:
        """Delete every cached copy (before a rebuild); return how many there were.

        A thousand keys per DEL: the copies are not validated, only read for their order id.
        """
        ids = [m.decode() for m in await self.redis.smembers(CACHED)]
        for start in range(0, len(ids), 1000):
            keys = [payment_key(i) for i in ids[start : start + 1000]]
            orders = {json.loads(c)["order_id"] for c in await self.redis.mget(keys) if c}
            await self.redis.delete(*keys, *(payments_of_key(o) for o in orders))
        await self.redis.delete(CACHED)
        return len(ids)


class RedisOrderStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def place(self, order: PlacedOrder) -> None:
        document = json.dumps(order.__dict__)
        if not await self.redis.set(order_key(order.order_id), document, nx=True):
            raise ValueError(f"order {order.order_id} exists")  # uuid4 ids: never in practice

    async def get(self, order_id: str) -> tuple[PlacedOrder, list[PaymentSnapshot]] | None:
        """The order and the cached copies of its payments (one round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(order_key(order_id))
            pipe.hvals(payments_of_key(order_id))
            document, copies = await pipe.execute()
        if document is None:
            return None
        payments = [PaymentSnapshot.model_validate_json(c) for c in copies]
        return PlacedOrder(**json.loads(document)), payments
