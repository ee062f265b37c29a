"""Fault 7: a group created late sees the history; a pending entry trimmed away is reported."""

from collections.abc import Callable
from typing import Any

import httpx

from tests.helpers import Stack, check_exactly_once, eventually


def test_consumers_started_after_the_events_see_the_history(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("payments")
    paid = [stack.pay("o-early", "cust", 100)["payment_id"] for _ in range(5)]
    stack.add("orders")
    stack.add("notifications")
    check_exactly_once(stack, paid)


def test_a_pending_entry_trimmed_by_retention_is_reported_and_the_loop_goes_on(
    make_stack: Callable[..., Stack],
) -> None:
    # Small nodes so that approximate trimming (MAXLEN ~) trims after a few dozen entries.
    stack = make_stack(
        "payments", env={"STREAM_MAXLEN": "10"}, redis_args=("--stream-node-max-entries", "5")
    )
    victim = stack.add("orders", crash=("before", 1))
    first = stack.pay("o-1", "cust", 100)["payment_id"]
    eventually(lambda: victim.exited)  # it read the entry, then died: the entry is pending
    admin = stack.redis.client()
    [pending] = admin.xpending_range("{payments}:state", "orders", "-", "+", 10)
    rest = [stack.pay("o-1", "cust", 100)["payment_id"] for _ in range(40)]
    assert admin.xrange("{payments}:state", "-", pending["message_id"]) == []  # trimmed away
    stack.restart("orders")

    def reported_lost() -> dict[str, Any] | None:
        response = httpx.get(f"{stack['orders'].url}/ready")
        consumer = response.json()["consumers"][0] if response.status_code == 200 else {}
        return consumer if consumer.get("lost") == 1 else None

    consumer = eventually(reported_lost)
    assert consumer is not None
    assert consumer["state"] == "running"
    assert "was trimmed before it was handled: lost" in stack["orders"].log()
    # The loop goes on: a payment after the loss reaches the cache.
    latest = stack.pay("o-1", "cust", 100)["payment_id"]
    eventually(
        lambda: httpx.get(f"{stack['orders'].url}/cache/payments/{latest}").status_code == 200
    )
    assert httpx.get(f"{stack['orders'].url}/cache/payments/{first}").status_code == 404
    assert admin.xpending("{payments}:state", "orders")["pending"] == 0
    # Of the traffic that pushed it out, what retention kept reached the cache too.
    kept = {f[b"subject"].decode() for _, f in admin.xrange("{payments}:state")} - {latest}
    assert kept, "retention keeps some entries"
    assert kept <= set(rest)

    def cached(payment_id: str) -> bool:
        return httpx.get(f"{stack['orders'].url}/cache/payments/{payment_id}").status_code == 200

    eventually(lambda: all(cached(payment_id) for payment_id in kept))
