"""Following an event across streams with OpenTelemetry, as the messaging conventions say.

- **Producing**: each publication gets a PRODUCER span ``send {stream}``, and the event carries
  that span's W3C trace context in its ``traceparent`` (``tracestate``) attribute: written by
  the same atomic append as the event itself (eventkit.event_store).
- **Consuming**: each event handed to a handler gets a CONSUMER span ``process {stream}`` whose
  parent is the context the event carries, so one command is one trace across services. A
  handler that calls out on behalf of one event (notifications' call back) does so
  ``within(event)``: its HTTP client span, and the server span at the other end, join that trace.

Only the OpenTelemetry *API* is used here: without an SDK configured (servicekit.telemetry
configures one from the standard ``OTEL_*`` variables) every call would be a no-op, but not a
free one (a span object, a context extracted from the event, per event): so without an SDK
(:func:`recording` is False) the functions here return at once, and tracing costs the consumer
and the event store one check per run. Blocking reads and claim polls get no span.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from eventkit.envelope import Event

tracer = trace.get_tracer("eventkit")
SYSTEM = "redis"
# The process spans of the run a handler is working on, by event id (see ``within``).
_processing: ContextVar[Mapping[str, Span] | None] = ContextVar("eventkit_processing", default=None)


def recording() -> bool:
    """Whether a tracer provider that records spans is installed (the SDK). Without one the
    API hands out a proxy, whose spans are placeholders."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def carried(event: Event, within: context.Context | None = None) -> Event:
    """``event`` carrying the trace context (the current one, or ``within``); unchanged when
    nothing is traced."""
    if not recording():
        return event
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=within)
    if "traceparent" not in carrier:
        return event
    return event.model_copy(
        update={"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")}
    )


def context_of(event: Event) -> context.Context:
    """The trace context an event carries (an empty one if it carries none)."""
    carrier = {"traceparent": event.traceparent} if event.traceparent else {}
    if event.tracestate:
        carrier["tracestate"] = event.tracestate
    return propagate.extract(carrier)


@contextlib.contextmanager
def sending(stream: str, event: Event) -> Iterator[tuple[Event, Span]]:
    """A PRODUCER span for publishing ``event`` on ``stream``, a child of the current span (not
    made current: sibling publications stay siblings); yields the event carrying the span's
    context, which the consumer's process span will be a child of."""
    if not recording():
        yield event, trace.INVALID_SPAN
        return
    span = tracer.start_span(f"send {stream}", kind=SpanKind.PRODUCER)
    if span.is_recording():
        span.set_attributes(
            {
                "messaging.system": SYSTEM,
                "messaging.operation.type": "send",
                "messaging.operation.name": "send",
                "messaging.destination.name": stream,
                "cloudevents.event_id": event.id,
                "cloudevents.event_type": event.type,
                "cloudevents.event_subject": event.subject,
            }
        )
    try:
        yield carried(event, trace.set_span_in_context(span)), span
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        span.end()


@contextlib.contextmanager
def processing(
    stream: str, group: str, consumer: str, entries: Sequence[tuple[bytes, Event]]
) -> Iterator[list[Span]]:
    """One CONSUMER span per event of a run, each a child of the context its event carries.

    The spans stay open while the handler works on the run; ``within(event)`` makes one of
    them current. On an error every span of the run records it (the run failed as a whole)."""
    if not recording():
        yield []
        return
    spans = []
    for entry_id, event in entries:
        span = tracer.start_span(
            f"process {stream}", context=context_of(event), kind=SpanKind.CONSUMER
        )
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.system": SYSTEM,
                    "messaging.operation.type": "process",
                    "messaging.operation.name": "process",
                    "messaging.destination.name": stream,
                    "messaging.consumer.group.name": group,
                    "messaging.message.id": entry_id.decode(),
                    "messaging.client.id": consumer,
                    "messaging.batch.message_count": len(entries),
                    "cloudevents.event_id": event.id,
                    "cloudevents.event_type": event.type,
                    "cloudevents.event_subject": event.subject,
                }
            )
        spans.append(span)
    by_event = {event.id: span for (_, event), span in zip(entries, spans, strict=True)}
    token = _processing.set(by_event)
    try:
        yield spans
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        _processing.reset(token)
        for span in spans:
            span.end()


def note(spans: Sequence[Span], what: str, **attributes: str | int | float) -> None:
    """Record a step of the consumer's on its process spans: a retry, a dead letter."""
    for span in spans:
        span.add_event(what, attributes)


@contextlib.contextmanager
def within(event: Event) -> Iterator[None]:
    """Work done for ``event`` alone (a call back for it) joins its trace: the process span of
    ``event`` is current in the block, or else the context the event carries."""
    span = (_processing.get() or {}).get(event.id)
    if span is not None:
        with trace.use_span(span, end_on_exit=False):
            yield
        return
    token = context.attach(context_of(event))
    try:
        yield
    finally:
        context.detach(token)


def link_to(events: Sequence[Event]) -> list[Link]:
    """Links to the traces of ``events``: for work done on many at once."""
    links = []
    for event in events:
        span_context = trace.get_current_span(context_of(event)).get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    return links


def span_ids(event: Event | None = None) -> tuple[str | None, str | None]:
    """The trace and span ids in hex (32 and 16 digits), for logs and exemplars: of the current
    span, or of ``event``'s process span while it is being handled."""
    span = (_processing.get() or {}).get(event.id) if event is not None else None
    span_context = (span or trace.get_current_span()).get_span_context()
    if not span_context.is_valid:
        return None, None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def trace_id_hex() -> str | None:
    return span_ids()[0]
