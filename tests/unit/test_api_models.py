"""The HTTP edge without Redis: request models, the OpenAPI documents, the error shape.

Most cases are regressions for what schemathesis found (tests/e2e/test_schemathesis.py):
problem details documented as application/json, 405s without ``Allow``, whole floats refused
although the schema says ``integer``, headers and query parameters documented as nullable, and
a dead-letter id that Redis cannot parse answered 409. The apps are the real ones (their
lifespans, which connect to Redis, do not run here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from contracts.requests import NewOrder, NewPayment, NewRefund, whole_floats_as_int
from fastapi import FastAPI
from notifications.bootstrap import create_app as notifications_app
from notifications.config import Settings as NotificationsSettings
from orders.bootstrap import create_app as orders_app
from orders.config import Settings as OrdersSettings
from payments import api as payments_api
from payments.bootstrap import create_app as payments_app
from pydantic import ValidationError

FACTORIES: dict[str, Callable[[], FastAPI]] = {
    "payments": payments_app,
    "orders": orders_app,
    "notifications": notifications_app,
}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


@pytest.fixture(params=list(FACTORIES))
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    return FACTORIES[request.param]().openapi()


# ---- the OpenAPI documents ---------------------------------------------------------------------


def test_every_error_is_documented_as_a_problem_detail(document: dict[str, Any]) -> None:
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's own 422
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM, f"{name} {status}"


def test_every_status_a_route_can_answer_is_documented(document: dict[str, Any]) -> None:
    for name, operation in operations(document):
        declared = set(operation["responses"])
        if name == "GET /live":  # liveness reads nothing: it answers while the process does
            assert declared == {"200"}
            continue
        assert "503" in declared, name  # every other route reads Redis, which may be down
        assert "Retry-After" in operation["responses"]["503"]["headers"], name
        if operation.get("parameters"):
            assert "422" in declared, name
        if "requestBody" in operation:  # not UTF-8, over 64 KiB, invalid
            assert {"400", "413", "422"} <= declared, name


def test_no_parameter_is_documented_as_nullable_or_unbounded(document: dict[str, Any]) -> None:
    # A query or header value is a string or absent, never null: schemathesis sent "null".
    for name, operation in operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            assert "anyOf" not in schema, (name, parameter["name"])
            # Bounded: a length, a pattern, a list of values, or a format of fixed shape.
            if schema["type"] == "string" and schema.get("format") not in ("uuid", "date"):
                bounds = {"maxLength", "pattern", "enum"} & set(schema)
                assert bounds, (name, parameter["name"])
            if schema["type"] == "integer":
                assert {"minimum", "maximum"} <= set(schema), (name, parameter["name"])


def test_health_and_ready_document_what_they_return() -> None:
    document = payments_app().openapi()
    schemas = document["components"]["schemas"]
    for path, model in (("/health", "Health"), ("/ready", "Readiness")):
        ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{model}"}
    assert schemas["Health"]["required"] == ["status", "redis"]
    assert set(schemas["ConsumerReport"]["required"]) >= {"state", "handled", "pending", "lag"}


def test_the_idempotency_key_is_a_bounded_printable_string() -> None:
    document = payments_app().openapi()
    for path in ("/payments", "/payments/{payment_id}/refunds"):
        [key] = document["paths"][path]["post"]["parameters"][-1:]
        assert key["name"] == "idempotency-key"
        assert key["schema"]["type"] == "string"
        assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 128)
        assert key["schema"]["pattern"] == r"^[\x21-\x7E]+$"


# ---- request models ----------------------------------------------------------------------------


def test_a_whole_float_amount_is_the_integer_its_schema_promises() -> None:
    # Schemathesis sent {"amount": 89156853726.0} and {"total": 486.0}: valid for JSON Schema's
    # "integer", and refused with 422 before.
    payment = NewPayment.model_validate_json(
        '{"order_id": "o", "customer_id": "c", "amount": 89156853726.0}'
    )
    assert payment.amount == 89156853726
    assert isinstance(payment.amount, int)
    assert NewRefund.model_validate({"amount": 500.0}).amount == 500
    assert NewOrder.model_validate({"customer_id": "c", "total": 486.0}).total == 486


@pytest.mark.parametrize("amount", [10.5, "100", True, 0.0, -1.0, 1e13, float("inf"), None])
def test_anything_else_is_still_not_an_amount(amount: object) -> None:
    with pytest.raises(ValidationError):
        NewRefund.model_validate({"amount": amount})


def test_only_whole_floats_are_converted() -> None:
    assert whole_floats_as_int(2.0) == 2
    assert whole_floats_as_int(2.5) == 2.5
    assert whole_floats_as_int("2") == "2"


def test_request_models_reject_unknown_fields_and_bound_strings() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        NewOrder.model_validate({"customer_id": "c", "total": 1, "discount": 5})
    with pytest.raises(ValidationError, match="at most 200"):
        NewRefund.model_validate({"amount": 1, "reason": "x" * 201})


# ---- answers at the edge -----------------------------------------------------------------------


@pytest.fixture
async def payments() -> AsyncIterator[httpx.AsyncClient]:
    """The payments app without its lifespan: requests that fail validation never need Redis."""
    app = payments_app()
    app.dependency_overrides[payments_api.get_payments] = lambda: None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments") as client:
        yield client


async def test_an_undeclared_method_is_405_with_allow(payments: httpx.AsyncClient) -> None:
    response = await payments.request("TRACE", "/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "TRACE is not allowed here; allowed: GET"


async def test_an_unknown_path_says_which(payments: httpx.AsyncClient) -> None:
    response = await payments.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["detail"] == "no such path: /nowhere"


@pytest.mark.parametrize("key", ["", "with space", "tab\there", "é", "x" * 129])
async def test_an_idempotency_key_that_is_not_visible_ascii_is_422(
    payments: httpx.AsyncClient, key: str
) -> None:
    body = {"order_id": "o", "customer_id": "c", "amount": 1}
    response = await payments.post(
        "/payments", json=body, headers=[(b"Idempotency-Key", key.encode())]
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["header", "idempotency-key"]


async def test_a_body_that_is_not_json_says_how_to_send_it(payments: httpx.AsyncClient) -> None:
    response = await payments.post(
        "/payments",
        content=b'{"order_id": "o", "customer_id": "c", "amount": 1}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "body: expected a JSON object sent with Content-Type: application/json"
    )


TOKEN = "an-operator-token-for-tests"


def with_token(token: str | None) -> FastAPI:
    return orders_app(OrdersSettings(operator_token=token))


async def test_a_dead_letter_id_redis_cannot_parse_is_422_not_409() -> None:
    # 20 digits overflow a stream id part: Redis refused it and the route said "handler failed
    # again" (409). Nineteen digits always fit.
    transport = httpx.ASGITransport(app=with_token(TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        response = await client.post(
            "/dead-letters/99999999999999999999-0/redrive",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "dead_letter_id"]


@pytest.mark.parametrize(
    ("token", "authorization", "status"),
    [
        (None, f"Bearer {TOKEN}", 404),  # no token configured: the endpoints do not exist
        (TOKEN, None, 401),  # who is asking?
        (TOKEN, "Bearer not-the-token-at-all", 403),  # not an operator
        (TOKEN, f"Basic {TOKEN}", 401),  # not a bearer token
    ],
)
async def test_operator_endpoints_need_the_operator_token(
    token: str | None, authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    transport = httpx.ASGITransport(app=with_token(token))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        listed = await client.get("/dead-letters", headers=headers)
        redriven = await client.post("/dead-letters/1-0/redrive", headers=headers)
    assert (listed.status_code, redriven.status_code) == (status, status)
    assert listed.headers["content-type"] == "application/problem+json"
    if status == 401:
        assert listed.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("token", "authorization", "status"),
    [
        (None, f"Bearer {TOKEN}", 404),
        (TOKEN, None, 401),
        (TOKEN, "Bearer not-the-token-at-all", 403),
    ],
)
async def test_the_failed_mail_endpoints_need_the_operator_token_too(
    token: str | None, authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    app = notifications_app(NotificationsSettings(operator_token=token))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        listed = await client.get("/mail/failed", headers=headers)
        requeued = await client.post("/mail/failed/e-1/requeue", headers=headers)
    assert (listed.status_code, requeued.status_code) == (status, status)
    assert listed.headers["content-type"] == "application/problem+json"


async def test_a_405_allows_every_method_of_the_path_not_just_the_first_routes() -> None:
    # PUT and GET of a contact are two routes: Starlette's 405 named the first one's only.
    transport = httpx.ASGITransport(app=notifications_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        response = await client.delete("/customers/c-1/contact")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PUT"
    assert response.json()["detail"] == "DELETE is not allowed here; allowed: GET, PUT"
