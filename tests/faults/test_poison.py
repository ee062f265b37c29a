"""Fault 6: poison is dead-lettered with the reason, the rest flows, a fixed one is re-driven."""

import subprocess
import sys
import uuid
from collections.abc import Callable

import httpx
from contracts.payments import NOTIFICATION_STREAM
from eventkit import Event, dead_letter_stream
from payments.idempotency import IDEMPOTENCY_NAMESPACE

from tests.helpers import Stack, check_exactly_once, eventually


def test_poison_is_dead_lettered_the_rest_flows_and_a_fixed_one_is_redriven(
    make_stack: Callable[..., Stack],
) -> None:
    # A payment unknown for longer than the grace period fails like any other event.
    stack = make_stack(env={"MAX_DELIVERIES": "3", "UNKNOWN_PAYMENT_GRACE_S": "1"})
    admin = stack.redis.client()
    malformed = admin.xadd("{payments}:state", {"surprise": "not an event"}).decode()
    unknown = Event(source="payments", type="PaymentExploded", subject="p", data={})
    unknown_id = admin.xadd("{payments}:state", unknown.to_fields()).decode()
    # A thin event about a payment payments does not know (yet): the handler fails every time.
    future_key = "key-of-a-payment-made-later"
    future_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, future_key))
    early = Event(
        source="payments", type="PaymentReceived", subject=future_id, data={"payment_id": future_id}
    )
    early_id = admin.xadd("{payments}:notifications", early.to_fields()).decode()
    order = stack.place_order("cust", total=300)
    paid = [stack.pay(order["order_id"], "cust", 100)["payment_id"] for _ in range(3)]

    # The events behind the poison flow.
    check_exactly_once(stack, paid, dead_letters=True)
    stack.wait_order(order["order_id"], "paid", 300)

    orders_dead = eventually(lambda: stack.dead_letters("orders"))
    assert {d["original_id"]: d["deliveries"] for d in orders_dead} == {malformed: 1, unknown_id: 1}
    by_id = {d["original_id"]: d for d in orders_dead}
    assert "missing field: data" in by_id[malformed]["error"]
    assert by_id[malformed]["fields"] == {"surprise": "not an event"}
    assert "no handler for event type 'PaymentExploded'" in by_id[unknown_id]["error"]

    [letter] = eventually(lambda: stack.dead_letters("notifications"), timeout=30)
    assert (letter["original_id"], letter["deliveries"]) == (early_id, 3)
    assert letter["error"] == f"UnknownPayment: payments does not know payment {future_id}"
    assert letter["fields"] == early.to_fields()

    # The documented command lists them too.
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "eventkit",
            "--url",
            stack.redis.url,
            "dead-letters",
            dead_letter_stream(NOTIFICATION_STREAM, "notifications"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"original={early_id}" in listed
    assert "UnknownPayment" in listed

    # Re-driving before the fix fails and keeps the letter; after the fix it succeeds.
    assert stack.redrive("notifications", letter["id"]).status_code == 409
    stack.pay("o-late", "cust", 100, **{"Idempotency-Key": future_key})  # the fix: it exists now
    assert stack.redrive("notifications", letter["id"]).status_code == 200
    # One notification per event: the re-driven early one, and the payment's own event.
    notes = eventually(
        lambda: n if len(n := stack.notifications(payment_id=future_id)) == 2 else []
    )
    assert early.id in {n["notification_id"] for n in notes}
    assert stack.dead_letters("notifications") == []
    assert stack.redrive("notifications", letter["id"]).status_code == 404
    # A malformed entry cannot be fixed by re-driving it: it says so and stays.
    still = stack.redrive("orders", by_id[malformed]["id"])
    assert still.status_code == 422
    assert "still not a valid event" in still.json()["detail"]


def test_one_payment_that_payments_cannot_serve_costs_that_event_not_the_stream(
    make_stack: Callable[..., Stack],
) -> None:
    """Failed before: payments' 500 for one payment was "retry later" without end, and the
    group waited on it: no notification after it, for good. Now payments being healthy while
    it fails that one call makes it the event's failure: retried, then dead-lettered with the
    reason, while the others flow. (An outage, every call failing, still holds the group:
    tests/faults/test_dependencies_down.py.)"""
    stack = make_stack(env={"MAX_DELIVERIES": "3"})
    admin = stack.redis.client()
    # A payment stored by a newer release (version 3 of its data): this payments answers 500.
    broken = str(uuid.uuid4())
    newer = Event(
        source="payments",
        type="PaymentReceived",
        subject=broken,
        data={"payment_id": broken, "unheard_of": True},
        dataschema="urn:schema:payments.PaymentReceived:v3",
    )
    admin.xadd(f"{{payments}}:payment-{broken}", {**newer.to_fields(), "version": "1"})
    thin = Event(source="payments", type="PaymentReceived", subject=broken,
                 data={"payment_id": broken})  # fmt: skip
    thin_id = admin.xadd("{payments}:notifications", thin.to_fields()).decode()
    assert httpx.get(f"{stack['payments'].url}/payments/{broken}").status_code == 500

    order = stack.place_order("cust", total=300)
    paid = [stack.pay(order["order_id"], "cust", 100)["payment_id"] for _ in range(3)]
    check_exactly_once(stack, paid, dead_letters=True)  # the ones behind it were notified
    [letter] = eventually(lambda: stack.dead_letters("notifications"), timeout=30)
    assert (letter["original_id"], letter["deliveries"]) == (thin_id, 3)
    assert "payments answered 500 for this payment while healthy" in letter["error"]
    assert "newer than this code" in letter["error"]
