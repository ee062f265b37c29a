"""What a service's HTTP edge accepts: bounded bodies, and JSON numbers as their schema says."""

from __future__ import annotations

from typing import Any

from contracts.requests import JsonInteger, whole_floats_as_int
from pydantic import TypeAdapter, WithJsonSchema
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.problems import problem

MAX_BODY_BYTES = 64 * 1024


# JsonInteger (a whole float taken as the int its schema promises) lives with the request models
# in contracts.requests, which may not import servicekit; it is a service edge's tool, so here too.
__all__ = ["MAX_BODY_BYTES", "BodySizeLimit", "JsonInteger", "absent_or", "whole_floats_as_int"]


def absent_or(value_type: Any) -> WithJsonSchema:
    """For an optional query or header parameter, ``Annotated[T | None, Query(), absent_or(T)]``:
    an absent one is None, but a value on the wire is never null, so its schema is T's alone
    (not ``anyOf: [T, null]``, which tells a client, and schemathesis, to send "null")."""
    return WithJsonSchema(TypeAdapter(value_type).json_schema())


class BodySizeLimit:
    """Answer 413 to a request body over ``max_bytes``, declared or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A malformed Content-Length never gets here: the HTTP server answers 400 itself.
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # An HTTPException, because FastAPI turns anything else raised while it reads
                # the body into a vague 400.
                raise HTTPException(413, self._detail)
            return message

        await self.app(scope, counting_receive, send)

    @property
    def _detail(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, self._detail)(scope, receive, send)
