"""Reading this project's streams with FastStream: a parser for ``StreamSub`` subscribers.

FastStream (``faststream[redis]``, the optional extra ``shared[faststream]``) has its own
message format: its publisher writes one field, ``__data__``, holding the body and its headers.
An entry without that field is read as its older JSON envelope: the entry's ``data`` becomes the
body, and every other field is dropped. A handler typed with the data's model still gets the
data, but not the event: its ``id``, ``type``, ``time``, ``subject``, ``dataschema``, trace
context and ``correlationid`` are gone, and FastStream makes up a message id of its own.

:func:`parse` reads the entry as what it is, one event in this project's envelope
(eventkit.envelope), and hands FastStream a message whose

- **body** is ``data`` (JSON), so the handler's first argument is typed as usual
  (``payment: PaymentState``);
- **headers** are the event's attributes as strings, every one of them (``id``, ``type``,
  ``dataschema``, ``traceparent``, …): FastStream's own tracing middleware continues the
  producer's trace from them, and a filter can dispatch on ``headers["type"]``;
- **message_id** is the event's ``id``, and **correlation_id** its ``correlationid`` (its ``id``
  without one), so FastStream's logs and spans name the event.

Acknowledgement stays FastStream's: the message is the one its own parser built, bound to the
subscriber's group. An entry that is not an event raises :class:`~eventkit.InvalidEvent` here;
FastStream logs it and leaves the entry pending (it has no dead-letter stream of its own).

Usage (docs/interop.md)::

    from eventkit.faststream import Envelope, parse

    @broker.subscriber(stream=StreamSub(STATE_STREAM, group="mine", consumer="c1", last_id="0"),
                       parser=parse)
    async def on_state(payment: PaymentState, event: Envelope) -> None:
        ...  # event.id, event.type, event.dataschema, event.traceparent, event.correlationid

One entry at a time: a batch subscriber (``StreamSub(batch=True)``) is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias

from faststream import Context, Depends
from faststream.message import StreamMessage
from faststream.redis.message import BatchStreamMessage, DefaultStreamMessage
from pydantic_core import to_json

from eventkit.envelope import Event

RawEntry: TypeAlias = DefaultStreamMessage | BatchStreamMessage
# FastStream's own parser of a stream entry (what ``parser=`` is handed as its second argument).
DefaultParser: TypeAlias = Callable[[RawEntry], Awaitable[StreamMessage[Any]]]


async def parse(raw: RawEntry, default: DefaultParser) -> StreamMessage[Any]:
    """The entry ``raw`` (FastStream's raw stream message: ``data`` holds the entry's fields) as
    a FastStream message carrying the event: body ``data``, headers the attributes."""
    if raw["type"] != "stream":
        raise ValueError(f"eventkit.faststream.parse reads one entry at a time, not {raw['type']}")
    event = Event.from_fields(raw["data"])  # InvalidEvent: not an event
    message = await default(raw)  # FastStream's, for its acknowledgement (XACK in the group)
    message.body = to_json(event.data)
    message.content_type = event.datacontenttype
    message.headers = attributes(event)
    message.message_id = event.id
    message.correlation_id = event.correlationid or event.id
    return message


def attributes(event: Event) -> dict[str, str]:
    """Every attribute of ``event`` but ``data``, as the strings of its stream entry."""
    fields = event.to_fields()
    del fields["data"]
    return fields


def envelope(message: StreamMessage[Any]) -> Event:
    """The event a message :func:`parse` built carries (its headers and its body)."""
    return Event.from_fields({**message.headers, "data": message.body.decode()})


def _current_envelope(message: Annotated[StreamMessage[Any], Context("message")]) -> Event:
    return envelope(message)


# A handler's parameter annotated ``Envelope`` receives the whole event (typed attributes).
Envelope: TypeAlias = Annotated[Event, Depends(_current_envelope, cast=False)]
