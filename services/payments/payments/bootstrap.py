"""Composition root: builds the app and wires Redis, the event store (adapters.py) and the
commands together.

``create_app(settings, overrides)``: a test can put its own adapters in place (``Overrides``)
instead of patching modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from eventkit import InvalidEvent, StreamDamaged
from fastapi import FastAPI
from servicekit import service_app

from payments import adapters, api
from payments.commands import Payments
from payments.config import Settings
from payments.history import api as history_api
from payments.ports import EventStore, SnapshotStore


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
        store = adapters.event_store(redis, settings)
        snapshots = overrides.snapshots or adapters.snapshot_store(redis, settings)
        payments = Payments(overrides.event_store or store, snapshots, settings.snapshot_every)
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
        routers=[api.router, history_api.router],
    )
    app.add_exception_handler(StreamDamaged, api.damaged)
    app.add_exception_handler(InvalidEvent, api.unreadable)
    return app
