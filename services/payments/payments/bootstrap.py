"""Composition root: builds the app and wires Redis, the event store and the commands together.

``create_app(settings, overrides)``: a test can put its own adapters in place (``Overrides``)
instead of patching modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from eventkit import (
    EventStore,
    InvalidEvent,
    RedisEventStore,
    RedisSnapshotStore,
    SnapshotStore,
    StreamDamaged,
    connect,
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
        redis = connect(settings.redis_url, name="payments")
        store = overrides.event_store or RedisEventStore(
            redis, "payments", publish_maxlen=settings.stream_maxlen
        )
        snapshots = overrides.snapshots or RedisSnapshotStore(redis, "payments")
        payments = Payments(store, snapshots, settings.snapshot_every)
        try:
            yield {"redis": redis, "payments": payments}  # becomes request.state
        finally:
            await redis.aclose()

    app = service_app(
        title="payments",
        summary="Event-sourced payments; publishes PaymentReceived and PaymentRefunded.",
        lifespan=lifespan,
        routers=[api.router, api_history.router],
    )
    app.add_exception_handler(StreamDamaged, api.damaged)
    app.add_exception_handler(InvalidEvent, api.unreadable)
    return app
