"""A consumer in another framework: FastStream subscribers, each in its own group, read both
public streams through eventkit.faststream, against a real Redis.

What payments writes (its event store's script, and ``eventkit.Publisher`` for an event with
every extension attribute) arrives typed, with the envelope intact: the handler's first
argument is the data's model, ``Envelope`` the whole event, the message's headers its attributes,
and FastStream's own tracing continues the producer's trace. Every entry is acknowledged in the
group. Without the adapter, FastStream keeps the data and drops the rest; an entry that is not
an event stays pending; and what FastStream's publisher writes is not an event (docs/interop.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pytest
from contracts import payments as public
from contracts.payments import PaymentNotice, PaymentState
from eventkit import Event, InvalidEvent, Publisher, RedisEventStore
from eventkit.faststream import Envelope, parse
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from faststream.redis.opentelemetry import RedisTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.publications import Origin, public_state
from redis.asyncio import Redis

from tests.helpers import RedisServer, eventually_async

GROUP = "faststream-peer"  # a group of its own: orders and notifications are not disturbed
STREAMS = (public.STATE_STREAM, public.NOTIFICATION_STREAM)
TRACE_ID, SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own (conftest's ``redis`` connects to it): the public streams hold
    only what the test writes."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


async def payments_write(redis: Redis, after: str | None = None) -> dict[str, dict[str, Event]]:
    """A payment and a refund through payments' own code and event store, then an event with
    every extension attribute (a trace context, as a traced producer writes it) on each public
    stream: each stream's entries (after entry ``after``) as written, by entry id."""
    payments = Payments(RedisEventStore(redis, public.NAMESPACE))
    origin = Origin(correlation_id="conversation-1", causation_id="request-1")
    received = ReceivePayment("o-1", "c-1", 2500, "EUR", method=public.PaymentMethod.CARD)
    payment = await payments.receive(received, origin)
    await payments.refund(RefundPayment(payment.payment_id, 500, "damaged"), origin)
    traced = {
        "traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01",
        "tracestate": "vendor=value",
        "correlationid": "conversation-2",
        "causationid": "request-2",
    }
    data = {
        public.STATE_STREAM: public_state(replace(payment, payment_id="p-traced")),
        public.NOTIFICATION_STREAM: PaymentNotice(payment_id="p-traced"),
    }
    for stream, schema in ((public.STATE_STREAM, public.STATE_SCHEMA),
                           (public.NOTIFICATION_STREAM, public.NOTICE_SCHEMA)):  # fmt: skip
        event = Event(
            source=public.SOURCE,
            type=public.PAYMENT_RECEIVED,
            subject="p-traced",
            dataschema=schema,
            data=data[stream].model_dump(mode="json"),
            **traced,
        )
        await Publisher(redis).publish(stream, event)
    start = "-" if after is None else f"({after}"  # "(": exclusive
    return {
        stream: {
            entry_id.decode(): Event.from_fields(fields)
            for entry_id, fields in await redis.xrange(stream, start)
        }
        for stream in STREAMS
    }


@dataclass
class Seen:
    """What a handler was given for one entry."""

    data: Any
    event: Event
    headers: dict[str, Any]
    message_id: str
    correlation_id: str


def subscribe(broker: RedisBroker) -> dict[str, dict[str, Seen]]:
    """A FastStream subscriber per public stream, in group GROUP, through the adapter: what
    each handler is given, by stream and entry id."""
    seen: dict[str, dict[str, Seen]] = {stream: {} for stream in STREAMS}

    def record(stream: str, data: Any, event: Event, message: Any) -> None:
        (entry_id,) = message.raw_message["message_ids"]
        seen[stream][entry_id.decode()] = Seen(
            data, event, dict(message.headers), message.message_id, message.correlation_id
        )

    def sub(stream: str) -> StreamSub[Literal[False]]:  # one entry at a time
        return StreamSub(stream, group=GROUP, consumer="peer-1", last_id="0")

    @broker.subscriber(stream=sub(public.STATE_STREAM), parser=parse)
    async def on_state(payment: PaymentState, event: Envelope, message: RedisStreamMessage) -> None:
        record(public.STATE_STREAM, payment, event, message)

    @broker.subscriber(stream=sub(public.NOTIFICATION_STREAM), parser=parse)
    async def on_notice(
        notice: PaymentNotice, event: Envelope, message: RedisStreamMessage
    ) -> None:
        record(public.NOTIFICATION_STREAM, notice, event, message)

    return seen


async def acknowledged(redis: Redis, written: dict[str, dict[str, Event]]) -> bool:
    """Whether GROUP was handed every entry written and acknowledged them all."""
    for stream, entries in written.items():
        groups = [g for g in await redis.xinfo_groups(stream) if g["name"] == GROUP.encode()]
        last = list(entries)[-1]
        if not groups or groups[0]["last-delivered-id"].decode() != last or groups[0]["pending"]:
            return False
    return True


