"""The whole flow on a real Redis Cluster, in cluster mode with three partitions: the same code
and scripts as on one Redis, configured otherwise (REDIS_MODE=cluster, STREAM_PARTITIONS=3).

Failovers under traffic are in tests/faults/test_cluster_failover.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import Stack, check_exactly_once, eventually, sse

PARTITIONS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    system = Stack(tmp_path_factory.mktemp("cluster"), cluster=True, partitions=PARTITIONS)
    yield system.start("payments", "orders", "notifications", "console")
    system.stop()


def test_a_payment_pays_its_order_and_notifies_on_a_cluster(stack: Stack) -> None:
    order = stack.place_order("cust-cluster", 2500)
    payment = stack.pay(order["order_id"], "cust-cluster", 2500)
    stack.wait_order(order["order_id"], "paid", 2500)
    notes = eventually(lambda: stack.notifications(payment_id=payment["payment_id"]))
    assert [n["kind"] for n in notes] == ["payment_received"]
    stack.refund(payment["payment_id"], 500)
    stack.wait_order(order["order_id"], "partially_refunded", 2000)
    check_exactly_once(stack, [payment["payment_id"]])


def test_an_order_is_paid_by_payments_of_different_partitions(stack: Stack) -> None:
    """An order's payments hash to any partition: each partition's consumer keeps its own
    copies, and reading the order gathers them from all."""
    order = stack.place_order("cust-spread", 1000)
    spread = stack.pay_into_partitions(
        order["order_id"], "cust-spread", 100, partitions=2, at_most=9
    )
    rest = stack.pay(order["order_id"], "cust-spread", 1000 - 100 * len(spread))
    stack.wait_order(order["order_id"], "paid", 1000)
    check_exactly_once(stack, [*spread, rest["payment_id"]])


def test_each_service_s_partitions_spread_over_more_than_one_primary(stack: Stack) -> None:
    """No single slot, or primary, holds all of a service's data: payments' streams, orders'
    copies and notifications' records are spread by partition. Not one partition per primary:
    three tags land where their slots fall (docs/scaling.md, "How to pick P")."""
    order = stack.place_order("cust-slots", 3000)
    paid = [stack.pay(order["order_id"], "cust-slots", 100)["payment_id"] for _ in range(30)]
    stack.wait_order(order["order_id"], "paid", 3000)
    check_exactly_once(stack, paid)
    for namespace in ("payments", "orders", "notifications"):
        tags = [stack.partitions.tag(namespace, p) for p in stack.partitions]
        primaries = {stack.cluster.primary_of(tag).port for tag in tags}
        assert len(primaries) >= 2, f"{namespace}: all {len(tags)} partitions on one primary"
    admin = stack.admin()
    try:
        for partition in stack.partitions:
            assert admin.xlen(f"{{payments-{partition}}}:state") > 0, partition
    finally:
        admin.close()


def test_reads_across_partitions_merge_newest_first(stack: Stack) -> None:
    """A customer's notifications come from every partition their payments are in, newest
    first, as on one Redis."""
    order = stack.place_order("cust-merge", 500)
    paid = [stack.pay(order["order_id"], "cust-merge", 100)["payment_id"] for _ in range(5)]
    check_exactly_once(stack, paid)
    notes = stack.notifications(customer_id="cust-merge")
    assert {n["payment_id"] for n in notes} == set(paid)
    times = [n["time"] for n in notes]
    assert times == sorted(times, reverse=True)


def test_every_service_is_ready_with_a_consumer_per_partition(stack: Stack) -> None:
    for name in ("orders", "notifications"):
        ready = httpx.get(f"{stack[name].url}/ready")
        assert ready.status_code == 200, ready.text
        streams = {c["stream"] for c in ready.json()["consumers"]}
        assert len(streams) == PARTITIONS, streams


async def test_the_console_follows_every_partition_on_the_cluster(stack: Stack) -> None:
    """The live page reads every partition's streams from the cluster, one XREAD per stream,
    and shows them in the one "state" lane."""
    order = stack.place_order("cust-console", 10**6)
    stack.pay_into_partitions(order["order_id"], "cust-console", 100, partitions=3, at_most=40)
    seen: set[int] = set()
    async with httpx.AsyncClient() as http, sse.stream(http, stack["console"].url) as response:
        events = sse.events(response)
        hello = (await anext(events)).json()
        # 2 streams and 2 dead letters, P of each; and a chaos run's faults, one stream
        assert len(hello["streams"]) == 4 * PARTITIONS + 1

        async def state_entries_of_every_partition() -> None:
            async for event in events:
                if event.event == "entry" and (entry := event.json())["stream"] == "state":
                    seen.add(entry["partition"])
                    if len(seen) == PARTITIONS:
                        return

        await asyncio.wait_for(state_entries_of_every_partition(), timeout=20)
