"""A real Prometheus scraping the real services: every target up, the lag and event metrics
true to what happened (a stalled group's lag rises, then falls back to 0), the HTTP histogram
by route template, the mail queue and its worker, and every Grafana panel's query running
against what was scraped."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest
from contracts.payments import NOTIFICATION_STREAM

from harness import free_port
from tests.helpers import Stack, eventually
from tests.helpers.prometheus import PrometheusServer, expression, targets

SERVICES = ("payments", "orders", "notifications", "console")


def scrape_config(stack: Stack) -> str:
    jobs = "\n".join(
        f"  - job_name: {name}\n"
        f"    static_configs:\n"
        f"      - targets: ['127.0.0.1:{stack[name].port}']"
        for name in SERVICES
    )
    return f"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{jobs}\n"


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, PrometheusServer]]:
    tmp_path = tmp_path_factory.mktemp("watched")
    # One entry a read for notifications: while it waits for payments, the rest stays undelivered.
    # No SMTP server listens on SMTP_PORT: every mail is retried, then given up on.
    env = {"CONSUMER_BATCH_SIZE": "1", "SMTP_PORT": str(free_port()), "MAIL_MAX_ATTEMPTS": "2"}
    stack = Stack(tmp_path / "stack", env=env).start(*SERVICES)
    prometheus = PrometheusServer(tmp_path, scrape_config(stack))
    try:
        prometheus.start()
        yield stack, prometheus
    finally:
        prometheus.stop()
        stack.stop()


def value(prometheus: PrometheusServer, expr: str) -> float | None:
    """The query's one value now, or None while it has no data."""
    result = prometheus.query(expr).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_sees_the_system_as_it_is(
    watched: tuple[Stack, PrometheusServer], uid: str
) -> None:
    stack, prometheus = watched
    eventually(lambda: value(prometheus, "count(up == 1)") == len(SERVICES), timeout=20)
    order = stack.place_order(f"cust-{uid}", total=10**6)
    stack.pay(order["order_id"], f"cust-{uid}", 100)
    handled = 'sum(eventkit_consumer_events_total{group="orders",outcome="handled"})'
    eventually(lambda: (value(prometheus, handled) or 0) >= 1, timeout=20)

    # Stall notifications: with payments stopped its call back waits (its consumer is up,
    # scrapeable, not running), and the payments made just before pile up behind it.
    group = f'group="notifications",stream="{NOTIFICATION_STREAM}"'
    lag = f"max(eventkit_consumer_lag_entries{{{group}}})"
    age = f"max(eventkit_consumer_lag_seconds{{{group}}})"
    running = f'eventkit_consumer_running{{{group},consumer="notifications"}}'
    stack["notifications"].signal(signal.SIGSTOP)  # so that it reads nothing of them yet
    for _ in range(5):
        stack.pay(order["order_id"], f"cust-{uid}", 100)
    stack["payments"].signal(signal.SIGSTOP)
    stack["notifications"].signal(signal.SIGCONT)
    try:
        eventually(lambda: (value(prometheus, lag) or 0) >= 3, timeout=20)
        eventually(lambda: (value(prometheus, age) or 0) > 1, timeout=20)
        eventually(lambda: value(prometheus, running) == 0, timeout=20)  # waiting, not running
    finally:
        stack["payments"].signal(signal.SIGCONT)
    eventually(lambda: value(prometheus, lag) == 0 and value(prometheus, age) == 0, timeout=30)
    eventually(lambda: value(prometheus, running) == 1, timeout=20)

    # Routes as templates, never a raw path with an id in it.
    routes = prometheus.query("count by (route) (http_server_request_duration_seconds_count)")
    names = {series["metric"]["route"] for series in routes.json()["data"]["result"]}
    assert {"/payments", "/orders", "/payments/{payment_id}"} <= names
    assert not any(order["order_id"] in name for name in names)


def test_the_mail_queue_and_its_worker_are_scraped(
    watched: tuple[Stack, PrometheusServer], uid: str
) -> None:
    """Notifications reports its mail queue, read from Redis at each scrape, and its worker,
    which /ready lists too. With no SMTP server, a payment's mail is retried, then failed."""
    stack, prometheus = watched
    queue = 'queue="{notifications}:mail"'
    eventually(lambda: value(prometheus, f"sum(eventkit_queue_worker_running{{{queue}}})") == 1)
    # Registered in Redis: polled too, since a worker stopped for a while by the test above
    # (SIGSTOP) may have been reaped and registers again at its next heartbeat.
    eventually(lambda: value(prometheus, f"max(eventkit_queue_workers{{{queue}}})") == 1)
    ready = httpx.get(f"{stack['notifications'].url}/ready").json()
    assert [(w["queue"], w["state"]) for w in ready["workers"]] == [
        ("{notifications}:mail", "running")
    ]
    failed = f'max(eventkit_queue_length{{{queue},place="failed"}})'
    before = value(prometheus, failed) or 0

    customer = f"cust-{uid}"
    assert stack.set_contact(customer, f"{uid}@example.com").status_code == 200
    order = stack.place_order(customer, total=100)
    stack.pay(order["order_id"], customer, 100)
    eventually(lambda: value(prometheus, failed) == before + 1, timeout=30)
    retried = f'sum(eventkit_queue_worker_messages_total{{{queue},outcome="retried"}})'
    assert (value(prometheus, retried) or 0) >= 1
    assert value(prometheus, f'max(eventkit_queue_length{{{queue},place="ready"}})') == 0
    [given_up] = [m for m in stack.failed_mail() if m["payload"]["to"] == f"{uid}@example.com"]
    assert given_up["attempts"] == 2


def test_every_dashboard_query_runs_against_the_scraped_services(
    watched: tuple[Stack, PrometheusServer], uid: str
) -> None:
    stack, prometheus = watched
    eventually(lambda: value(prometheus, 'up{job="orders"}') == 1, timeout=20)
    order = stack.place_order(f"cust-{uid}", total=100)
    stack.pay(order["order_id"], f"cust-{uid}", 100)
    failed = {}
    for name, target in targets():
        answer = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expression(target)})
        if answer.status_code != 200 or answer.json()["status"] != "success":
            failed[name] = answer.text
    assert failed == {}
    assert targets(), "the dashboard has queries"
