"""Fault 8 (SIGTERM during a burst) and fault 9 (a soak with a consumer kill and a Redis
restart). The soak runs SOAK_PAYMENTS payments: 1,000 in `make test`, 10,000 in `make soak`."""

import os
import signal
import time
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import Stack, Traffic, check_exactly_once, eventually


def handled(stack: Stack, name: str) -> int:
    response = httpx.get(f"{stack[name].url}/ready")
    return int(response.json()["consumers"][0]["handled"]) if response.status_code == 200 else 0


def test_sigterm_during_a_burst_stops_in_bounded_time_and_loses_nothing(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    traffic = Traffic(stack, "o-term", "cust", total=600).start()
    eventually(lambda: handled(stack, "notifications") >= 100, timeout=60)
    started = time.monotonic()
    code = stack["notifications"].stop(timeout=15)  # SIGTERM
    took = time.monotonic() - started
    # uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit status
    # is "terminated by SIGTERM" after a clean shutdown.
    assert code in (0, -signal.SIGTERM)
    assert took < 10, f"took {took:.1f}s to stop"
    assert "Application shutdown complete" in stack["notifications"].log()
    stack.restart("notifications")
    paid = traffic.wait()
    check_exactly_once(stack, paid)


@pytest.mark.slow
def test_soak_with_a_consumer_kill_and_a_redis_restart(make_stack: Callable[..., Stack]) -> None:
    total = int(os.environ.get("SOAK_PAYMENTS", "1000"))
    stack = make_stack()
    traffic = Traffic(stack, "o-soak", "cust", total=total, threads=8).start()
    eventually(lambda: traffic.count() >= total // 3, timeout=total / 10)
    stack["notifications"].kill()
    stack.restart("notifications")
    eventually(lambda: traffic.count() >= 2 * total // 3, timeout=total / 10)
    stack.redis.kill()
    stack["payments"].wait_health(503)
    stack.redis.start()
    paid = traffic.wait(timeout=total / 5)
    print(f"soak: {len(paid)} acknowledged, refused: {dict(traffic.refused)}")
    check_exactly_once(stack, paid, timeout=max(60, total / 50))
