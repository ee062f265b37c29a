"""Failovers on a real Redis Cluster under traffic: a primary SIGKILLed, and a manual
CLUSTER FAILOVER. Nothing acknowledged is lost, nothing is applied twice, and no service
needs a restart: each rides through on its own (its clients relearn the layout, its scripts
are loaded again on the new primary, its consumers wait and resume).

Each test prints how many POSTs were refused (503, with Retry-After) during the failover.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.helpers import RedisServer, Stack, Traffic, check_exactly_once, eventually

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


def grown(traffic: Traffic, by: int) -> Callable[[], bool]:
    """A check: ``by`` more payments were acknowledged than when it was made."""
    start = traffic.count()
    return lambda: traffic.count() >= start + by


def promoted(stack: Stack, node: RedisServer) -> bool:
    return stack.cluster.role(node) == "master"


def test_every_shards_primary_killed_in_turn_behind_a_lagging_replica_loses_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each of the three primaries in turn (each holds some of payments', orders' and
    notifications' partitions): its replica stops taking the replication stream (SIGSTOP), the
    traffic goes on, the primary is SIGKILLed, the replica resumes and is promoted without the
    writes it missed, and the lost node comes back as its replica.

    Failed before: orders and notifications acknowledged an entry once its effect was on their
    shard's primary; the promoted replica never had the effect and nothing delivered the entry
    again (an order paid, then pending_payment for good). Now an entry is acknowledged only
    once the effect's replicas confirm it, and an order placed (201) is confirmed likewise."""
    order = stack.place_order("cust-failover", 10**12)
    traffic = Traffic(stack, order["order_id"], "cust-failover").start()
    eventually(lambda: traffic.count() >= 50, timeout=60, what="traffic before the faults")
    primaries = [n for n in stack.cluster.running() if stack.cluster.role(n) == "master"]
    placed: dict[str, int] = {}  # order id or Location → status, placed while a replica lags
    report = []
    for victim in primaries:
        replica = stack.cluster.replica_of(victim)
        replica.pause()  # lags: it takes none of the primary's writes from here
        lagging = grown(traffic, by=20)
        for _ in range(5):
            answer = httpx.post(
                f"{stack['orders'].url}/orders",
                json={"customer_id": "cust-lag", "total": 100, "currency": "EUR"},
            )
            assert answer.status_code in (201, 503), answer.text
            where = (
                answer.json()["order_id"]
                if answer.status_code == 201
                else answer.headers["Location"].rsplit("/", 1)[1]
            )
            placed[where] = answer.status_code
        eventually(lagging, timeout=60, what="traffic while the replica lags")
        killed_at = time.monotonic()
        stack.cluster.kill(victim)  # what it had not sent its replica is gone with it
        replica.resume()
        eventually(partial(promoted, stack, replica), timeout=30, what="the replica promoted")
        promoted_after = time.monotonic() - killed_at
        victim.start()  # an operator (or Kubernetes) restarts it: it rejoins as a replica
        eventually(stack.cluster.healthy, timeout=30, what="the old primary back as a replica")
        eventually(grown(traffic, by=50), timeout=60, what="traffic after the failover")
        report.append(f":{victim.port} → :{replica.port} in {promoted_after:.1f} s")
    paid = traffic.stop()
    with capsys.disabled():
        print(
            f"\n[failover] each primary SIGKILLed behind a lagging replica ({'; '.join(report)});"
            f" {len(paid)} payments acknowledged (201), refused: {dict(traffic.refused)};"
            f" orders placed meanwhile: {sorted(placed.values())}"
        )
    check_exactly_once(stack, paid)
    for order_id, status in placed.items():
        found = httpx.get(f"{stack['orders'].url}/orders/{order_id}").status_code
        assert status == 503 or found == 200, f"order {order_id} answered 201, then {found}"
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
