"""One command, one trace: a payment followed across HTTP and both streams, into the spans a
real OTLP receiver got from the three services; and the same trace id in their JSON logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM

from tests.helpers import RedisServer, ServiceProcess, Stack, eventually
from tests.helpers.otlp import Receiver, Span

SERVICES = ("payments", "orders", "notifications")


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Receiver]]:
    receiver = Receiver().start()
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: export soon, the test waits for the spans
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "debug",  # the consumers write a line per handled event at debug
    }
    stack = Stack(tmp_path_factory.mktemp("traced"), env=env).start(*SERVICES)
    yield stack, receiver
    stack.stop()
    receiver.stop()


def history(stack: Stack, payment_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack['payments'].url}/payments/{payment_id}/events")
    response.raise_for_status()
    return list(response.json())


def trace_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def one(spans: list[Span], **wanted: Any) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, [(s.service, s.kind, s.name) for s in spans])
    return found[0]


def whole_journey(receiver: Receiver, trace_id: str) -> list[Span]:
    """The trace once both groups' process spans and the call back's server span at payments
    arrived (each service exports on its own schedule)."""
    spans = receiver.of_trace(trace_id)
    arrived = {(s.service, s.kind) for s in spans}
    last = {("orders", "CONSUMER"), ("notifications", "CONSUMER"), ("notifications", "CLIENT")}
    got_back = [s for s in spans if s.service == "payments" and s.name.startswith("GET /payments")]
    return spans if got_back and last <= arrived else []


def check_journey(spans: list[Span], command: str) -> None:
    """payments' server span → two sends → each group's process span; notifications' call
    back → payments' server span: parents all the way, and the messaging attributes."""
    server = one(spans, service="payments", kind="SERVER", name=command)
    for stream, group in ((STATE_STREAM, "orders"), (NOTIFICATION_STREAM, "notifications")):
        send = one(spans, service="payments", kind="PRODUCER", name=f"send {stream}")
        assert send.parent_id == server.span_id
        assert send.attributes["messaging.system"] == "redis"
        assert send.attributes["messaging.destination.name"] == stream
        assert send.attributes["messaging.operation.type"] == "send"
        process = one(spans, service=group, kind="CONSUMER", name=f"process {stream}")
        assert process.parent_id == send.span_id
        assert process.attributes["messaging.system"] == "redis"
        assert process.attributes["messaging.destination.name"] == stream
        assert process.attributes["messaging.consumer.group.name"] == group
        assert process.attributes["messaging.client.id"] == group  # the consumer's name
        assert process.attributes["messaging.operation.type"] == "process"
        # The entry id Redis gave the publication, on both ends.
        assert process.attributes["messaging.message.id"] == send.attributes["messaging.message.id"]
    notify = one(spans, service="notifications", kind="CONSUMER")
    call_back = one(spans, service="notifications", kind="CLIENT")
    assert call_back.parent_id == notify.span_id
    answer = one(spans, service="payments", kind="SERVER", name="GET /payments/{payment_id}")
    assert answer.parent_id == call_back.span_id
    assert {s.service for s in spans} == set(SERVICES)


def test_a_payment_and_a_refund_are_one_trace_each_across_the_three_services(
    traced: tuple[Stack, Receiver], uid: str
) -> None:
    stack, receiver = traced
    order = stack.place_order(f"cust-{uid}", total=2500)
    payment = stack.pay(
        order["order_id"], f"cust-{uid}", 2500, **{"X-Correlation-ID": f"conversation-{uid}"}
    )
    stack.refund(payment["payment_id"], 500)
    received, refunded = eventually(
        lambda: h if len(h := history(stack, payment["payment_id"])) == 2 else []
    )
    assert received["correlationid"] == f"conversation-{uid}"  # the client's conversation
    assert refunded["correlationid"] == refunded["id"]  # none given: its first event's id
    assert received["causationid"]
    assert refunded["causationid"]
    payment_trace, refund_trace = (
        trace_of(received["traceparent"]),
        trace_of(refunded["traceparent"]),
    )
    assert payment_trace != refund_trace

    check_journey(eventually(lambda: whole_journey(receiver, payment_trace)), "POST /payments")
    check_journey(
        eventually(lambda: whole_journey(receiver, refund_trace)),
        "POST /payments/{payment_id}/refunds",
    )


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_the_json_logs_of_all_three_services_carry_the_payments_trace_id(
    traced: tuple[Stack, Receiver], uid: str
) -> None:
    stack, _ = traced
    order = stack.place_order(f"cust-{uid}", total=100)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 100)
    eventually(lambda: stack.notifications(payment_id=payment["payment_id"]))
    [received] = history(stack, payment["payment_id"])
    trace_id = trace_of(received["traceparent"])

    def lines_of(service: str) -> list[dict[str, Any]]:
        return [
            line for line in json_lines(stack[service].log_path) if line.get("trace_id") == trace_id
        ]

    def found_in_all() -> dict[str, list[dict[str, Any]]]:
        found = {service: lines_of(service) for service in SERVICES}
        return found if all(found.values()) else {}

    found = eventually(found_in_all)
    for service, lines in found.items():
        for line in lines:
            assert {"time", "level", "service", "logger", "message", "span_id"} <= set(line)
            assert line["service"] == service
    about_it = [line for line in found["orders"] if line.get("event_type") == "PaymentReceived"]
    assert about_it
    assert about_it[0]["subject"] == payment["payment_id"]
    # No secret in any line: Redis URLs carry passwords, and none is ever logged.
    for service in SERVICES:
        text = stack[service].log_path.read_text()
        assert not any(password in text for password in stack.redis.passwords.values())


def test_histograms_carry_the_trace_id_as_an_exemplar(
    traced: tuple[Stack, Receiver], uid: str
) -> None:
    stack, _ = traced
    order = stack.place_order(f"cust-{uid}", total=100)
    payment = stack.pay(order["order_id"], f"cust-{uid}", 100)
    [received] = history(stack, payment["payment_id"])
    trace_id = trace_of(received["traceparent"])
    openmetrics = {"Accept": "application/openmetrics-text; version=1.0.0"}
    scraped = httpx.get(f"{stack['payments'].url}/metrics", headers=openmetrics).text
    # The request's bucket points at its trace (OpenMetrics exemplar syntax: `# {labels} value`).
    assert f'# {{trace_id="{trace_id}"}}' in scraped
    plain = httpx.get(f"{stack['payments'].url}/metrics").text  # Prometheus' text format
    assert "http_server_request_duration_seconds_bucket" in plain
    assert "trace_id" not in plain


def test_a_collector_in_trouble_costs_one_warning_a_minute_not_one_a_batch(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # A collector that answers 503 to everything: the exporter retries each batch and, left
    # alone, warns at every attempt (seen: one line every one to three seconds).
    collector = Receiver(keep=False, status=503).start()
    env = {
        "REDIS_URL": redis_server.url,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    payments = ServiceProcess("payments", env=env, log_dir=tmp_path).start()
    try:

        def refused_four_exports() -> bool:
            httpx.get(f"{payments.url}/payments/{uuid4()}")  # a span to export
            return collector.requests >= 4

        eventually(refused_four_exports, timeout=60, interval=0.2, what="four refused exports")
        warnings = [line for line in payments.log().splitlines() if "Transient error" in line]
        assert len(warnings) == 1, warnings
    finally:
        payments.stop()
        collector.stop()
