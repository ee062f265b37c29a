"""The shape every service shares: one app factory, one way to serve it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import uvicorn
from eventkit import HandlerTable
from fastapi import APIRouter, FastAPI

from servicekit import operations
from servicekit.inputs import BodySizeLimit
from servicekit.problems import install_error_handlers
from servicekit.settings import ServiceSettings

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
    *, title: str, summary: str, lifespan: Lifespan, routers: Sequence[APIRouter]
) -> FastAPI:
    """A service's app: its routers, ``/health`` and ``/ready``, errors as problem details,
    and a limit on the size of request bodies."""
    app = FastAPI(title=title, summary=summary, version="0.1.0", lifespan=lifespan)
    app.add_middleware(BodySizeLimit)
    install_error_handlers(app)
    for router in (*routers, operations.router):
        app.include_router(router)
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run ``app`` with uvicorn, one worker, on the host and port of ``settings``."""
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
