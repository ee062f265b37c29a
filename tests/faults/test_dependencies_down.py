"""Faults 4 and 5: payments down while notifications calls back; Redis killed under traffic."""

import re
import signal
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from tests.helpers import Stack, Traffic, check_exactly_once, eventually

CAP = 2.0


def consumer_report(stack: Stack, name: str) -> dict[str, Any]:
    """The consumer's figures from /ready (200 when running, 503 with them in ``errors``)."""
    body = httpx.get(f"{stack[name].url}/ready").json()
    [report] = body["consumers"] if "consumers" in body else body["errors"]
    return dict(report)


def test_payments_down_for_10s_events_wait_with_capped_backoff_then_all_arrive(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(env={"BACKOFF_BASE_S": "0.1", "BACKOFF_CAP_S": str(CAP)})
    order = stack.place_order("cust", total=10**9)
    stack["notifications"].signal(signal.SIGSTOP)  # so nothing is notified before payments stops
    paid = [stack.pay(order["order_id"], "cust", 100)["payment_id"] for _ in range(5)]
    stack["payments"].signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    stack["notifications"].signal(signal.SIGCONT)
    delays: set[float] = set()  # each backoff the consumer reported while it waited

    def down_long_enough_and_backoff_capped() -> bool:
        report = consumer_report(stack, "notifications")
        assert report["state"] == "waiting", report
        if report["retry_in_s"] is not None:
            delays.add(report["retry_in_s"])
        long_enough = time.monotonic() - stopped_at >= 10
        capped = {round(d, 3) for d in delays if d >= CAP / 2}
        return long_enough and report["waits"] >= 5 and len(capped) >= 2

    eventually(down_long_enough_and_backoff_capped, timeout=40)
    stack["orders"].wait_health(200)
    stack.wait_order(order["order_id"], "partially_paid", 500)  # orders never needed payments
    assert stack.notifications() == []
    stack["payments"].kill()  # then gone for good: refused connections instead of silence
    refused = re.compile(r"payments unreachable \(Connect(Error|Timeout)\)")
    eventually(lambda: refused.search(consumer_report(stack, "notifications")["last_error"]))
    stack.restart("payments")
    check_exactly_once(stack, paid, timeout=30)

    assert max(delays) <= CAP  # the wait grows but never past the cap…
    assert len({round(d, 3) for d in delays if d >= CAP / 2}) > 1  # …and is jittered
    report = consumer_report(stack, "notifications")
    assert (report["state"], report["retry_in_s"]) == ("running", None)
    assert report["dead_lettered"] == 0


def test_redis_killed_and_restarted_under_traffic_loses_no_acknowledged_payment(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    traffic = Traffic(stack, "o-redis", "cust").start()
    eventually(lambda: traffic.count() >= 100)
    stack.redis.kill()  # SIGKILL; appendfsync always, so every acknowledged write is on disk
    for service in stack.services.values():
        service.wait_health(503)
        # Not ready (no requests for it), yet alive (no restart): the outage is Redis's.
        ready = httpx.get(f"{service.url}/ready")
        assert ready.status_code == 503, f"{service.name} /ready: {ready.text}"
        assert ready.json()["detail"] == "redis unreachable"
        assert str(stack.redis.port) not in ready.text  # where Redis is stays private
        assert httpx.get(f"{service.url}/live").status_code == 200
    before_restart = traffic.count()
    stack.redis.start()
    for service in stack.services.values():  # nobody restarted them: they reconnect
        service.wait_health(200)
    # While the consumers come back, /ready says what is wrong in the service's words, never
    # where Redis is, and once they are back it says nothing is. (Failed before: the consumers'
    # and workers' last_error was the exception's text, host and port, and it stayed.)
    said: list[str] = []

    def recovered(name: str) -> bool:  # its workers too, which do not decide readiness
        ready = httpx.get(f"{stack[name].url}/ready")
        said.append(ready.text)
        workers = ready.json().get("workers", []) if ready.status_code == 200 else []
        return ready.status_code == 200 and all(w["state"] == "running" for w in workers)

    for name in ("orders", "notifications"):
        eventually(partial(recovered, name), what=f"{name} ready again")
        report = httpx.get(f"{stack[name].url}/ready").json()
        assert [c["last_error"] for c in report["consumers"]] == [None], report
        assert all(w["last_error"] is None for w in report["workers"]), report
    assert not [text for text in said if str(stack.redis.port) in text]
    eventually(lambda: traffic.count() >= before_restart + 100)
    paid = traffic.stop()
    assert traffic.refused["503"] > 0, "payments answered 503 while Redis was down"
    check_exactly_once(stack, paid)
    for name in ("payments", "orders", "notifications"):
        ready = httpx.get(f"{stack[name].url}/ready")
        assert ready.status_code == 200, ready.text


def test_a_consumer_the_acl_refuses_stops_its_process_with_the_reason(
    make_stack: Callable[..., Stack],
) -> None:
    """NOPERM will not pass by itself: rather than stay up consuming nothing (and look alive),
    the process exits non-zero and says why, for a supervisor to restart or an operator to see."""
    stack = make_stack("payments", "orders")
    stack.redis.client().execute_command("ACL", "SETUSER", "orders", "clearselectors")
    orders = stack["orders"]
    eventually(lambda: orders.exited, timeout=20, what="orders exits")
    assert orders.process is not None
    assert orders.process.returncode == 1
    assert "orders stopped: NoPermissionError" in orders.log()


def test_without_a_replica_to_confirm_writes_each_503_says_how_to_retry_without_a_duplicate(
    make_stack: Callable[..., Stack],
) -> None:
    """Replicas required (REDIS_MIN_REPLICAS_ACK=1), none attached: every write is stored on the
    primary and not confirmed. Failed before: a keyless POST answered 503 "retry with the same
    Idempotency-Key" (there was none) and no payment id, and a client that retried made a
    second payment. Now a keyless write says where it was stored (Location)."""
    stack = make_stack(
        "payments", "orders", env={"REDIS_MIN_REPLICAS_ACK": "1", "REDIS_WAIT_MS": "20"}
    )
    body = {"order_id": "o-1", "customer_id": "c-1", "amount": 100, "currency": "EUR"}
    payments = stack["payments"].url
    keyless = httpx.post(f"{payments}/payments", json=body)
    assert keyless.status_code == 503, keyless.text
    location = keyless.headers["Location"]
    assert keyless.headers["Retry-After"] == "1"
    assert keyless.json()["detail"] == (
        f"stored as {location}, but not yet confirmed by a replica: read it there before "
        "trying again (a retry would make a second one)"
    )
    stored = httpx.get(f"{payments}{location}")  # on the primary: readable
    assert (stored.status_code, stored.json()["amount"]) == (200, 100)
    refund = httpx.post(f"{payments}{location}/refunds", json={"amount": 10})
    assert (refund.status_code, refund.headers["Location"]) == (503, location)
    keyed = httpx.post(f"{payments}/payments", json=body, headers={"Idempotency-Key": "k-1"})
    assert keyed.status_code == 503
    assert "Location" not in keyed.headers  # the key is the way to retry it
    assert "retry with the same Idempotency-Key" in keyed.json()["detail"]
    order = httpx.post(f"{stack['orders'].url}/orders", json={"customer_id": "c-1", "total": 100})
    assert order.status_code == 503, order.text
    assert httpx.get(f"{stack['orders'].url}{order.headers['Location']}").status_code == 200


def test_with_redis_stalled_every_request_answers_503_within_its_deadline(
    make_stack: Callable[..., Stack],
) -> None:
    """Failed before: with Redis stalled (SIGSTOP: connections open, nothing answered), a POST
    waited for three socket timeouts and answered 503 after 30 s."""
    stack = make_stack("payments", "orders", env={"REQUEST_TIMEOUT_S": "2"})
    order = stack.place_order("c-1", 100)
    stack.redis.pause()
    try:
        for method, url, body in (
            ("POST", f"{stack['payments'].url}/payments",
             {"order_id": order["order_id"], "customer_id": "c-1", "amount": 100}),
            ("GET", f"{stack['orders'].url}/orders/{order['order_id']}", None),
        ):  # fmt: skip
            started = time.monotonic()
            answer = httpx.request(method, url, json=body, timeout=30)
            took = time.monotonic() - started
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "1"
            assert answer.json()["detail"] == (
                "no answer within 2 s (a dependency is slow): retry shortly"
            )
            assert 2 <= took < 5, f"{method} answered after {took:.1f} s"  # not 30
    finally:
        stack.redis.resume()
    stack.pay(order["order_id"], "c-1", 100)  # and all is well once it answers again
