"""The event store's features through the running system (real processes, Redis with the ACL):
a payment method in version 2 of the events, beside a payment stored the old way; time travel;
snapshots every SNAPSHOT_EVERY events, deleted without changing an answer; orders' revenue
projection, live and rebuilt by ``python -m orders projections rebuild revenue``."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from contracts.payments import NOTIFICATION_STREAM, PAYMENT_RECEIVED, STATE_STREAM

from tests.helpers import Stack, eventually

EVERY = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("stack"), env={"SNAPSHOT_EVERY": str(EVERY)})
    yield system.start()
    system.stop()


def get(stack: Stack, service: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{stack[service].url}{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def revenue_today(stack: Stack, currency: str) -> int:
    return int(get(stack, "orders", "/revenue", currency=currency)["total"])


def test_a_payment_through_every_feature(stack: Stack, uid: str) -> None:
    currency = "SEK"  # this test's own: the revenue counts only its payments
    order = stack.place_order(f"cust-{uid}", total=5000, currency=currency)
    body = {"order_id": order["order_id"], "customer_id": f"cust-{uid}", "amount": 5000}
    paid = httpx.post(
        f"{stack['payments'].url}/payments", json={**body, "currency": currency, "method": "card"}
    ).json()
    pid = paid["payment_id"]
    for amount in (100, 200, 300, 400):
        stack.refund(pid, amount)
    now = get(stack, "payments", f"/payments/{pid}")
    assert (now["version"], now["refunded_amount"], now["method"]) == (5, 1000, "card")

    # Time travel: after any version, at any moment; the events of a range.
    assert get(stack, "payments", f"/payments/{pid}", version=1) == paid
    assert get(stack, "payments", f"/payments/{pid}", version=3)["refunded_amount"] == 300
    history = get(stack, "payments", f"/payments/{pid}/events")
    moment = datetime.fromtimestamp(int(history[1]["position"].split("-")[0]) / 1000, UTC)
    then = get(stack, "payments", f"/payments/{pid}", at=moment.isoformat())
    assert then["version"] >= 2
    ranged = get(stack, "payments", f"/payments/{pid}/events", from_version=4, to_version=5)
    assert ranged == history[3:]

    # A snapshot at version 3 (SNAPSHOT_EVERY); deleting it changes no answer.
    admin = stack.redis.client()
    snapshot = admin.hgetall(f"{{payments}}:snapshot:payment-{pid}")
    assert (snapshot[b"version"], snapshot[b"schema"]) == (b"3", b"2")
    assert snapshot[b"position"].decode() == history[2]["position"]
    admin.delete(f"{{payments}}:snapshot:payment-{pid}")
    assert get(stack, "payments", f"/payments/{pid}") == now

    # Orders keeps the method in its copy, and the revenue of the day: 5,000 - 1,000.
    eventually(lambda: get(stack, "orders", f"/cache/payments/{pid}") == now, what="the copy")
    eventually(lambda: revenue_today(stack, currency) == 4000, what="the revenue")
    report = get(stack, "orders", "/revenue", currency=currency)
    assert report["days"] == [{"day": datetime.now(UTC).date().isoformat(), "amount": 4000}]
    [(newest, _)] = admin.xrevrange(STATE_STREAM, count=1)
    assert report["as_of"] == newest.decode()
    admin.close()

    # Notifications says how it was paid.
    received = eventually(
        lambda: [n for n in stack.notifications(payment_id=pid) if n["kind"] == "payment_received"]
    )
    assert "received by card" in received[0]["message"]


def test_a_payment_stored_before_methods_flows_on_beside_the_new_ones(stack: Stack) -> None:
    """Stored the old way: version 1 in the event store and on both streams. The services read
    it, refund it and publish version 2 for it; orders and notifications take both."""
    pid, order_id = str(uuid.uuid4()), f"ord-{uuid.uuid4().hex[:8]}"
    data = {"payment_id": pid, "order_id": order_id, "customer_id": "c-old", "amount": 700}
    data["currency"] = "NOK"
    state = {**data, "refunded_amount": 0, "status": "received", "version": 1}

    def old_entry(payload: dict[str, Any]) -> dict[str, str]:
        return {
            "id": str(uuid.uuid4()),
            "source": "payments",
            "type": PAYMENT_RECEIVED,
            "time": datetime.now(UTC).isoformat(),
            "subject": pid,
            "specversion": "1.0",
            "datacontenttype": "application/json",
            "data": json.dumps(payload),
        }

    admin = stack.redis.client()
    admin.xadd(f"{{payments}}:payment-{pid}", {**old_entry(data), "version": "1"})
    admin.xadd(STATE_STREAM, old_entry(state))
    admin.xadd(NOTIFICATION_STREAM, old_entry({"payment_id": pid}))
    admin.close()

    assert get(stack, "payments", f"/payments/{pid}")["method"] is None
    refunded = stack.refund(pid, 200)
    assert (refunded["version"], refunded["method"]) == (2, None)
    eventually(lambda: get(stack, "orders", f"/cache/payments/{pid}") == refunded)
    eventually(lambda: revenue_today(stack, "NOK") == 500, what="both versions counted")
    kinds = eventually(
        lambda: (
            sorted(n["kind"] for n in stack.notifications(payment_id=pid))
            if len(stack.notifications(payment_id=pid)) == 2
            else None
        )
    )
    assert kinds == ["payment_received", "payment_refunded"]


def test_the_revenue_rebuilt_from_zero_equals_the_live_one(stack: Stack, uid: str) -> None:
    currency = "DKK"
    order = stack.place_order(f"cust-{uid}", total=900, currency=currency)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 900, currency=currency)
    stack.refund(payment["payment_id"], 50)
    eventually(lambda: revenue_today(stack, currency) == 850, what="the live revenue")
    rebuilt = subprocess.run(
        [sys.executable, "-m", "orders", "projections", "rebuild", "revenue"],
        env={**stack["orders"].env},  # as orders' own Redis user
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt revenue from the start of {payments}:state" in rebuilt.stdout
    # The live runner lost its place to the reset and reads on: every event still counts once.
    eventually(lambda: revenue_today(stack, currency) == 850, what="the rebuilt revenue")
    stack.refund(payment["payment_id"], 50)
    eventually(lambda: revenue_today(stack, currency) == 800, what="the live runner again")
    # A replica that runs no projection answers from the one the others keep.
    replica = stack.add("orders", f"orders-{uid}", RUN_PROJECTIONS="false")
    try:
        report = get(stack, f"orders-{uid}", "/revenue", currency=currency)
        assert report == get(stack, "orders", "/revenue", currency=currency)
    finally:
        replica.stop()


def test_a_damaged_stream_answers_one_clear_error_on_every_read_and_write(
    stack: Stack, uid: str
) -> None:
    """Failed before: emptied by its owner (`XADD … MAXLEN 0`, which Redis 7.0's ACL cannot
    refuse) with a snapshot beside it, the payment answered 200 with the snapshot's older
    state, 404 for ?version= and /events, 404 for a keyed refund and 500 for a keyless one."""
    order = stack.place_order(f"cust-{uid}", total=900)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 900)
    pid = payment["payment_id"]
    for amount in (100, 200):
        stack.refund(pid, amount)  # version 3: a snapshot (SNAPSHOT_EVERY)
    payments = redis.Redis.from_url(stack.redis.url_for("payments"))
    stream = f"{{payments}}:payment-{pid}"
    assert stack.redis.client().exists(f"{{payments}}:snapshot:payment-{pid}")
    payments.xadd(stream, {"x": "y"}, maxlen=0)  # its ACL lets it: the history is gone
    assert payments.xlen(stream) == 0
    url = f"{stack['payments'].url}/payments/{pid}"
    answers = [
        httpx.get(url),
        httpx.get(url, params={"version": 1}),
        httpx.get(f"{url}/events"),
        httpx.post(f"{url}/refunds", json={"amount": 1}),
        httpx.post(f"{url}/refunds", json={"amount": 1}, headers={"Idempotency-Key": uid}),
    ]
    for answer in answers:
        assert answer.status_code == 500, (answer.request.url, answer.text)
        assert answer.json()["detail"].startswith(
            "this payment's history is incomplete, so it is frozen"
        ), answer.text
