"""Every service's ``/openapi.json`` is a valid OpenAPI document, by openapi-spec-validator (the
validator of the OpenAPI tooling people use, not ours): payments, orders, notifications and the
console, as each app serves it over HTTP.

The console's Server-Sent Events made FastAPI write OpenAPI 3.2's ``itemSchema`` into a document
labelled 3.1.0, which the validator refused; servicekit.openapi documents a stream as 3.1 can.
The last two tests show the validator does catch that, and that the fix is what makes it pass.
tests/e2e/test_schemathesis.py checks that each running process serves these same documents.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from typing import Any

import httpx
import pytest
from console.bootstrap import create_app as console_app
from fastapi import FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent
from notifications.bootstrap import create_app as notifications_app
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from orders.bootstrap import create_app as orders_app
from payments.bootstrap import create_app as payments_app
from servicekit.openapi import keep_to_openapi_3_1

SERVICES: dict[str, Callable[[], FastAPI]] = {
    "payments": payments_app,
    "orders": orders_app,
    "notifications": notifications_app,
    "console": console_app,
}


async def served(app: FastAPI) -> dict[str, Any]:
    """``GET /openapi.json`` as a client gets it (no lifespan: the document needs no Redis)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_service_serves_a_valid_openapi_document(service: str) -> None:
    document = await served(SERVICES[service]())
    assert document["info"]["title"] == service
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises, naming the first error, if it is not valid


async def test_the_console_documents_its_event_stream_as_text() -> None:
    events = (await served(console_app()))["paths"]["/events"]["get"]
    [media_type] = events["responses"]["200"]["content"]
    stream = events["responses"]["200"]["content"][media_type]
    assert media_type == "text/event-stream"
    assert stream["schema"]["type"] == "string"
    assert "itemSchema" not in stream
    [last_event_id] = events["parameters"]
    assert (last_event_id["name"], last_event_id["required"]) == ("last-event-id", False)
    assert last_event_id["schema"]["type"] == "string"  # optional, and never null


def streaming_app() -> FastAPI:
    """The smallest app with a route like the console's ``GET /events``."""
    app = FastAPI(title="stream")

    @app.get("/events", response_class=EventSourceResponse)
    async def events() -> AsyncIterable[ServerSentEvent]:
        yield ServerSentEvent(raw_data="{}")

    return app


async def test_the_validator_refuses_what_fastapi_writes_for_a_stream_by_itself() -> None:
    with pytest.raises(OpenAPIValidationError, match="itemSchema"):
        validate(await served(streaming_app()))


async def test_servicekit_makes_such_a_document_valid_3_1() -> None:
    app = streaming_app()
    keep_to_openapi_3_1(app)
    document = await served(app)
    validate(document)
    content = document["paths"]["/events"]["get"]["responses"]["200"]["content"]
    assert content == {"text/event-stream": {"schema": {"type": "string"}}}
