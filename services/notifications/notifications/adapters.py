"""Notifications' read model in Redis (ports.NotificationStore, ports.ContactBook): each
notification once, indexed by customer and by payment, its mail queued in the same step; the
customers' contacts; and the reader across partitions the API reads (ports.NotificationReader).
Which key is where, and why: keys.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import chain

from contracts.payments import event_stream
from eventkit import Client, RedisWorkQueue, ReplicatedWrites, Replication
from eventkit.partitions import Partitions, check_one_slot

from notifications.domain import Notification
from notifications.keys import (
    NAMESPACE,
    TAG,
    all_key,
    by_customer_key,
    by_payment_key,
    contact_key,
    notification_key,
)
from notifications.mail.compose import MailJob
from notifications.mail.queue import mail_message, with_receipts
from notifications.ports import NotificationReader

# Exactly one notification per event: the document is written only if absent (SET NX), and the
# indexes and its mail only with it, atomically. A redelivered event changes nothing and queues
# no second mail; a crash leaves a notification with its mail queued, or neither. One call
# records a whole run. KEYS: the index of all, the mail queue, then per notification its
# document and its two indexes. ARGV: per notification its JSON, its score (time in ms), its
# id and its mail ("" when it has none). Returns how many were new.
RECORD = """
local new = 0
for i = 1, #ARGV / 4 do
  local json, score, id, mail = ARGV[4 * i - 3], ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  if redis.call('SET', KEYS[3 * i], json, 'NX') then
    redis.call('ZADD', KEYS[1], score, id)
    redis.call('ZADD', KEYS[3 * i + 1], score, id)
    redis.call('ZADD', KEYS[3 * i + 2], score, id)
    if mail ~= '' then redis.call('LPUSH', KEYS[2], mail) end
    new = new + 1
  end
end
return new
"""


class RedisNotificationStore:
    """One partition's notifications (``tag``), and its mail queue under the same tag."""

    def __init__(self, redis: Client, mail_queue: RedisWorkQueue, tag: str = TAG) -> None:
        self.redis, self.mail_queue, self.tag = redis, mail_queue, tag
        check_one_slot([all_key(tag), mail_queue.queue_key])  # one script writes both
        self._record = redis.register_script(RECORD)

    async def recorded(self, notification_ids: Sequence[str]) -> set[str]:
        """Which of these notifications exist already (one round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for notification_id in notification_ids:
                pipe.exists(notification_key(notification_id, self.tag))
            found = await pipe.execute()
        return {i for i, exists in zip(notification_ids, found, strict=True) if exists}

    async def record(
        self, notifications: Sequence[Notification], mails: Sequence[MailJob] = ()
    ) -> int:
        """Store each notification unless it exists, with its mail queued; return how many
        were new."""
        if not notifications:
            return 0
        elements = {m.notification.notification_id: mail_message(m).element for m in mails}
        keys, args = [all_key(self.tag), self.mail_queue.queue_key], []
        for note in notifications:
            keys += [
                notification_key(note.notification_id, self.tag),
                by_customer_key(note.customer_id, self.tag),
                by_payment_key(note.payment_id, self.tag),
            ]
            args += [
                note.model_dump_json(),
                int(note.time.timestamp() * 1000),
                note.notification_id,
                elements.get(note.notification_id, b""),
            ]
        return int(await self._record(keys=keys, args=args))

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        """Newest first, at most ``limit``, filtered by customer and/or payment."""
        if payment_id is not None:
            index = by_payment_key(payment_id, self.tag)
        elif customer_id is not None:
            index = by_customer_key(customer_id, self.tag)
        else:
            index = all_key(self.tag)
        ids = await self.redis.zrevrange(index, 0, limit - 1)
        if not ids:
            return []
        documents = await self.redis.mget([notification_key(i.decode(), self.tag) for i in ids])
        found = [Notification.model_validate_json(d) for d in documents if d]
        # A payment belongs to one customer, so both filters together narrow the payment's list.
        found = [n for n in found if customer_id is None or n.customer_id == customer_id]
        return await with_receipts(self.mail_queue, found)


class RedisContactBook:
    """ports.ContactBook: one address per customer, ``{notifications}:contact:<customer id>``
    (``{notifications-p}:…`` in the customer's partition of several)."""

    def __init__(
        self,
        redis: Client,
        partitions: Partitions = Partitions(),
        writes: ReplicatedWrites | None = None,
    ) -> None:
        self.redis, self.partitions = redis, partitions
        self.writes = writes or ReplicatedWrites(redis, Replication(replicas=0))

    async def set(self, customer_id: str, email: str) -> None:
        """Keep the address; NotReplicated if its shard's replicas did not confirm it."""
        await self.redis.set(contact_key(customer_id, self.partitions), email)
        partition = self.partitions.of(f"contact:{customer_id}")
        await self.writes.mark(self.partitions.tag(NAMESPACE, partition))

    async def get(self, customer_id: str) -> str | None:
        found = await self.redis.get(contact_key(customer_id, self.partitions))
        return None if found is None else found.decode()

    async def emails(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """One MGET per partition (a cluster refuses keys of two slots in one command)."""
        by_partition: dict[int, list[str]] = {}
        for customer_id in customer_ids:
            partition = self.partitions.of(f"contact:{customer_id}")
            by_partition.setdefault(partition, []).append(customer_id)
        found = await asyncio.gather(
            *(
                self.redis.mget([contact_key(c, self.partitions) for c in customers])
                for customers in by_partition.values()
            )
        )
        return {
            customer: email.decode()
            for customers, emails in zip(by_partition.values(), found, strict=True)
            for customer, email in zip(customers, emails, strict=True)
            if email is not None
        }


class AllPartitions:
    """ports.NotificationReader over one store per partition (``stores[p]``, written by the
    consumer of partition p's stream). A payment's notifications are all in its partition; a
    customer's, or everyone's, are each partition's newest, merged by the time they carry: there
    is no order across partitions but that one, and it is what a reader sorts by anyway."""

    def __init__(self, stores: Sequence[NotificationReader], partitions: Partitions) -> None:
        if len(stores) != partitions.count:
            raise ValueError(f"{len(stores)} stores for {partitions.count} partitions")
        self.stores, self.partitions = stores, partitions

    async def latest(
        self, *, customer_id: str | None, payment_id: str | None, limit: int
    ) -> list[Notification]:
        if payment_id is not None:  # one payment, one partition
            store = self.stores[self.partitions.of(event_stream(payment_id))]
            return await store.latest(customer_id=customer_id, payment_id=payment_id, limit=limit)
        newest = await asyncio.gather(
            *(s.latest(customer_id=customer_id, payment_id=None, limit=limit) for s in self.stores)
        )
        merged = chain.from_iterable(newest)
        return sorted(merged, key=lambda n: (n.time, n.notification_id), reverse=True)[:limit]
