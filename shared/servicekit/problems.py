"""Errors in one shape at every service's HTTP edge.

Errors are RFC 9457 problem details (``application/problem+json``)::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "body.amount: Input should be greater than 0", "errors": [...]}

and the OpenAPI document says so: ``problem_responses(...)`` declares each error status of a
route with that media type and the ``Problem`` schema, which ``install_error_handlers`` adds to
the document's components.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from eventkit import NotReplicated, unavailable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from redis.exceptions import RedisClusterException, RedisError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)
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
        if exc.status_code == 405 and "Allow" in headers:
            headers = {**headers, "Allow": _allowed_methods(request) or headers["Allow"]}
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

    async def on_redis_error(request: Request, exc: Exception) -> JSONResponse:
        # The body says what kind of failure, never where Redis is (no host or port for
        # anyone who can reach the API); the log has the details.
        log.warning(
            "%s %s: redis: %s: %s", request.method, request.url.path, type(exc).__name__, exc
        )
        if not unavailable(exc):  # refused permission, wrong type, …: ours to fix, not theirs
            return problem(500, f"the service cannot use its Redis ({type(exc).__name__})")
        # Nothing is ever half-written (the event store's append is one script), but after a
        # timeout the write may have happened: retry with the same Idempotency-Key.
        response = problem(503, f"redis unavailable, retry shortly ({type(exc).__name__})")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    async def on_not_replicated(request: Request, exc: Exception) -> JSONResponse:
        # Written, but not yet safe from a failover: not an answer to build on. The retry
        # (same Idempotency-Key) finds the write and waits for the replicas again. A write
        # without a key says where it was stored: a blind retry would make a second one.
        assert isinstance(exc, NotReplicated)
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        if exc.location is None:
            detail = "stored, but not yet confirmed by a replica: retry with the same "
            detail += "Idempotency-Key"
        else:
            detail = f"stored as {exc.location}, but not yet confirmed by a replica: read it "
            detail += "there before trying again (a retry would make a second one)"
        response = problem(503, detail)
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        if exc.location is not None:
            response.headers["Location"] = exc.location
        return response

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RedisError, on_redis_error)
    # A cluster client's own errors are not RedisErrors (it cannot learn the layout, …).
    app.add_exception_handler(RedisClusterException, on_redis_error)
    app.add_exception_handler(NotReplicated, on_not_replicated)
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


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _allowed_methods(request: Request) -> str:
    """Every method the app documents at the request's path. Starlette's 405 names only the
    methods of the first route whose path matched, though another route may take another
    method at the same path (PUT and GET of one resource, declared apart)."""
    methods = {
        method.upper()
        for template, item in request.app.openapi().get("paths", {}).items()
        if re.fullmatch(_pattern(template), request.url.path)
        for method in item
        if method in HTTP_METHODS
    }
    return ", ".join(sorted(methods))


def _pattern(template: str) -> str:
    """``/customers/{customer_id}/contact`` → a regex that any customer id fills."""
    parts = template.split("/")
    return "/".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)


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
