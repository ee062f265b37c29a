"""The payments API, served by a real `python -m payments` process against a real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM

from tests.helpers import RedisServer, ServiceProcess


def new_payment(uid: str, **overrides: Any) -> dict[str, Any]:
    return {
        "order_id": f"ord-{uid}",
        "customer_id": f"cust-{uid}",
        "amount": 1000,
        "currency": "EUR",
    } | overrides


@pytest.fixture
def api(payments_service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=payments_service.url, timeout=10) as client:
        yield client


def published(redis_server: RedisServer, stream: str, payment_id: str) -> list[dict[str, Any]]:
    client = redis_server.client()
    entries = client.xrange(stream)
    client.close()
    return [
        {"type": f[b"type"].decode(), "data": json.loads(f[b"data"])}
        for _, f in entries
        if f[b"subject"].decode() == payment_id
    ]


def test_receive_read_refund_and_history(api: httpx.Client, uid: str) -> None:
    created = api.post("/payments", json=new_payment(uid))
    assert created.status_code == 201
    payment = created.json()
    pid = payment["payment_id"]
    assert payment == {
        "payment_id": pid,
        "order_id": f"ord-{uid}",
        "customer_id": f"cust-{uid}",
        "amount": 1000,
        "currency": "EUR",
        "refunded_amount": 0,
        "status": "received",
        "version": 1,
        "method": None,
    }
    assert api.get(f"/payments/{pid}").json() == payment

    refunded = api.post(f"/payments/{pid}/refunds", json={"amount": 400, "reason": "late"})
    assert refunded.status_code == 201
    assert refunded.json() == payment | {
        "refunded_amount": 400,
        "status": "partially_refunded",
        "version": 2,
    }
    full = api.post(f"/payments/{pid}/refunds", json={"amount": 600}).json()
    assert (full["status"], full["refunded_amount"], full["version"]) == ("refunded", 1000, 3)

    history = api.get(f"/payments/{pid}/events").json()
    assert [(h["type"], h["version"]) for h in history] == [
        ("PaymentReceived", 1),
        ("PaymentRefunded", 2),
        ("PaymentRefunded", 3),
    ]
    assert history[1]["data"] == {"payment_id": pid, "amount": 400, "reason": "late"}
    assert len({h["id"] for h in history}) == 3


def test_every_stored_event_is_published_thin_and_fat(
    api: httpx.Client, redis_server: RedisServer, uid: str
) -> None:
    pid = api.post("/payments", json=new_payment(uid)).json()["payment_id"]
    api.post(f"/payments/{pid}/refunds", json={"amount": 250})
    api.post(f"/payments/{pid}/refunds", json={"amount": 5000})  # refused: publishes nothing
    assert published(redis_server, NOTIFICATION_STREAM, pid) == [
        {"type": "PaymentReceived", "data": {"payment_id": pid}},
        {"type": "PaymentRefunded", "data": {"payment_id": pid}},
    ]
    state = published(redis_server, STATE_STREAM, pid)
    assert [(s["type"], s["data"]["version"], s["data"]["refunded_amount"]) for s in state] == [
        ("PaymentReceived", 1, 0),
        ("PaymentRefunded", 2, 250),
    ]
    assert state[1]["data"] == api.get(f"/payments/{pid}").json()


def test_a_payment_says_how_it_was_paid_in_version_2_of_its_events(
    api: httpx.Client, redis_server: RedisServer, uid: str
) -> None:
    payment = api.post("/payments", json=new_payment(uid, method="bank_transfer")).json()
    pid = payment["payment_id"]
    assert payment["method"] == "bank_transfer"
    [received] = api.get(f"/payments/{pid}/events").json()
    assert received["data"]["method"] == "bank_transfer"
    [state] = published(redis_server, STATE_STREAM, pid)
    assert state["data"]["method"] == "bank_transfer"
    client = redis_server.client()
    [(_, stored)] = client.xrange(f"{{payments}}:payment-{pid}")
    [(_, fat)] = [e for e in client.xrange(STATE_STREAM) if e[1][b"subject"] == pid.encode()]
    client.close()
    assert stored[b"dataschema"] == b"urn:schema:payments.PaymentReceived:v2"
    assert fat[b"dataschema"] == b"urn:schema:payments.PaymentSnapshot:v2"
    refused = api.post("/payments", json=new_payment(uid, method="cash"))
    assert refused.status_code == 422
    assert "body.method: Input should be 'card', 'bank_transfer' or 'wallet'" in refused.text


def test_the_state_after_any_version_or_at_any_moment(api: httpx.Client, uid: str) -> None:
    pid = api.post("/payments", json=new_payment(uid)).json()["payment_id"]
    for _ in range(3):
        api.post(f"/payments/{pid}/refunds", json={"amount": 100})
    now = api.get(f"/payments/{pid}").json()
    assert now["version"] == 4
    for version in (1, 2, 4):
        then = api.get(f"/payments/{pid}", params={"version": version}).json()
        assert (then["version"], then["refunded_amount"]) == (version, 100 * (version - 1))
    past_the_end = api.get(f"/payments/{pid}", params={"version": 5})
    assert past_the_end.status_code == 404
    assert past_the_end.json()["detail"] == "no version 5: the payment has 4 events"
    history = api.get(f"/payments/{pid}/events").json()
    stored_at = int(history[0]["position"].split("-")[0]) / 1000  # Redis's clock, in ms
    at_first = datetime.fromtimestamp(stored_at, UTC).isoformat().replace("+00:00", "Z")
    assert api.get(f"/payments/{pid}", params={"at": at_first}).json()["version"] >= 1
    assert api.get(f"/payments/{pid}", params={"at": "2999-01-01T00:00:00+01:00"}).json() == now
    before = api.get(f"/payments/{pid}", params={"at": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404
    assert before.json()["detail"].startswith("the payment did not exist at 2000-01-01T00:00:00")
    # Before 1970, before year 1 in UTC even: still only "not yet", never an error.
    assert (
        api.get(f"/payments/{pid}", params={"at": "0001-01-01T00:00:00+23:00"}).status_code == 404
    )


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"version": "0"}, "query.version: Input should be greater than or equal to 1"),
        ({"version": "two"}, "query.version: Input should be a valid integer"),
        ({"at": "yesterday"}, "at: 'yesterday' is not an RFC 3339 date-time with offset"),
        ({"at": "2026-11-26"}, "is not an RFC 3339 date-time"),
        ({"at": "2026-11-26T10:00:00"}, "is not an RFC 3339 date-time"),  # no offset
        ({"at": "1764151200"}, "is not an RFC 3339 date-time"),
        ({"at": "2026-13-45T10:00:00Z"}, "at: Input should be a valid datetime"),
        ({"at": "0000-01-01T00:00:00Z"}, "at: Input should be a valid datetime"),
        ({"version": "1", "at": "2026-11-26T10:00:00Z"}, "a version or a moment (at), not both"),
    ],
)
def test_a_bad_version_or_moment_is_422(
    api: httpx.Client, uid: str, params: dict[str, str], complaint: str
) -> None:
    pid = api.post("/payments", json=new_payment(uid)).json()["payment_id"]
    response = api.get(f"/payments/{pid}", params=params)
    assert response.status_code == 422
    assert complaint in response.json()["detail"]


def test_the_events_of_a_range_of_versions(api: httpx.Client, uid: str) -> None:
    pid = api.post("/payments", json=new_payment(uid)).json()["payment_id"]
    for _ in range(4):
        api.post(f"/payments/{pid}/refunds", json={"amount": 10})
    versions = [
        [h["version"] for h in api.get(f"/payments/{pid}/events", params=query).json()]
        for query in (
            {"from_version": "2", "to_version": "3"},
            {"from_version": "4"},
            {"to_version": "2"},
            {"from_version": "5", "to_version": "99"},
        )
    ]
    assert versions == [[2, 3], [4, 5], [1, 2], [5]]
    past = api.get(f"/payments/{pid}/events", params={"from_version": "6"})
    assert (past.status_code, past.json()["detail"]) == (
        404,
        "no version 6: the payment has 5 events",
    )
    backwards = api.get(f"/payments/{pid}/events", params={"from_version": 3, "to_version": 2})
    assert backwards.status_code == 422
    assert backwards.json()["detail"] == "to_version 2 is before from_version 3"


def test_an_event_newer_than_this_release_is_refused_not_misread(
    api: httpx.Client, redis_server: RedisServer
) -> None:
    """Written by a later release (version 3 of PaymentReceived): this one cannot fold it."""
    pid = str(uuid4())
    fields = {
        "id": str(uuid4()),
        "source": "payments",
        "type": "PaymentReceived",
        "time": "2026-12-01T10:00:00+00:00",
        "subject": pid,
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "dataschema": "urn:schema:payments.PaymentReceived:v3",
        "data": json.dumps({"payment_id": pid, "unheard_of": True}),
        "version": "1",
    }
    client = redis_server.client()
    client.xadd(f"{{payments}}:payment-{pid}", fields)
    client.close()
    response = api.get(f"/payments/{pid}")
    assert response.status_code == 500
    assert response.json()["detail"] == (
        "this payment holds an event this release cannot read: "
        "PaymentReceived v3 is newer than this code (v2)"
    )


def test_currency_defaults_to_usd(api: httpx.Client, uid: str) -> None:
    body = new_payment(uid)
    del body["currency"]
    assert api.post("/payments", json=body).json()["currency"] == "USD"


def test_unknown_payments_are_404(api: httpx.Client) -> None:
    unknown = uuid4()
    for response in (
        api.get(f"/payments/{unknown}"),
        api.get(f"/payments/{unknown}/events"),
        api.post(f"/payments/{unknown}/refunds", json={"amount": 1}),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == f"payment {unknown} not found"
        assert response.headers["content-type"] == "application/problem+json"


def test_refunding_more_than_is_left_is_409(api: httpx.Client, uid: str) -> None:
    pid = api.post("/payments", json=new_payment(uid, amount=100)).json()["payment_id"]
    response = api.post(f"/payments/{pid}/refunds", json={"amount": 101})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "cannot refund 101: only 100 of the payment's 100 EUR is left to refund"
    )
    assert api.get(f"/payments/{pid}").json()["version"] == 1


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"amount": 0}, "body.amount: Input should be greater than 0"),
        ({"amount": -5}, "body.amount: Input should be greater than 0"),
        ({"amount": 10.5}, "body.amount: Input should be a valid integer"),
        ({"amount": "100"}, "body.amount: Input should be a valid integer"),
        ({"amount": 10**13}, "body.amount: Input should be less than or equal to"),
        ({"currency": "eur"}, "body.currency: String should match pattern"),
        ({"currency": "EURO"}, "body.currency: String should match pattern"),
        ({"currency": "ZZZ"}, "body.currency: Value error, 'ZZZ' is not an ISO 4217 currency"),
        ({"currency": "XXX"}, "body.currency: Value error, 'XXX' is not an ISO 4217 currency"),
        ({"order_id": ""}, "body.order_id: String should have at least 1 character"),
        ({"customer_id": "x" * 65}, "body.customer_id: String should have at most 64"),
        ({"surprise": 1}, "body.surprise: Extra inputs are not permitted"),
    ],
)
def test_invalid_fields_are_422_saying_what_is_wrong(
    api: httpx.Client, uid: str, change: dict[str, Any], complaint: str
) -> None:
    response = api.post("/payments", json=new_payment(uid, **change))
    assert response.status_code == 422
    assert complaint in response.json()["detail"]


def test_missing_fields_malformed_json_and_wrong_shapes_are_422(api: httpx.Client) -> None:
    missing = api.post("/payments", json={"amount": 5})
    assert missing.status_code == 422
    assert "body.order_id: Field required" in missing.json()["detail"]
    malformed = api.post(
        "/payments", content=b'{"amount": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert "malformed JSON" in malformed.json()["detail"]
    not_an_object = api.post("/payments", json=[1, 2])
    assert not_an_object.status_code == 422
    assert api.post(f"/payments/{uuid4()}/refunds", json={"amount": 1, "x": 2}).status_code == 422
    bad_id = api.get("/payments/not-a-uuid")
    assert bad_id.status_code == 422
    assert "path.payment_id" in bad_id.json()["detail"]


def test_a_body_over_64_kib_is_413_declared_or_streamed(api: httpx.Client, uid: str) -> None:
    big = json.dumps(new_payment(uid, customer_id="x" * 70_000)).encode()
    declared = api.post("/payments", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["detail"] == "request body is larger than 65536 bytes"
    streamed = api.post(
        "/payments",
        content=iter([big[:40_000], big[40_000:]]),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413


def test_an_idempotency_key_replays_the_original_response(
    api: httpx.Client, redis_server: RedisServer, uid: str
) -> None:
    headers = {"Idempotency-Key": f"key-{uid}"}
    first = api.post("/payments", json=new_payment(uid), headers=headers)
    pid = first.json()["payment_id"]
    api.post(f"/payments/{pid}/refunds", json={"amount": 1})
    again = api.post("/payments", json=new_payment(uid), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(api.get(f"/payments/{pid}/events").json()) == 2  # no second PaymentReceived
    assert [e["type"] for e in published(redis_server, NOTIFICATION_STREAM, pid)] == [
        "PaymentReceived",
        "PaymentRefunded",
    ]


def test_an_idempotency_key_reused_for_another_body_is_refused(api: httpx.Client, uid: str) -> None:
    headers = {"Idempotency-Key": f"key-{uid}"}
    assert api.post("/payments", json=new_payment(uid), headers=headers).status_code == 201
    reused = api.post("/payments", json=new_payment(uid, amount=999), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["detail"] == (
        f"Idempotency-Key 'key-{uid}' was used for a different request"
    )


def test_a_refund_retried_with_its_idempotency_key_refunds_once(
    api: httpx.Client, uid: str
) -> None:
    pid = api.post("/payments", json=new_payment(uid)).json()["payment_id"]
    headers = {"Idempotency-Key": f"refund-{uid}"}
    body = {"amount": 100, "reason": "broken"}
    first = api.post(f"/payments/{pid}/refunds", json=body, headers=headers)
    api.post(f"/payments/{pid}/refunds", json={"amount": 50})  # another refund in between
    with ThreadPoolExecutor(5) as pool:
        retries = list(
            pool.map(
                lambda _: api.post(f"/payments/{pid}/refunds", json=body, headers=headers),
                range(5),
            )
        )
    assert first.status_code == 201
    assert {r.status_code for r in retries} == {201}
    assert all(r.json() == first.json() for r in retries)  # the state right after that refund
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in retries)
    assert api.get(f"/payments/{pid}").json()["refunded_amount"] == 150
    reused = api.post(f"/payments/{pid}/refunds", json={"amount": 7}, headers=headers)
    assert reused.status_code == 422
    assert "was used for a different request" in reused.json()["detail"]


def test_concurrent_idempotent_retries_make_one_payment(api: httpx.Client, uid: str) -> None:
    headers = {"Idempotency-Key": f"key-{uid}"}
    with ThreadPoolExecutor(10) as pool:
        responses = list(
            pool.map(
                lambda _: api.post("/payments", json=new_payment(uid), headers=headers), range(10)
            )
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["payment_id"] for r in responses}) == 1
    pid = responses[0].json()["payment_id"]
    assert len(api.get(f"/payments/{pid}/events").json()) == 1


def test_twenty_concurrent_refunds_of_one_on_ten_across_two_processes(
    api: httpx.Client,
    payments_service: ServiceProcess,
    redis_server: RedisServer,
    logs: Path,
    uid: str,
) -> None:
    second = ServiceProcess(
        "payments", env={"REDIS_URL": redis_server.url}, log_dir=logs, name=f"payments-2-{uid}"
    ).start()
    try:
        pid = api.post("/payments", json=new_payment(uid, amount=10)).json()["payment_id"]
        urls = [payments_service.url, second.url] * 10

        def refund(url: str) -> int:
            return httpx.post(
                f"{url}/payments/{pid}/refunds", json={"amount": 1}, timeout=30
            ).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(refund, urls))
    finally:
        second.stop()
    assert sorted(codes) == [201] * 10 + [409] * 10
    history = api.get(f"/payments/{pid}/events").json()
    assert [h["version"] for h in history] == list(range(1, 12))
    assert api.get(f"/payments/{pid}").json()["status"] == "refunded"


def test_openapi_documents_the_api_with_examples(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    assert {
        "/payments",
        "/payments/{payment_id}",
        "/payments/{payment_id}/events",
        "/payments/{payment_id}/refunds",
        "/health",
    } <= set(schema["paths"])
    assert schema["components"]["schemas"]["NewPayment"]["examples"]
    assert api.get("/docs").status_code == 200


def test_health_follows_redis(tmp_path: Path, logs: Path, uid: str) -> None:
    server = RedisServer(tmp_path).start()
    service = ServiceProcess(
        "payments", env={"REDIS_URL": server.url}, log_dir=logs, name=f"payments-health-{uid}"
    ).start()
    try:
        assert httpx.get(f"{service.url}/health").json() == {"status": "ok", "redis": "up"}
        server.kill()
        service.wait_health(503)
        down = httpx.get(f"{service.url}/health")
        assert "redis unreachable" in down.json()["detail"]
        server.start()
        service.wait_health(200)
    finally:
        service.stop()
        server.stop()


def test_a_body_that_is_not_utf8_gets_a_clear_400(api: httpx.Client) -> None:
    not_utf8 = api.post(
        "/payments", content=b'{"order_id": "\xff"}', headers={"content-type": "application/json"}
    )
    assert not_utf8.status_code == 400
    assert not_utf8.json()["detail"].startswith("request body is not UTF-8:")
