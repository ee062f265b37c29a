"""The console with STREAM_PARTITIONS = P: a group's progress on each partition's stream made
into one set of figures per group (console.lanes.progress.combine), and an entry of a
partition shown in its lane while it moves its own stream's position in the cursor
(console.lanes.reader.item_of).

The same through real processes on a real Redis: tests/e2e/test_console_partitions.py.
"""

from __future__ import annotations

import json

from console.domain import CardState, GroupReading, PendingEntry
from console.lanes.cursor import EntryId
from console.lanes.progress import GroupProgress, Progress, combine, group_progress
from console.lanes.reader import item_of
from console.lanes.streams import followed
from eventkit import Event
from eventkit.partitions import Partitions

from tests.helpers.factories import group_reading

NOW = 1_800_000_000_000  # ms


def reading(group: str, partition: int, **changes: object) -> GroupReading:
    """A group on one partition that was handed everything up to 5 s ago and acked it all."""
    return group_reading(NOW, group, partition, **changes)


def orders_on(partition: int, **changes: object) -> GroupProgress:
    recent = [EntryId(NOW - 6_000, partition)]  # acknowledged on each partition
    return group_progress(reading("orders", partition, **changes), "state", recent, NOW)


def test_one_partition_is_left_as_it_is() -> None:
    alone = orders_on(0, pending_count=2)
    assert combine([alone]) == [alone]
    assert alone.summary.last_delivered_id == str(EntryId(NOW - 5_000, 0))


def test_the_figures_of_a_group_on_three_partitions_are_combined_into_one() -> None:
    parts = [
        orders_on(0, reported_lag=2, first_undelivered=EntryId(NOW - 1_500, 0), pending_count=1),
        orders_on(1, reported_lag=None, undelivered_counted=1_000, dead_letters=3),
        orders_on(2, exists=False, consumers=(), first_undelivered=EntryId(NOW - 4_000, 0)),
    ]
    [orders] = combine(parts)
    summary = orders.summary
    assert (summary.group, orders.stream) == ("orders", "state")
    assert (summary.lag_entries, summary.lag_at_least) == (2 + 1_000 + 0, True)
    assert summary.lag_seconds == 4.0  # the oldest entry waiting on any partition
    assert (summary.pending, summary.dead_letters) == (1, 3)
    assert summary.exists is False  # partition 2 has no group: nobody consumes it
    assert summary.last_delivered_id is None  # a position in one stream, and there are three


def test_consumers_are_named_once_and_every_partitions_cards_are_kept() -> None:
    parts = [
        orders_on(0, consumers=("orders-1", "orders-2")),
        orders_on(1, consumers=("orders-2", "orders-1")),
        orders_on(2, consumers=("orders-3",)),
    ]
    [orders] = combine(parts)
    assert orders.summary.consumers == ["orders-1", "orders-2", "orders-3"]
    assert orders.summary.exists is True
    assert [(c.partition, c.id, c.state) for c in orders.cards] == [
        (p, str(EntryId(NOW - 6_000, p)), CardState.ACKNOWLEDGED) for p in range(3)
    ]


def test_each_group_is_combined_on_its_own_in_the_order_they_come() -> None:
    held = PendingEntry(EntryId(NOW - 3_000, 0), "notifications-1", 2_500, 1)
    notifications = [
        group_progress(
            reading(
                "notifications",
                p,
                last_delivered=EntryId(NOW - 1_000, 0),
                pending_count=p,
                pending=(held,) if p else (),
            ),
            "notifications",
            [held.id],
            NOW,
        )
        for p in range(3)
    ]
    orders = [orders_on(p) for p in range(3)]
    combined = combine([orders[0], notifications[0], orders[1], *notifications[1:], orders[2]])
    assert [(g.summary.group, g.stream) for g in combined] == [
        ("orders", "state"),
        ("notifications", "notifications"),
    ]
    assert combined[1].summary.pending == 0 + 1 + 2
    assert [c.state for c in combined[1].cards] == [
        CardState.ACKNOWLEDGED,  # partition 0 holds no such entry pending: it was acked there
        CardState.PENDING,
        CardState.PENDING,
    ]
    # The page gets one summary per group, its figures under the group's name.
    sent = json.loads(Progress(groups=combined).json_text())
    assert [g["summary"]["group"] for g in sent["groups"]] == ["orders", "notifications"]
    assert "last_delivered_id" not in sent["groups"][0]["summary"]


def test_an_entry_of_a_partition_shows_in_its_lane_and_moves_its_own_position() -> None:
    state_1 = next(s for s in followed(Partitions(3)) if s.name == "state-1")
    event = Event(source="payments", type="PaymentReceived", subject="p-1", data={"version": 1})
    fields = {k.encode(): v.encode() for k, v in event.to_fields().items()}
    item = item_of(state_1, EntryId(7, 0), fields, None)
    assert (item.stream, item.id, item.event) == ("state-1", EntryId(7, 0), "entry")  # cursor
    shown = json.loads(item.data)
    assert (shown["stream"], shown["partition"], shown["id"]) == ("state", 1, "7-0")  # the page


def test_a_dead_letter_of_a_partition_shows_under_its_group_with_its_partition() -> None:
    letters = next(s for s in followed(Partitions(3)) if s.name == "orders-dead-letters-2")
    fields = {
        b"original_id": b"5-0",
        b"source": b"{payments-2}:state",
        b"group": b"orders",
        b"consumer": b"orders-1",
        b"error": b"ValueError: test",
        b"deliveries": b"5",
        b"dead_lettered_at": b"2026-12-01T00:00:00+00:00",
    }
    item = item_of(letters, EntryId(9, 0), fields, None)
    assert (item.stream, item.event) == ("orders-dead-letters-2", "dead-letter")
    shown = json.loads(item.data)
    assert (shown["stream"], shown["partition"], shown["group"]) == (
        "orders-dead-letters",
        2,
        "orders",
    )
