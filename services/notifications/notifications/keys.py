"""Every Redis key of notifications' read model (adapters.py); the defaults are the keys with
one partition.

Every key of a partition starts with the partition's hash tag: ``{notifications}`` with one
partition, ``{notifications-p}`` with several (eventkit.partitions), and a notification sits in
its payment's partition, the one whose stream it came from. The partition's mail queue carries
the same tag, so one script records a notification and queues its mail. With one partition,
one slot on Redis Cluster and one ACL pattern; with several, as many slots (and primaries).
"""

from __future__ import annotations

from eventkit.partitions import Partitions

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
