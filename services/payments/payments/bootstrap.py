"""Composition root: builds the app and wires Redis, the event store and the commands together.

``create_app(settings, overrides)``: a test can put its own adapters in place (``Overrides``)
instead of patching modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from contracts.payments import NAMESPACE
from eventkit import EventStore, RedisEventStore, StreamDamaged
from fastapi import FastAPI
from servicekit import service_app

from payments import api
from payments.commands import Payments
from payments.config import Settings


@dataclass(frozen=True)
class Overrides:
    """Adapters a test puts in place of the real ones; None: the real one."""

    event_store: EventStore | None = None


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
            publish_maxlen=settings.stream_maxlen,
            partitions=partitions,
            replication=settings.replication(),
        )
        payments = Payments(overrides.event_store or store, partitions)
        try:
            yield {"redis": redis, "payments": payments}  # becomes request.state
        finally:
            await store.aclose()
            await redis.aclose()

    app = service_app(
        title="payments",
        summary="Event-sourced payments; publishes PaymentReceived and PaymentRefunded.",
        lifespan=lifespan,
        routers=[api.router],
    )
    app.add_exception_handler(StreamDamaged, api.damaged)
    return app
