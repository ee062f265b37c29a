"""Payments' adapters: the event store and its snapshots in Redis, as the settings configure
them (eventkit.RedisEventStore, eventkit.RedisSnapshotStore; the ports are in ports.py).

The deployment's concerns are all here, none in the commands: how many partitions the
payments are spread over (``STREAM_PARTITIONS``, docs/scaling.md), how long the public streams
grow (``STREAM_RETAIN``, ``STREAM_MAXLEN``) and how many replicas confirm an append.
"""

from __future__ import annotations

from contracts import payments as contract
from eventkit import Client, RedisEventStore, RedisSnapshotStore, Retention, metrics

from payments.config import Settings


def event_store(redis: Client, settings: Settings) -> RedisEventStore:
    partitions = settings.partitions()
    store = RedisEventStore(
        redis,
        contract.NAMESPACE,
        retention=Retention(settings.stream_retain, settings.stream_maxlen),
        partitions=partitions,
        replication=settings.replication(),
    )
    for p in partitions:  # what the alert StreamNearRetentionCeiling compares lags with
        for name in (contract.NOTIFICATIONS, contract.STATE):
            stream = partitions.key(contract.NAMESPACE, p, name)
            metrics.RETENTION_CEILING.labels(stream).set(settings.stream_maxlen)
    return store


def snapshot_store(redis: Client, settings: Settings) -> RedisSnapshotStore:
    return RedisSnapshotStore(redis, contract.NAMESPACE, settings.partitions())
