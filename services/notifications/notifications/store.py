"""Notifications' own keys: each notification once, indexed by customer and by payment.

Every key starts with the hash tag ``{notifications}`` (one slot on Redis Cluster, one ACL
pattern).
"""

from __future__ import annotations

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
# indexes only with it, atomically. A redelivered event changes nothing.
RECORD = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return 0
end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
end
return 1
"""


class NotificationStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._record = redis.register_script(RECORD)

    async def exists(self, notification_id: str) -> bool:
        return bool(await self.redis.exists(notification_key(notification_id)))

    async def record(self, notification: Notification) -> bool:
        """Store ``notification`` unless it exists; True if it was new."""
        keys = [
            notification_key(notification.notification_id),
            ALL,
            by_customer_key(notification.customer_id),
            by_payment_key(notification.payment_id),
        ]
        score = int(notification.time.timestamp() * 1000)
        args = [notification.model_dump_json(), score, notification.notification_id]
        return bool(await self._record(keys=keys, args=args))

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
