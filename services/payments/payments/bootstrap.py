"""Composition root: builds the app and wires Redis, the event store and the commands together.

``create_app(settings, overrides)``: a test can put its own adapters in place (``Overrides``)
instead of patching modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from contracts import payments as contract
from contracts.payments import NAMESPACE
from eventkit import (
    EventStore,
    InvalidEvent,
    RedisEventStore,
    RedisSnapshotStore,
    Retention,
    SnapshotStore,
    StreamDamaged,
    metrics,
)
from fastapi import FastAPI
from servicekit import service_app

from payments import api, api_history
from payments.commands import Payments
from payments.config import Settings


@dataclass(frozen=True)
class Overrides:
    """Adapters a test puts in place of the real ones; None: the real one."""

    event_store: EventStore | None = None
    snapshots: SnapshotStore | None = None


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> FastAPI:
    settings = settings or Settings()
    overrides = overrides or Overrides()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        redis = settings.connect("payments")
        partitions = settings.partitions()
        store = RedisEventStore(
            redis,
            NAMESPACE,
            retention=Retention(settings.stream_retain, settings.stream_maxlen),
            partitions=partitions,
            replication=settings.replication(),
        )
        for p in partitions:  # what the alert StreamNearRetentionCeiling compares lags with
            for name in (contract.NOTIFICATIONS, contract.STATE):
                stream = partitions.key(contract.NAMESPACE, p, name)
                metrics.RETENTION_CEILING.labels(stream).set(settings.stream_maxlen)
        snapshots = overrides.snapshots or RedisSnapshotStore(redis, NAMESPACE, partitions)
        store_in_use = overrides.event_store or store
        payments = Payments(store_in_use, snapshots, settings.snapshot_every)
        try:
            yield {"redis": redis, "payments": payments}  # becomes request.state
        finally:
            await store.aclose()
            await redis.aclose()

    app = service_app(
        title="payments",
        summary="Event-sourced payments; publishes PaymentReceived and PaymentRefunded.",
        lifespan=lifespan,
        request_timeout_s=settings.request_timeout_s,
        routers=[api.router, api_history.router],
    )
    app.add_exception_handler(StreamDamaged, api.damaged)
    app.add_exception_handler(InvalidEvent, api.unreadable)
    return app
