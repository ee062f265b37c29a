"""What a stream entry says, as the page shows it: an event's attributes, or why it is none;
a dead letter; the link to its trace. Pure: no I/O.

An entry's ``stream`` is its lane ("state", "orders-dead-letters"): with P partitions the page
shows the entries of all P streams of a lane in that lane. Entry ids are unique within one
stream only (two partitions' streams may both hold 1796135561212-0), so an entry is known by
its ``partition`` and its ``id`` together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from eventkit.envelope import Event, InvalidEvent
from pydantic import BaseModel

from console.lanes.cursor import EntryId

MAX_RAW_CHARS = 200  # of each field of an entry that is not an event, as shown on the page


class EntryView(BaseModel):
    """A stream entry as the page shows it: an event's attributes, or why it is none."""

    stream: str  # the lane
    partition: int
    id: str
    valid: bool
    type: str | None = None
    subject: str | None = None
    time: str | None = None
    event_id: str | None = None
    data: dict[str, Any] | None = None
    version: int | None = None  # state events: the payment's version, i.e. its N-th append
    trace_url: str | None = None
    error: str | None = None  # not an event: why
    fields: dict[str, str] | None = None  # not an event: what the entry holds


def view_entry(
    stream: str,
    entry_id: EntryId,
    fields: Mapping[bytes, bytes],
    trace_template: str | None,
    *,
    partition: int = 0,
) -> EntryView:
    """``stream`` is the lane; ``partition`` the partition of the stream it was read from."""
    try:
        event = Event.from_fields(fields)
    except InvalidEvent as exc:
        raw = {
            k.decode(errors="replace"): v.decode(errors="replace")[:MAX_RAW_CHARS]
            for k, v in fields.items()
        }
        return EntryView(
            stream=stream,
            partition=partition,
            id=str(entry_id),
            valid=False,
            error=str(exc),
            fields=raw,
        )
    version = event.data.get("version")
    traceparent = fields.get(b"traceparent", b"").decode(errors="replace")
    return EntryView(
        stream=stream,
        partition=partition,
        id=str(entry_id),
        valid=True,
        type=event.type,
        subject=event.subject,
        time=event.time.isoformat(),
        event_id=event.id,
        data=event.data,
        version=version if isinstance(version, int) else None,
        trace_url=trace_url(trace_template, trace_id_of(traceparent)),
    )


class DeadLetterView(BaseModel):
    """A dead letter as the page shows it, under its group."""

    stream: str  # the lane
    partition: int
    id: str
    group: str
    original_id: str
    error: str
    deliveries: int
    dead_lettered_at: str


# ---- traces ----------------------------------------------------------------------------------

TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def trace_id_of(traceparent: str) -> str | None:
    """The trace id of a W3C ``traceparent`` (an event may carry one as an extension field)."""
    match = TRACEPARENT.fullmatch(traceparent.strip())
    if match is None or set(match[1]) == {"0"}:  # all zeros: an invalid trace id
        return None
    return match[1]


def trace_url(template: str | None, trace_id: str | None) -> str | None:
    """``template`` with ``{trace_id}`` put in, e.g. http://localhost:16686/trace/{trace_id}."""
    if template is None or trace_id is None:
        return None
    return template.replace("{trace_id}", trace_id)
