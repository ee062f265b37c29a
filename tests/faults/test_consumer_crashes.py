"""Faults 1 to 3: a consumer killed (SIGKILL) at the worst moments.

Each test records the payments that payments acknowledged (201) and ends with the exactly-once
check: each one copied once into orders and notified once per event, nothing pending.
"""

from collections.abc import Callable

import httpx
import pytest

from tests.helpers import Stack, Traffic, check_exactly_once, eventually


def pay(stack: Stack, order_id: str, count: int) -> list[str]:
    return [stack.pay(order_id, "cust", 100)["payment_id"] for _ in range(count)]


@pytest.mark.parametrize("consumer", ["orders", "notifications"])
def test_killed_after_the_effect_before_the_ack_redelivery_changes_nothing(
    make_stack: Callable[..., Stack], consumer: str
) -> None:
    stack = make_stack(*(s for s in ("payments", "orders", "notifications") if s != consumer))
    victim = stack.add(consumer, crash=("after", 3), wait=True)
    order = stack.place_order("cust", total=10**9) if consumer == "orders" else None
    order_id = order["order_id"] if order else "o-1"
    paid = pay(stack, order_id, 5)
    eventually(lambda: victim.exited)
    assert "crashing after the effect of event 3" in victim.log()
    stack.restart(consumer)  # same consumer name: it first re-reads its own pending entries
    check_exactly_once(stack, paid)
    if order:
        stack.wait_order(order["order_id"], "partially_paid", 500)


def test_killed_before_the_effect_the_entry_is_handled_after_restart(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("payments", "orders")
    victim = stack.add("notifications", crash=("before", 2))
    paid = pay(stack, "o-1", 4)
    eventually(lambda: victim.exited)
    stack.restart("notifications")
    check_exactly_once(stack, paid)


def test_killed_before_the_effect_the_other_replica_claims_the_entry(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("payments", "orders", "notifications")  # the replica that survives
    victim = stack.add("notifications", name="notifications-2", crash=("before", 1))
    # Both replicas read from the group; keep paying until the victim got one and died.
    paid: list[str] = []

    def victim_got_one() -> bool:
        paid.extend(pay(stack, "o-1", 1))
        return victim.exited

    eventually(victim_got_one, interval=0.2)
    # No restart: the survivor claims the dead replica's entry once it is idle CLAIM_IDLE_MS.
    check_exactly_once(stack, paid, timeout=30)
    ready = httpx.get(f"{stack['notifications'].url}/ready").json()
    assert ready["consumers"][0]["handled"] == len(paid)


def test_a_replica_killed_in_the_middle_of_a_burst_of_1000(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("payments", "orders", "notifications")
    stack.add("notifications", name="notifications-2")
    stack.add("orders", name="orders-2")
    traffic = Traffic(stack, "o-burst", "cust", total=1000, threads=8).start()
    eventually(lambda: traffic.count() >= 300, timeout=60)
    stack["notifications-2"].kill()
    stack["orders-2"].kill()
    paid = traffic.wait()
    assert len(paid) >= 1000
    check_exactly_once(stack, paid, timeout=60)
