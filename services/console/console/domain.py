"""What the console concludes from Redis alone: pure logic, no I/O (import-linter checks it).

The consumers tell the console nothing. Everything on the page is inferred from what Redis
keeps about a stream and a consumer group (read by read_model.py):

- the group's **last-delivered id**: every entry up to it was handed to some consumer;
- its **pending entries** (the PEL): delivered, not yet acknowledged, each with the consumer
  that holds it, how long ago it was delivered (idle) and how often (delivery count);
- the **dead letters** the consumer wrote, each naming the original entry's id.

From those, each event's card moves through its states::

    published ──▶ delivered ──▶ acknowledged
        │             │
        └─▶ pending ◀─┘   (waiting longer than STALLED_AFTER_MS, undelivered or unacknowledged)
                      └──▶ retried (delivered more than once) ──▶ dead-lettered

Entry ids order the stream and tell when Redis added the entry (``<milliseconds>-<sequence>``),
so ages are computed from ids, not from XINFO's ``lag`` (null after an AOF restart or XDEL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from eventkit.envelope import Event, InvalidEvent
from pydantic import BaseModel, ConfigDict

# An event handled normally is acknowledged within milliseconds; one that waits this long is
# shown as pending (a stopped consumer, a slow call back). Two progress polls (500 ms each)
# fit in it, so a card is not called pending only because a poll fell in the wrong moment.
STALLED_AFTER_MS = 1_000


# ---- entry ids and the cursor ----------------------------------------------------------------


@dataclass(frozen=True, order=True)
class EntryId:
    """A stream entry id: Redis orders entries by (milliseconds, sequence)."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, text: str | bytes) -> EntryId:
        raw = text.decode() if isinstance(text, bytes) else text
        match = re.fullmatch(r"(\d{1,19})-(\d{1,19})", raw)
        if match is None:
            raise ValueError(f"not a stream entry id: {raw!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


ZERO = EntryId(0, 0)  # before the first entry of any stream


class InvalidCursor(ValueError):
    """A Last-Event-ID the console did not write."""


# The SSE id of every event the console sends: where the page is in each stream it follows,
# e.g. "state=1795689293162-0,notifications=1795689293162-0,orders-dead-letters=0-0,...".
# One id for several streams, because a reconnecting browser sends back only the last one.
Cursor = dict[str, EntryId]


def format_cursor(cursor: Mapping[str, EntryId]) -> str:
    return ",".join(f"{name}={entry_id}" for name, entry_id in cursor.items())


def parse_cursor(text: str, names: Sequence[str]) -> Cursor:
    """The positions in ``text``; a stream it does not name is left out (the caller starts it
    afresh). Unknown names and malformed ids are refused."""
    cursor: Cursor = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, position = part.partition("=")
        if not sep or name not in names:
            raise InvalidCursor(f"unknown part {part!r}; expected <stream>=<id> for {names}")
        if name in cursor:
            raise InvalidCursor(f"stream {name!r} appears twice")
        try:
            cursor[name] = EntryId.parse(position)
        except ValueError as exc:
            raise InvalidCursor(str(exc)) from None
    return cursor


# ---- what Redis says about one consumer group --------------------------------------------------


@dataclass(frozen=True)
class PendingEntry:
    """One entry of the group's pending list (XPENDING's extended form)."""

    id: EntryId
    consumer: str
    idle_ms: int  # since it was last delivered
    deliveries: int


@dataclass(frozen=True)
class GroupReading:
    """One group's progress as Redis reported it at one moment (read_model.read_group)."""

    group: str
    exists: bool  # False until the consuming service created its group
    consumers: tuple[str, ...]
    last_delivered: EntryId
    pending_count: int  # XINFO GROUPS: every pending entry
    pending: tuple[PendingEntry, ...]  # the oldest of them, up to read_model's limit
    pending_truncated: bool  # the limit was reached: more may be pending than are listed
    reported_lag: int | None  # XINFO GROUPS' lag: None when Redis cannot count it
    first_undelivered: EntryId | None  # the first entry after last_delivered
    undelivered_counted: int  # entries after last_delivered, counted up to count_cap
    count_cap: int
    dead_letters: int  # length of the group's dead-letter stream
    dead_lettered: frozenset[EntryId]  # original ids named by its newest dead letters


class CardState(StrEnum):
    PUBLISHED = "published"  # in the stream, not yet delivered to the group
    DELIVERED = "delivered"  # handed to a consumer, not yet acknowledged
    PENDING = "pending"  # waiting longer than STALLED_AFTER_MS, delivered or not
    RETRIED = "retried"  # delivered more than once: a handler failed, or its consumer died
    ACKNOWLEDGED = "acknowledged"
    DEAD_LETTERED = "dead-lettered"


class Card(BaseModel):
    """An event's state in one group, as the page shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: CardState
    seconds: int | None = None  # how long it has been waiting (pending, retried)
    deliveries: int | None = None  # once delivered and not yet acknowledged
    consumer: str | None = None  # who holds it


def card(entry: EntryId, reading: GroupReading, now_ms: int) -> Card:
    """Infer the state of ``entry`` in the group from Redis's figures alone."""
    if entry in reading.dead_lettered:
        return Card(id=str(entry), state=CardState.DEAD_LETTERED)
    held = next((p for p in reading.pending if p.id == entry), None)
    if held is not None:
        if held.deliveries > 1:
            state = CardState.RETRIED
        elif held.idle_ms >= STALLED_AFTER_MS:
            state = CardState.PENDING
        else:
            state = CardState.DELIVERED
        return Card(
            id=str(entry),
            state=state,
            seconds=held.idle_ms // 1000,
            deliveries=held.deliveries,
            consumer=held.consumer,
        )
    if entry > reading.last_delivered:  # not handed to any consumer yet
        waited_ms = max(0, now_ms - entry.ms)
        stalled = waited_ms >= STALLED_AFTER_MS
        return Card(
            id=str(entry),
            state=CardState.PENDING if stalled else CardState.PUBLISHED,
            seconds=waited_ms // 1000,
        )
    if reading.pending_truncated and entry > max(p.id for p in reading.pending):
        # More entries may be pending than were listed, and this one lies beyond the list: it
        # was delivered, but whether it was acknowledged is not known. Say only what is known.
        return Card(id=str(entry), state=CardState.DELIVERED)
    return Card(id=str(entry), state=CardState.ACKNOWLEDGED)


class GroupSummary(BaseModel):
    """The figures shown for a group: how far behind it is, and how much is stuck."""

    model_config = ConfigDict(frozen=True)

    group: str
    exists: bool
    consumers: list[str]
    lag_entries: int  # in the stream, not yet delivered to the group
    lag_at_least: bool  # True: counted up to a cap, there may be more
    lag_seconds: float  # age of the oldest undelivered entry
    pending: int
    dead_letters: int
    last_delivered_id: str


def summarize(reading: GroupReading, now_ms: int) -> GroupSummary:
    if reading.reported_lag is not None:
        lag, at_least = reading.reported_lag, False
    else:  # Redis cannot count it (after an AOF restart, an XDEL): count the entries instead
        lag = reading.undelivered_counted
        at_least = reading.undelivered_counted >= reading.count_cap
    oldest = reading.first_undelivered
    age_ms = max(0, now_ms - oldest.ms) if oldest is not None else 0
    return GroupSummary(
        group=reading.group,
        exists=reading.exists,
        consumers=list(reading.consumers),
        lag_entries=lag,
        lag_at_least=at_least,
        lag_seconds=round(age_ms / 1000, 1),
        pending=reading.pending_count,
        dead_letters=reading.dead_letters,
        last_delivered_id=str(reading.last_delivered),
    )


class GroupProgress(BaseModel):
    """One group in a progress snapshot: its figures and the state of each recent card."""

    summary: GroupSummary
    stream: str  # the followed stream's name (as in the cursor)
    cards: list[Card]


def progress(
    reading: GroupReading, stream: str, recent: Iterable[EntryId], now_ms: int
) -> GroupProgress:
    return GroupProgress(
        summary=summarize(reading, now_ms),
        stream=stream,
        cards=[card(entry, reading, now_ms) for entry in recent],
    )


# ---- what a stream entry says ------------------------------------------------------------------

MAX_RAW_CHARS = 200  # of each field of an entry that is not an event, as shown on the page


class EntryView(BaseModel):
    """A stream entry as the page shows it: an event's attributes, or why it is none."""

    stream: str
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
    stream: str, entry_id: EntryId, fields: Mapping[bytes, bytes], trace_template: str | None
) -> EntryView:
    try:
        event = Event.from_fields(fields)
    except InvalidEvent as exc:
        raw = {
            k.decode(errors="replace"): v.decode(errors="replace")[:MAX_RAW_CHARS]
            for k, v in fields.items()
        }
        return EntryView(stream=stream, id=str(entry_id), valid=False, error=str(exc), fields=raw)
    version = event.data.get("version")
    traceparent = fields.get(b"traceparent", b"").decode(errors="replace")
    return EntryView(
        stream=stream,
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

    stream: str
    id: str
    group: str
    original_id: str
    error: str
    deliveries: int
    dead_lettered_at: str


# ---- traces --------------------------------------------------------------------------------

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


# ---- the progress snapshot ---------------------------------------------------------------------


class Snapshot(BaseModel):
    """What one progress poll found: every group's figures and cards, or why it found nothing."""

    groups: list[GroupProgress]
    error: str | None = None

    def json_text(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def failed(cls, error: str) -> Self:
        return cls(groups=[], error=error)
