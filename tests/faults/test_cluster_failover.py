"""Failovers on a real Redis Cluster under traffic: a primary SIGKILLed, and a manual
CLUSTER FAILOVER. Nothing acknowledged is lost, nothing is applied twice, and no service
needs a restart: each rides through on its own (its clients relearn the layout, its scripts
are loaded again on the new primary, its consumers wait and resume).

Each test prints how many POSTs were refused (503, with Retry-After) during the failover.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Stack, Traffic, check_exactly_once, eventually

SERVICES = ("payments", "orders", "notifications")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    system = Stack(tmp_path, cluster=True, partitions=3).start()
    yield system
    system.stop()


def still_running_and_ready(stack: Stack) -> None:
    """The same processes as at the start (none exited, none was restarted), each ready with
    every consumer running."""
    for name in SERVICES:
        assert not stack[name].exited, f"{name} exited: {stack[name].log()[-2000:]}"
        ready = httpx.get(f"{stack[name].url}/ready")
        assert ready.status_code == 200, f"{name}: {ready.text}"


def test_a_primary_killed_under_traffic_loses_no_acknowledged_payment(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    order = stack.place_order("cust-failover", 10**12)
    traffic = Traffic(stack, order["order_id"], "cust-failover").start()
    eventually(lambda: traffic.count() >= 100, timeout=60, what="traffic before the kill")
    victim = stack.cluster.primary_of(stack.partitions.tag("payments", 0))
    replica = stack.cluster.replica_of(victim)
    before, killed_at = traffic.count(), time.monotonic()
    stack.cluster.kill(victim)  # SIGKILL: whatever it had not sent its replica is gone
    eventually(lambda: stack.cluster.role(replica) == "master", timeout=30, what="promotion")
    promoted_after = time.monotonic() - killed_at
    # The promoted primary has no replica: with REDIS_MIN_REPLICAS_ACK=1 its partitions' POSTs
    # answer 503 until one is back. An operator (or Kubernetes) restarts the lost node: it
    # rejoins as the new primary's replica.
    victim.start()
    eventually(stack.cluster.healthy, timeout=30, what="the old primary back as a replica")
    eventually(lambda: traffic.count() >= before + 200, timeout=60, what="traffic after it")
    recovered_after = time.monotonic() - killed_at
    paid = traffic.stop()
    with capsys.disabled():
        print(
            f"\n[failover] primary :{victim.port} SIGKILLed under traffic; replica :{replica.port}"
            f" promoted after {promoted_after:.1f} s, all partitions taking payments again after"
            f" {recovered_after:.1f} s; {len(paid)} payments acknowledged (201), refused:"
            f" {dict(traffic.refused)}"
        )
    assert stack.cluster.role(victim) == "slave"
    check_exactly_once(stack, paid)
    still_running_and_ready(stack)


def test_a_manual_failover_under_traffic_loses_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """CLUSTER FAILOVER: the replica catches up, then takes over; the old primary becomes its
    replica. Clients see MOVED (followed) and NOSCRIPT (scripts loaded again)."""
    order = stack.place_order("cust-manual", 10**12)
    traffic = Traffic(stack, order["order_id"], "cust-manual").start()
    eventually(lambda: traffic.count() >= 100, timeout=60, what="traffic before the failover")
    primary = stack.cluster.primary_of(stack.partitions.tag("payments", 1))
    replica = stack.cluster.replica_of(primary)
    before = traffic.count()
    stack.cluster.failover(replica)
    eventually(lambda: traffic.count() >= before + 200, timeout=60, what="traffic after it")
    paid = traffic.stop()
    with capsys.disabled():
        print(
            f"\n[failover] CLUSTER FAILOVER of :{primary.port} to :{replica.port} under traffic;"
            f" {len(paid)} payments acknowledged (201), refused: {dict(traffic.refused)}"
        )
    assert stack.cluster.primary_of(stack.partitions.tag("payments", 1)).port == replica.port
    check_exactly_once(stack, paid)
    still_running_and_ready(stack)
