"""The chaos run's proxies (chaos.network) between a real Redis and a real client: each fault
does what the nemesis counts on, and healing restores the link. And the fault events a run
publishes for the console, read back from a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from eventkit import Event

from chaos.faults import FAULTS_STREAM, HEALED, INJECTED, Announcer
from chaos.nemesis import Fault
from harness import RedisServer, eventually
from harness.network import Network, Proxy


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[Proxy]:
    net = Network()
    yield net.proxy("redis", redis_server.port)
    net.close()


def client(proxy: Proxy, timeout: float = 2.0) -> redis.Redis:
    # retries=0: one attempt per command, as the services' clients (eventkit.connection)
    return redis.Redis(port=proxy.port, socket_timeout=timeout, retry=None)


def test_latency_is_added_and_healed(proxy: Proxy) -> None:
    link = client(proxy)
    proxy.set_delay(0.2)
    eventually(lambda: _took(link) >= 0.4, timeout=5, what="0.2 s each way")
    proxy.heal()
    eventually(lambda: _took(link) < 0.1, timeout=5, what="no delay")


def test_a_partition_holds_every_byte_until_it_heals(proxy: Proxy, uid: str) -> None:
    link = client(proxy, timeout=0.5)
    proxy.blackhole()
    with pytest.raises(redis.TimeoutError):
        link.set(uid, "during")
    proxy.heal()
    assert eventually(lambda: client(proxy).ping(), timeout=5, what="the link back")


def test_refuse_fails_fast_and_heals(proxy: Proxy) -> None:
    client(proxy).ping()
    proxy.refuse()

    def refused_at_once() -> bool:
        started = time.monotonic()
        try:
            client(proxy).ping()
        except redis.ConnectionError:
            return time.monotonic() - started < 0.5  # closed, not left to time out
        return False

    eventually(refused_at_once, timeout=5, what="connections refused")
    proxy.heal()
    assert eventually(lambda: client(proxy).ping(), timeout=5, what="accepted again")


def test_a_dropped_reply_leaves_the_effect_and_cuts_the_connection(
    proxy: Proxy, redis_server: RedisServer, uid: str
) -> None:
    link = client(proxy)
    link.ping()
    proxy.set_drop(1.0)
    with pytest.raises(redis.ConnectionError):
        link.incr(uid)
    proxy.heal()
    assert redis_server.client().get(uid) == b"1"  # the server ran it; the client never heard
    assert proxy.dropped >= 1


def _took(link: redis.Redis) -> float:
    started = time.monotonic()
    link.ping()
    return time.monotonic() - started


def test_fault_events_reach_their_stream_in_order(redis_server: RedisServer, uid: str) -> None:
    """The announcer writes each fault's events to {chaos}:faults as eventkit envelopes."""

    class Deployment:  # what the announcer asks of one: an admin client of the run's Redis
        def admin(self) -> redis.Redis:
            return redis_server.client()

    redis_server.client().delete(FAULTS_STREAM)
    announcer = Announcer(Deployment(), f"run-{uid}", 5)  # type: ignore[arg-type]
    fault = Fault(1.0, "latency", "redis:orders", 2.0, {"delay_s": 0.1})
    announcer.tell(INJECTED, fault, fault.target, fault.params)
    announcer.tell(HEALED, fault, fault.target, {"seconds": 2.0})
    announcer.close()
    entries = redis_server.client().xrange(FAULTS_STREAM)
    events = [Event.from_fields(fields) for _, fields in entries]
    assert [e.type for e in events] == ["FaultInjected", "FaultHealed"]
    assert events[0].data == {
        "run": f"run-{uid}",
        "seed": 5,
        "kind": "latency",
        "target": "redis:orders",
        "detail": {"delay_s": 0.1},
    }
    assert announcer.published == 2