async def test_a_faststream_subscriber_reads_both_streams_typed_with_the_envelope_intact(
    redis_server: RedisServer, redis: Redis
) -> None:
    written = await payments_write(redis)
    spans = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans))
    broker = RedisBroker(
        redis_server.url, middlewares=[RedisTelemetryMiddleware(tracer_provider=tracing)]
    )
    seen = subscribe(broker)
    async with broker:
        await broker.start()
        await eventually_async(
            lambda: acknowledged(redis, written), timeout=10, what=f"{GROUP} to ack all"
        )

    for stream in STREAMS:
        assert seen[stream].keys() == written[stream].keys(), stream
        for entry_id, event in written[stream].items():
            got = seen[stream][entry_id]
            model = public.STREAM_DATA[stream].model  # as the handler's annotation says
            assert isinstance(got.data, model)
            assert got.data == model.model_validate(event.data)
            assert got.event == event  # every attribute, data included
            assert got.headers == {k: v for k, v in event.to_fields().items() if k != "data"}
            assert (got.message_id, got.correlation_id) == (event.id, event.correlationid)
    # Spelt out: the data's version, the trace context, the conversations.
    (traced,) = [s for s in seen[public.STATE_STREAM].values() if s.event.subject == "p-traced"]
    assert traced.event.dataschema == public.STATE_SCHEMA
    assert traced.event.traceparent == f"00-{TRACE_ID}-{SPAN_ID}-01"
    assert traced.event.tracestate == "vendor=value"
    assert {s.event.correlationid for s in seen[public.STATE_STREAM].values()} == {
        "conversation-1",
        "conversation-2",
    }
    # FastStream's tracing continued the producer's trace: its consumer span is a child of the
    # span whose context the event carries.
    consumed = [
        span
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.CONSUMER and span.parent is not None
        and span.parent.span_id == int(SPAN_ID, 16)
    ]  # fmt: skip
    assert len(consumed) == len(STREAMS)  # the traced event on each stream
    assert {format(span.context.trace_id, "032x") for span in consumed} == {TRACE_ID}


async def test_without_the_adapter_faststream_keeps_the_data_and_drops_the_envelope(
    redis_server: RedisServer, redis: Redis
) -> None:
    """Why the adapter exists: FastStream reads the entry as its own legacy envelope."""
    written = await payments_write(redis)
    broker = RedisBroker(redis_server.url)
    got: list[tuple[PaymentNotice, dict[str, Any], str]] = []

    @broker.subscriber(
        stream=StreamSub(public.NOTIFICATION_STREAM, group=GROUP, consumer="c", last_id="0")
    )
    async def on_notice(notice: PaymentNotice, message: RedisStreamMessage) -> None:
        got.append((notice, dict(message.headers), message.message_id))

    async with broker:
        await broker.start()
        await eventually_async(
            lambda: len(got) == len(written[public.NOTIFICATION_STREAM]), timeout=10, what="all"
        )
    ids = {event.id for event in written[public.NOTIFICATION_STREAM].values()}
    for notice, headers, message_id in got:
        assert isinstance(notice, PaymentNotice)  # the data survives
        assert headers == {}  # id, type, time, subject, dataschema, trace context: gone
        assert message_id not in ids  # one FastStream made up


async def test_an_entry_that_is_not_an_event_stays_pending(
    redis_server: RedisServer, redis: Redis
) -> None:
    """FastStream has no dead-letter stream: the adapter's InvalidEvent leaves the entry in the
    group's pending list for an operator, and the entries after it are read on."""
    bad = (await redis.xadd(public.NOTIFICATION_STREAM, {"data": "{}"})).decode()
    written = await payments_write(redis, after=bad)
    broker = RedisBroker(redis_server.url)
    notices = subscribe(broker)[public.NOTIFICATION_STREAM]
    async with broker:
        await broker.start()
        await eventually_async(
            lambda: notices.keys() == written[public.NOTIFICATION_STREAM].keys(),
            timeout=10,
            what="the events after the bad entry",
        )
    pending = await redis.xpending(public.NOTIFICATION_STREAM, GROUP)
    assert pending["pending"] == 1
    assert pending["min"].decode() == bad


async def test_what_faststream_publishes_is_not_an_event_but_publisher_writes_one(
    redis_server: RedisServer, redis: Redis
) -> None:
    """The other direction (docs/interop.md): ``broker.publish`` writes FastStream's own format,
    one ``__data__`` field, which this project's consumers dead-letter; an event written with
    eventkit.Publisher (on any redis-py client, the one FastStream hands a handler included) is
    read like payments' own."""
    broker = RedisBroker(redis_server.url)
    async with broker:
        await broker.start()
        await broker.publish(PaymentNotice(payment_id="p-1"), stream="{peer}:published")
    ((_, fields),) = await redis.xrange("{peer}:published")
    assert set(fields) == {b"__data__"}
    with pytest.raises(InvalidEvent):
        Event.from_fields(fields)

    event = Event(source="peer", type=public.PAYMENT_RECEIVED, subject="p-1",
                  dataschema=public.NOTICE_SCHEMA, data={"payment_id": "p-1"})  # fmt: skip
    await Publisher(redis).publish("{peer}:events", event)
    ((_, fields),) = await redis.xrange("{peer}:events")
    assert Event.from_fields(fields) == event
