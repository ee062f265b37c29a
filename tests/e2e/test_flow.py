"""The mission's flow end to end: one PaymentReceived, two patterns, real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import httpx
from contracts.payments import NOTIFICATION_STREAM
from eventkit import dead_letter_stream
from orders.adapters import cache_prefix, generation_key

from tests.helpers import Stack, eventually

DEAD_NOTIFICATIONS = dead_letter_stream(NOTIFICATION_STREAM, "notifications")


def test_a_payment_pays_the_order_and_notifies_by_call_back(stack: Stack, uid: str) -> None:
    order = stack.place_order(f"cust-{uid}", total=2500)
    assert (order["status"], order["paid_amount"]) == ("pending_payment", 0)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 2500)

    # Event-carried state transfer: orders applies the fat event to its own copy.
    stack.wait_order(order["order_id"], "paid", 2500)
    cached = httpx.get(f"{stack['orders'].url}/cache/payments/{payment['payment_id']}")
    assert cached.json() == payment

    # Event notification: the thin event held only the id; the rest came by call back.
    [notification] = eventually(lambda: stack.notifications(customer_id=f"cust-{uid}"))
    assert notification["kind"] == "payment_received"
    assert {
        k: notification[k] for k in ("payment_id", "order_id", "customer_id", "amount", "currency")
    } == {k: payment[k] for k in ("payment_id", "order_id", "customer_id", "amount", "currency")}
    assert (
        notification["message"] == f"Payment of 25.00 EUR received for order {order['order_id']}."
    )
    calls = stack["payments"].log().count(f"GET /payments/{payment['payment_id']} HTTP")
    assert calls == 1


def test_a_refund_reaches_both(stack: Stack, uid: str) -> None:
    order = stack.place_order(f"cust-{uid}", total=1000)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 1000)
    stack.wait_order(order["order_id"], "paid", 1000)
    stack.refund(payment["payment_id"], 300)
    stack.wait_order(order["order_id"], "partially_refunded", 700)
    stack.refund(payment["payment_id"], 700)
    stack.wait_order(order["order_id"], "refunded", 0)
    kinds = eventually(
        lambda: (
            [n["kind"] for n in stack.notifications(payment_id=payment["payment_id"])]
            if len(stack.notifications(payment_id=payment["payment_id"])) == 3
            else None
        )
    )
    assert kinds == ["payment_refunded", "payment_refunded", "payment_received"]  # newest first


def test_partial_payments_add_up(stack: Stack, uid: str) -> None:
    order = stack.place_order(f"cust-{uid}", total=500)
    stack.pay(order["order_id"], f"cust-{uid}", 200)
    stack.wait_order(order["order_id"], "partially_paid", 200)
    stack.pay(order["order_id"], f"cust-{uid}", 300)
    stack.wait_order(order["order_id"], "paid", 500)


def test_the_cache_rebuilt_from_the_stream_equals_the_incremental_cache(
    stack: Stack, uid: str
) -> None:
    orders = [stack.place_order(f"cust-{uid}", total=1000) for _ in range(5)]
    for n, order in enumerate(orders):
        payment = stack.pay(order["order_id"], f"cust-{uid}", 1000)
        if n % 2:
            stack.refund(payment["payment_id"], 100 * n)
    for n, order in enumerate(orders):
        stack.wait_order(
            order["order_id"],
            "partially_refunded" if n % 2 else "paid",
            1000 - (100 * n if n % 2 else 0),
        )

    def cache() -> dict[str, str]:
        """Every key of the cache generation in use, by its name within the generation."""
        client = stack.redis.client(decode_responses=True)
        prefix = cache_prefix(int(client.get(generation_key()) or 0))
        kinds = {key: client.type(key) for key in client.scan_iter(f"{prefix}*")}
        read = {
            "string": client.get,
            "hash": lambda key: json.dumps(client.hgetall(key), sort_keys=True),
            "set": lambda key: json.dumps(sorted(client.smembers(key))),
        }
        values = {key.removeprefix(prefix): read[kind](key) for key, kind in kinds.items()}
        client.close()
        return values

    before = cache()
    before_orders = [stack.order(o["order_id"]) for o in orders]
    rebuilt = subprocess.run(
        [sys.executable, "-m", "orders", "rebuild"],
        env={**stack["orders"].env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "replayed" in rebuilt.stdout
    assert "now in use" in rebuilt.stdout
    after = cache()
    assert after == before
    assert any(key.startswith("payment:") for key in after)
    assert [stack.order(o["order_id"]) for o in orders] == before_orders


def test_with_payments_stopped_the_order_is_paid_and_the_notification_waits(
    fresh_stack: Stack, uid: str
) -> None:
    stack = fresh_stack
    order = stack.place_order(f"cust-{uid}", total=700)
    # Freeze notifications so the payment cannot be notified before payments is stopped too.
    stack["notifications"].signal(signal.SIGSTOP)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 700)
    stack["payments"].signal(signal.SIGSTOP)
    stack["notifications"].signal(signal.SIGCONT)
    try:
        # Orders never calls payments, so payments being down does not matter to it.
        stack.wait_order(order["order_id"], "paid", 700)
        # Notifications got the event and is waiting for payments: pending, not acked.
        client = stack.redis.client()
        eventually(
            lambda: client.xpending("{payments}:notifications", "notifications")["pending"] == 1
        )

        def waiting_on_payments() -> bool:
            ready = httpx.get(f"{stack['notifications'].url}/ready")
            [consumer] = ready.json()["errors"]  # 503: not ready while it waits
            return consumer["state"] == "waiting" and consumer["waits"] > 0

        eventually(waiting_on_payments)
        assert stack.notifications() == []
        assert client.xlen(DEAD_NOTIFICATIONS) == 0
    finally:
        stack["payments"].signal(signal.SIGCONT)
    [notification] = eventually(stack.notifications, timeout=20)
    assert notification["payment_id"] == payment["payment_id"]
    eventually(lambda: client.xpending("{payments}:notifications", "notifications")["pending"] == 0)
    assert client.xlen(DEAD_NOTIFICATIONS) == 0


def test_notifications_killed_while_payments_flow_notifies_each_exactly_once(
    fresh_stack: Stack, uid: str
) -> None:
    stack = fresh_stack
    order = stack.place_order(f"cust-{uid}", total=10**9)
    paid: list[str] = []

    def post_payments() -> None:
        for _ in range(60):
            paid.append(stack.pay(order["order_id"], f"cust-{uid}", 100)["payment_id"])

    poster = threading.Thread(target=post_payments)
    poster.start()
    eventually(lambda: len(paid) >= 10)
    stack["notifications"].kill()  # SIGKILL: no chance to finish or ack anything
    poster.join()
    stack["notifications"].start()  # same CONSUMER_NAME: it resumes its own pending entries
    eventually(lambda: len(stack.notifications()) == 60, timeout=30)
    notified = [n["payment_id"] for n in stack.notifications()]
    assert sorted(notified) == sorted(paid)
    client = stack.redis.client()
    eventually(lambda: client.xpending("{payments}:notifications", "notifications")["pending"] == 0)


def test_two_notification_replicas_share_the_load_without_duplicates(
    fresh_stack: Stack, uid: str
) -> None:
    stack = fresh_stack
    stack.add("notifications", name="notifications-2")
    order = stack.place_order(f"cust-{uid}", total=10**9)
    paid = [stack.pay(order["order_id"], f"cust-{uid}", 100)["payment_id"] for _ in range(40)]
    eventually(lambda: len(stack.notifications()) == 40, timeout=30)
    assert sorted(n["payment_id"] for n in stack.notifications()) == sorted(paid)

    def handled(replica: str) -> int:
        ready = httpx.get(f"{stack[replica].url}/ready").json()
        return ready["consumers"][0]["handled"]

    shares = [handled("notifications"), handled("notifications-2")]
    assert sum(shares) == 40
    assert min(shares) > 0, f"one replica did all the work: {shares}"
