"""Composition root: Redis connections, the stream readers, the progress poller, the HTTP
clients for the other services, the API and the page.

What it watches follows the settings: ``STREAM_PARTITIONS`` (one reader per stream of each
partition, streams.py) and ``REDIS_MODE`` (``settings.connect``: one Redis or a cluster).

``create_app(settings, hub)``: ``__main__`` hands in the hub so that its server can end every
open event stream when it shuts down (see __main__.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from eventkit import metrics
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from servicekit import service_app

from console import api
from console.adapters import Service, Services, UpstreamError, http_client
from console.config import Settings
from console.lanes import api as lanes_api
from console.lanes.feed import Feed
from console.lanes.hub import Hub
from console.lanes.poller import ProgressPoller
from console.lanes.reader import StreamReader
from console.lanes.streams import followed, groups

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 7.0  # a reader's blocked read (BLOCK_MS, 5 s) and some


def reader_name(stream: str) -> str:
    """The Redis client name of a stream's reader (CLIENT LIST shows it)."""
    return f"console:xread:{stream}"


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    settings = settings or Settings()
    hub = hub or Hub()
    streams, consumer_groups = followed(settings.partitions()), groups(settings.partitions())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            # A pool for short reads (a page catching up, the progress poll, /health)...
            redis = settings.connect("console")
            stack.push_async_callback(redis.aclose)
            # ...and one connection per followed stream, blocked in its XREAD for every page.
            readers: dict[str, StreamReader] = {}
            for stream in streams:
                client = settings.connect(reader_name(stream.name))
                stack.push_async_callback(client.aclose)
                readers[stream.name] = StreamReader(
                    client, stream, hub, settings.trace_url_template
                )
            poller = ProgressPoller(redis, hub, consumer_groups, readers, settings.progress_every_s)

            async def service(name: str, url: str) -> Service:
                http = http_client(url, settings.upstream_timeout_s)
                return Service(name, await stack.enter_async_context(http))

            services = Services(
                payments=await service("payments", settings.payments_url),
                orders=await service("orders", settings.orders_url),
                notifications=await service("notifications", settings.notifications_url),
            )
            tasks = [
                asyncio.create_task(reader.run(), name=reader_name(name))
                for name, reader in readers.items()
            ]
            tasks.append(asyncio.create_task(poller.run(), name="console:progress"))
            for task in tasks:
                task.add_done_callback(report_crash)
            try:
                yield {
                    "redis": redis,  # servicekit's /health pings it
                    "hub": hub,
                    "readers": readers,
                    "poller": poller,
                    "feed": Feed(
                        redis,
                        hub,
                        streams,
                        settings.trace_url_template,
                        max_open_pages=settings.max_open_pages,
                        resume_window=settings.resume_window,
                    ),
                    "groups": consumer_groups,
                    "services": services,
                    # /metrics reports every group's lag, pending and dead letters, on each
                    # partition's stream: from here too, so that a group whose every consumer
                    # is down is still seen to fall behind.
                    "watched": [
                        metrics.Watched(redis, g.stream.key, g.name, g.dead_letters.key)
                        for g in consumer_groups
                    ],
                }
            finally:
                hub.close_all()
                for reader in readers.values():
                    reader.stop()
                for task in tasks:
                    task.cancel()  # each reader's connection is closed right after, never reused
                # Bounded: a reader whose cancellation was lost ends at its next turn (stop).
                late = (await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S))[1]
                for task in late:
                    log.warning("%s did not stop within %g s", task.get_name(), STOP_TIMEOUT_S)

    app = service_app(
        title="console",
        summary="Watch the three patterns happen: a live page fed by Redis, read-only.",
        lifespan=lifespan,
        request_timeout_s=settings.request_timeout_s,
        routers=[api.router, lanes_api.router],
    )
    app.add_exception_handler(UpstreamError, api.upstream_failed)
    app.mount("/static", StaticFiles(directory=api.STATIC), name="static")
    return app


def report_crash(task: asyncio.Task[None]) -> None:
    """A reader or the poller stopped by a bug: say so loudly (the page stops moving)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())
