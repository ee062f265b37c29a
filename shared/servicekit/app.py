"""The shape every service shares: one app factory, one way to serve it."""

from __future__ import annotations

import logging
import logging.config
import socket
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import uvicorn
from eventkit import HandlerTable
from fastapi import APIRouter, FastAPI

from servicekit import health, logs, metrics, telemetry
from servicekit.correlation import Correlation
from servicekit.deadline import Deadline
from servicekit.inputs import BodySizeLimit
from servicekit.metrics import HttpMetrics
from servicekit.openapi import keep_to_openapi_3_1
from servicekit.problems import install_error_handlers
from servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def unchanged(handlers: HandlerTable) -> HandlerTable:
    return handlers


@dataclass(frozen=True)
class ConsumerOverrides:
    """What a test changes in a consuming service's composition root, instead of patching its
    modules; the defaults change nothing. ``wrap_handlers`` gets the real handler table and
    returns the one the consumer runs (tests/helpers/crashing.py crashes around an event)."""

    wrap_handlers: Callable[[HandlerTable], HandlerTable] = unchanged


def service_app(
    *,
    title: str,
    summary: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    request_timeout_s: float,
) -> FastAPI:
    """A service's app: its routers, ``/live``, ``/ready``, ``/health`` and ``/metrics``, errors
    as problem details, a limit on the size of request bodies, a deadline for each request
    (servicekit.deadline), each request timed and given its correlation and request ids; its
    OpenAPI document valid 3.1.0 (servicekit.openapi)."""
    app = FastAPI(title=title, summary=summary, version="0.1.0", lifespan=lifespan)
    # Outermost last: the ids first, then the timing, then the body limit, then the deadline.
    app.add_middleware(Deadline, seconds=request_timeout_s)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(HttpMetrics)
    app.add_middleware(Correlation)
    install_error_handlers(app)
    keep_to_openapi_3_1(app)
    for router in (*routers, health.router, metrics.router):
        app.include_router(router)
    return app


def fail_fast(app: FastAPI) -> Callable[[BaseException], None]:
    """For ``Consumer.running(on_failure=…)``: when a consumer stops on an error that waiting
    will not fix (a refused permission, wrong credentials), shut the server down so that
    ``serve`` exits non-zero with the reason. A process that stays up while it consumes nothing
    looks alive to every supervisor; one that exits gets restarted, or seen."""

    def stop(exc: BaseException) -> None:
        app.state.fatal = f"{type(exc).__name__}: {exc}"
        log.critical("%s: stopping the process: %s", app.title, app.state.fatal)
        server = getattr(app.state, "server", None)
        if server is not None:  # under serve(); in a test's own event loop there is none
            server.should_exit = True

    return stop


class Server(uvicorn.Server):
    """uvicorn's server, which runs ``before_shutdown`` first when it stops (the console ends
    its open event streams there: uvicorn would wait for them for ever)."""

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets)


def serve(
    app: FastAPI, settings: ServiceSettings, before_shutdown: Callable[[], None] = lambda: None
) -> None:
    """Run ``app`` with uvicorn, one worker, on the host and port of ``settings``: logs in
    ``LOG_FORMAT``, traces as the ``OTEL_*`` variables say (servicekit.telemetry); exit
    non-zero if a consumer stopped it (``fail_fast``)."""
    log_config = logs.config(app.title, settings.log_format, settings.log_level)
    logging.config.dictConfig(log_config)
    telemetry.configure_tracing(app.title)
    telemetry.instrument(app)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config,
    )
    app.state.server = server = Server(config, before_shutdown)
    try:
        server.run()
    finally:
        telemetry.shutdown_tracing()
    fatal = getattr(app.state, "fatal", None)
    if fatal is not None:
        raise SystemExit(f"{app.title} stopped: {fatal}")
