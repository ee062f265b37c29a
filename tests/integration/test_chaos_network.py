"""The chaos run's proxies (chaos.network) between a real Redis and a real client: each fault
does what the nemesis counts on, and healing restores the link."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from chaos.network import Network, Proxy
from harness import RedisServer, eventually


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
