"""The OpenAPI document a service serves is valid OpenAPI 3.1.0, the version FastAPI writes in it.

For a streamed response (an ``async def`` route that yields, as the console's Server-Sent Events
at ``GET /events``) FastAPI describes each item with ``itemSchema``, a keyword of OpenAPI 3.2,
while it labels the document 3.1.0, whose media type object has no such keyword: validators
refuse the document, and generators and fuzzers (schemathesis) misread it. In 3.1 a stream is
what it is on the wire, one string: ``schema`` says that, and the route's own ``responses`` may
say what the string holds (its ``description``). ``itemSchema`` is dropped.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

STREAM_SCHEMA = {"type": "string"}


def plain_streams(document: dict[str, Any]) -> None:
    """Every media type with an ``itemSchema`` gets a plain ``schema`` instead (the route's own,
    if it gave one)."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for media_type in response.get("content", {}).values():
                    if media_type.pop("itemSchema", None) is not None:
                        media_type.setdefault("schema", dict(STREAM_SCHEMA))


def event_stream(description: str, events: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route that streams Server-Sent Events, as 3.1 can say it: a 200 of
    ``text/event-stream``, one string, ``events`` saying what the events are."""
    schema = {**STREAM_SCHEMA, "description": events}
    return {200: {"description": description, "content": {"text/event-stream": {"schema": schema}}}}


def keep_to_openapi_3_1(app: FastAPI) -> None:
    """Make ``app``'s document valid OpenAPI 3.1.0 once, when it is built."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            plain_streams(document)
            return document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
