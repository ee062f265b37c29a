"""What every service's HTTP edge shares: errors in one shape and a body size limit.

Errors are RFC 9457 problem details (``application/problem+json``)::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "body.amount: Input should be greater than 0", "errors": [...]}
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventkit.connection import REDIS_DOWN

MAX_BODY_BYTES = 64 * 1024


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


# For routes' ``responses=``: documents the error shape in OpenAPI.
def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "description": HTTPStatus(code).phrase} for code in codes}


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type="application/problem+json",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every 4xx/5xx the framework raises becomes a problem detail that says what is wrong."""

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_error(e) for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem(422, detail, errors)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        detail = str(exc.detail)
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's vague 400 for the body
            detail = f"request body is not UTF-8: {exc.__cause__}"
        return problem(exc.status_code, detail)

    async def on_redis_down(_: Request, exc: Exception) -> JSONResponse:
        # Nothing is ever half-written (the event store's append is one script), but after a
        # timeout the write may have happened: retry with the same Idempotency-Key.
        response = problem(503, f"redis unavailable, retry shortly: {type(exc).__name__}: {exc}")
        response.headers["Retry-After"] = "1"
        return response

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    for error in REDIS_DOWN:
        app.add_exception_handler(error, on_redis_down)


def _error(error: Any) -> dict[str, Any]:
    """One validation error, JSON-safe; a JSON syntax error says where and what."""
    if error["type"] == "json_invalid":
        where = error["loc"][-1]
        reason = error.get("ctx", {}).get("error", "invalid JSON")
        return {
            "loc": ["body"],
            "msg": f"malformed JSON at character {where}: {reason}",
            "type": "json_invalid",
        }
    return {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}


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
