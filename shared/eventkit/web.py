"""What every service's HTTP edge shares: errors in one shape and a body size limit.

Errors are RFC 9457 problem details (``application/problem+json``)::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "body.amount: Input should be greater than 0", "errors": [...]}

and the OpenAPI document says so: ``problem_responses(...)`` declares each error status of a
route with that media type and the ``Problem`` schema, which ``install_error_handlers`` adds to
the document's components.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, WithJsonSchema
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventkit.connection import REDIS_DOWN

MAX_BODY_BYTES = 64 * 1024
PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 1  # what a 503 for an unreachable Redis asks the client to wait


class Problem(BaseModel):
    """An error response (RFC 9457): ``detail`` says what is wrong; ``errors`` lists each
    invalid input (or, from ``/ready``, each consumer's figures)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "body.amount: Input should be greater than 0",
                    "errors": [
                        {
                            "loc": ["body", "amount"],
                            "msg": "Input should be greater than 0",
                            "type": "greater_than",
                        }
                    ],
                }
            ]
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """For a route's ``responses=``: each status documented as a problem detail, with the media
    type it is really sent with (``application/problem+json``, not ``application/json``)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        response: dict[str, Any] = {
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if code == 503:
            response["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before retrying (when Redis is unreachable)",
                    "schema": {"type": "integer", "minimum": 0},
                }
            }
        responses[code] = response
    return responses


def whole_floats_as_int(value: Any) -> Any:
    """JSON Schema's ``integer`` includes 2500.0 (OpenAPI 3.1 documents amounts that way), so the
    edge takes a whole float as that int; 10.5, "100" and true stay invalid."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ``Annotated[Amount, JsonInteger]`` on a request field: accepts what its schema promises.
JsonInteger = BeforeValidator(whole_floats_as_int)


def absent_or(value_type: Any) -> WithJsonSchema:
    """For an optional query or header parameter, ``Annotated[T | None, Query(), absent_or(T)]``:
    an absent one is None, but a value on the wire is never null, so its schema is T's alone
    (not ``anyOf: [T, null]``, which tells a client, and schemathesis, to send "null")."""
    return WithJsonSchema(TypeAdapter(value_type).json_schema())


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every 4xx/5xx the framework raises becomes a problem detail that says what is wrong;
    the OpenAPI document gets the ``Problem`` schema that ``problem_responses`` refers to."""

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_error(e) for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem(422, detail, errors)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        detail = str(exc.detail)
        headers = exc.headers or {}
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's vague 400 for the body
            detail = f"request body is not UTF-8: {exc.__cause__}"
        elif detail == HTTPStatus(exc.status_code).phrase:  # the router's bare 404 and 405
            if exc.status_code == 404:
                detail = f"no such path: {request.url.path}"
            elif exc.status_code == 405 and "Allow" in headers:
                detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        response = problem(exc.status_code, detail)
        # Headers the exception carries belong to the answer: a 405 must say what is Allowed.
        response.headers.update(headers)
        return response

    async def on_redis_down(_: Request, exc: Exception) -> JSONResponse:
        # Nothing is ever half-written (the event store's append is one script), but after a
        # timeout the write may have happened: retry with the same Idempotency-Key.
        response = problem(503, f"redis unavailable, retry shortly: {type(exc).__name__}: {exc}")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    for error in REDIS_DOWN:
        app.add_exception_handler(error, on_redis_down)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """Add the ``Problem`` schema to the app's OpenAPI components, once, when it is built."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            return document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


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
    if tuple(error["loc"]) == ("body",) and isinstance(error.get("input"), bytes):
        # FastAPI parses a body as JSON only when its Content-Type says JSON.
        return {
            "loc": ["body"],
            "msg": "expected a JSON object sent with Content-Type: application/json",
            "type": "json_expected",
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
