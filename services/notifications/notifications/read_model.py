"""Notifications' read model in Redis: each notification once, indexed by customer and by
payment. It implements ports.NotificationStore.

Every key starts with the hash tag ``{notifications}`` (one slot on Redis Cluster, one ACL
pattern).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from notifications.domain import Notification

ALL = "{notifications}:all"


def notification_key(notification_id: str) -> str:
    return f"{{notifications}}:notification:{notification_id}"


def by_customer_key(customer_id: str) -> str:
    return f"{{notifications}}:by-customer:{customer_id}"


def by_payment_key(payment_id: str) -> str:
    return f"{{notifications}}:by-payment:{payment_id}"


# Exactly one notification per event: the document is written only if absent (SET NX), and the
# indexes only with it, atomically. A redelivered event changes nothing. One call records a
# whole run. KEYS: the index of all, then per notification its document and its two indexes.
# ARGV: per notification its JSON, its score (time in ms) and its id. Returns how many were new.
RECORD = """
local new = 0
for i = 1, #ARGV / 3 do
  local json, score, id = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  if redis.call('SET', KEYS[3 * i - 1], json, 'NX') then
    redis.call('ZADD', KEYS[1], score, id)
    redis.call('ZADD', KEYS[3 * i], score, id)
    redis.call('ZADD', KEYS[3 * i + 1], score, id)
    new = new + 1
  end
end
return new
"""


class RedisNotificationStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._record = redis.register_script(RECORD)

    async def recorded(self, notification_ids: Sequence[str]) -> set[str]:
        """Which of these notifications exist already (one round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for notification_id in notification_ids:
                pipe.exists(notification_key(notification_id))
            found = await pipe.execute()
        return {i for i, exists in zip(notification_ids, found, strict=True) if exists}

    async def record(self, notifications: Sequence[Notification]) -> int:
        """Store each notification unless it exists; return how many were new."""
        if not notifications:
            return 0
        keys, args = [ALL], []
        for note in notifications:
            keys += [
                notification_key(note.notification_id),
                by_customer_key(note.customer_id),
                by_payment_key(note.payment_id),
            ]
            args += [
                note.model_dump_json(),
                int(note.time.timestamp() * 1000),
                note.notification_id,
            ]
        return int(await self._record(keys=keys, args=args))

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        """Newest first, at most ``limit``, filtered by customer and/or payment."""
        if payment_id is not None:
            index = by_payment_key(payment_id)
        elif customer_id is not None:
            index = by_customer_key(customer_id)
        else:
            index = ALL
        ids = await self.redis.zrevrange(index, 0, limit - 1)
        if not ids:
            return []
        documents = await self.redis.mget([notification_key(i.decode()) for i in ids])
        found = [Notification.model_validate_json(d) for d in documents if d]
        # A payment belongs to one customer, so both filters together narrow the payment's list.
        return [n for n in found if customer_id is None or n.customer_id == customer_id]
