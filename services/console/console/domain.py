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

With P partitions a group is P groups, one on each partition's stream, each read and inferred
on its own (lanes/progress.combine then makes one set of figures per group, as the page shows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from console.lanes.cursor import EntryId

# An event handled normally is acknowledged within milliseconds; one that waits this long is
# shown as pending (a stopped consumer, a slow call back). Two progress polls (500 ms each)
# fit in it, so a card is not called pending only because a poll fell in the wrong moment.
STALLED_AFTER_MS = 1_000


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
    """One group's progress on one partition's stream, as Redis reported it at one moment
    (read_model.read_group)."""

    group: str
    partition: int
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
    partition: int  # an id is unique within one stream: the page knows a card by both
    state: CardState
    seconds: int | None = None  # how long it has been waiting (pending, retried)
    deliveries: int | None = None  # once delivered and not yet acknowledged
    consumer: str | None = None  # who holds it


def card(entry: EntryId, reading: GroupReading, now_ms: int) -> Card:
    """Infer the state of ``entry`` in the group from Redis's figures alone."""
    id_, partition = str(entry), reading.partition
    if entry in reading.dead_lettered:
        return Card(id=id_, partition=partition, state=CardState.DEAD_LETTERED)
    held = next((p for p in reading.pending if p.id == entry), None)
    if held is not None:
        if held.deliveries > 1:
            state = CardState.RETRIED
        elif held.idle_ms >= STALLED_AFTER_MS:
            state = CardState.PENDING
        else:
            state = CardState.DELIVERED
        return Card(
            id=id_,
            partition=partition,
            state=state,
            seconds=held.idle_ms // 1000,
            deliveries=held.deliveries,
            consumer=held.consumer,
        )
    if entry > reading.last_delivered:  # not handed to any consumer yet
        waited_ms = max(0, now_ms - entry.ms)
        stalled = waited_ms >= STALLED_AFTER_MS
        return Card(
            id=id_,
            partition=partition,
            state=CardState.PENDING if stalled else CardState.PUBLISHED,
            seconds=waited_ms // 1000,
        )
    if reading.pending_truncated and entry > max(p.id for p in reading.pending):
        # More entries may be pending than were listed, and this one lies beyond the list: it
        # was delivered, but whether it was acknowledged is not known. Say only what is known.
        return Card(id=id_, partition=partition, state=CardState.DELIVERED)
    return Card(id=id_, partition=partition, state=CardState.ACKNOWLEDGED)


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
    # A position in one stream: a group on several partitions' streams has none (combine).
    last_delivered_id: str | None


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
