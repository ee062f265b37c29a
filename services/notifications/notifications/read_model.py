"""Notifications' read model in Redis: each notification once, indexed by customer and by
payment, its mail queued in the same step; and the customers' contacts. It implements
ports.NotificationStore and ports.ContactBook.

Every key of a partition starts with the partition's hash tag: ``{notifications}`` with one
partition, ``{notifications-p}`` with several (eventkit.partitions), and a notification sits in
its payment's partition, the one whose stream it came from. The partition's mail queue carries
the same tag, so one script records a notification and queues its mail. With one partition,
one slot on Redis Cluster and one ACL pattern; with several, as many slots (and primaries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from eventkit import Client, Message, RedisWorkQueue, ReplicatedWrites, Replication, WorkQueue
from eventkit.partitions import Partitions, check_one_slot

from notifications.domain import Notification
from notifications.mail import MailJob

NAMESPACE = "notifications"
TAG = "{notifications}"  # the tag with one partition; partition p of several: {notifications-p}


def all_key(tag: str = TAG) -> str:
    return f"{tag}:all"


def mail_queue_name(tag: str = TAG) -> str:
    """The partition's mail queue (eventkit.queue_redis): {notifications}:mail:queue, …"""
    return f"{tag}:mail"


ALL, MAIL_QUEUE = all_key(), mail_queue_name()  # with one partition


def notification_key(notification_id: str, tag: str = TAG) -> str:
    return f"{tag}:notification:{notification_id}"


def by_customer_key(customer_id: str, tag: str = TAG) -> str:
    return f"{tag}:by-customer:{customer_id}"


def by_payment_key(payment_id: str, tag: str = TAG) -> str:
    return f"{tag}:by-payment:{payment_id}"


def contact_key(customer_id: str, partitions: Partitions = Partitions()) -> str:
    """A contact is the customer's, not a payment's: in the customer's own partition."""
    return partitions.key_of(NAMESPACE, f"contact:{customer_id}")


def mail_message(job: MailJob) -> Message:
    """The queue message of a notification's mail: its id is the notification's."""
    return Message.new(job.notification.notification_id, job.model_dump(mode="json"))


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


async def with_receipts(queue: WorkQueue, notes: list[Notification]) -> list[Notification]:
    """Each queued mail's delivery and attempts, from its receipt in the mail queue (the record
    says only that it was queued; what became of it is the queue's to say)."""
    receipts = await queue.receipts([n.notification_id for n in notes if n.delivery == "queued"])
    return [
        n.model_copy(update={"delivery": r.state, "attempts": r.attempts})
        if (r := receipts.get(n.notification_id)) is not None
        else n
        for n in notes
    ]


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
