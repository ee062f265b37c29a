"""console.domain: each card's state and each group's figures, inferred from Redis's figures."""

from __future__ import annotations

import pytest
from console.domain import (
    STALLED_AFTER_MS,
    CardState,
    GroupReading,
    PendingEntry,
    card,
    summarize,
)
from console.lanes.cursor import ZERO, EntryId, InvalidCursor, format_cursor, parse_cursor
from console.lanes.entries import trace_id_of, trace_url, view_entry
from eventkit import Event

from tests.helpers.factories import group_reading

NOW = 1_800_000_000_000  # ms
NAMES = ("state", "notifications", "orders-dead-letters")


def at(ms_ago: int, seq: int = 0) -> EntryId:
    return EntryId(NOW - ms_ago, seq)


def reading(**changes: object) -> GroupReading:
    """A group that has been handed everything up to 5 s ago and acknowledged it all."""
    return group_reading(NOW, "orders", 0, **changes)


# ---- entry ids and the cursor ----


def test_entry_ids_parse_print_and_order_as_redis_does() -> None:
    assert EntryId.parse("1795689293162-10") == EntryId(1795689293162, 10)
    assert EntryId.parse(b"5-0") == EntryId(5, 0)
    assert str(EntryId(5, 3)) == "5-3"
    assert EntryId(5, 10) > EntryId(5, 9) > EntryId(4, 99) > ZERO  # not string order


@pytest.mark.parametrize("text", ["", "5", "5-", "-5", "a-1", "5-1-2", "1" * 20 + "-0", " 5-1"])
def test_anything_else_is_not_an_entry_id(text: str) -> None:
    with pytest.raises(ValueError, match="not a stream entry id"):
        EntryId.parse(text)


def test_cursor_round_trips() -> None:
    cursor = {"state": EntryId(7, 1), "notifications": ZERO, "orders-dead-letters": EntryId(9, 0)}
    text = format_cursor(cursor)
    assert text == "state=7-1,notifications=0-0,orders-dead-letters=9-0"
    assert parse_cursor(text, NAMES) == cursor


def test_a_cursor_may_leave_streams_out_then_they_start_afresh() -> None:
    assert parse_cursor("state=7-1", NAMES) == {"state": EntryId(7, 1)}
    assert parse_cursor("", NAMES) == {}


@pytest.mark.parametrize(
    "text",
    ["orders=1-0", "state", "state=7", "state=7-1,state=8-1", "state=7-1;notifications=1-1"],
)
def test_a_cursor_the_console_did_not_write_is_refused(text: str) -> None:
    with pytest.raises(InvalidCursor):
        parse_cursor(text, NAMES)


# ---- each card's state ----


def test_an_entry_beyond_the_last_delivered_id_is_published_then_pending() -> None:
    group = reading(last_delivered=at(5_000), first_undelivered=at(200))
    fresh = card(at(200), group, NOW)
    assert (fresh.state, fresh.seconds) == (CardState.PUBLISHED, 0)
    waiting = card(at(3_500), reading(last_delivered=at(5_000)), NOW)
    assert (waiting.state, waiting.seconds, waiting.consumer) == (CardState.PENDING, 3, None)


def test_a_pending_entry_is_delivered_then_pending_then_retried() -> None:
    entry = at(4_000)

    def held(idle_ms: int, deliveries: int) -> GroupReading:
        pending = PendingEntry(entry, "orders-1", idle_ms, deliveries)
        return reading(last_delivered=entry, pending_count=1, pending=(pending,))

    delivered = card(entry, held(10, 1), NOW)
    assert (delivered.state, delivered.consumer, delivered.deliveries) == (
        CardState.DELIVERED,
        "orders-1",
        1,
    )
    assert card(entry, held(STALLED_AFTER_MS - 1, 1), NOW).state == CardState.DELIVERED
    stuck = card(entry, held(STALLED_AFTER_MS * 3, 1), NOW)
    assert (stuck.state, stuck.seconds) == (CardState.PENDING, 3)
    retried = card(entry, held(10, 2), NOW)
    assert (retried.state, retried.deliveries) == (CardState.RETRIED, 2)


def test_delivered_and_no_longer_pending_is_acknowledged() -> None:
    assert card(at(6_000), reading(), NOW).state == CardState.ACKNOWLEDGED
    assert card(at(5_000), reading(), NOW).state == CardState.ACKNOWLEDGED  # the last delivered


def test_a_dead_letter_naming_the_entry_wins_over_everything_else() -> None:
    # The consumer writes the dead letter, then acks: for a moment the entry is both.
    entry = at(6_000)
    both = reading(
        pending_count=1,
        pending=(PendingEntry(entry, "orders-1", 10, 5),),
        dead_lettered=frozenset({entry}),
    )
    assert card(entry, both, NOW).state == CardState.DEAD_LETTERED


def test_beyond_a_truncated_pending_list_only_the_delivery_is_known() -> None:
    listed = PendingEntry(at(9_000), "orders-1", 10, 1)
    group = reading(pending_count=5_000, pending=(listed,), pending_truncated=True)
    assert card(at(6_000), group, NOW).state == CardState.DELIVERED
    assert card(at(9_500), group, NOW).state == CardState.ACKNOWLEDGED  # before the listed one


def test_before_the_group_exists_everything_waits() -> None:
    group = reading(exists=False, last_delivered=ZERO, reported_lag=None)
    assert card(at(100), group, NOW).state == CardState.PUBLISHED
    assert card(at(60_000), group, NOW).state == CardState.PENDING


# ---- each group's figures ----


def test_lag_is_what_redis_reports_and_its_age_comes_from_the_oldest_undelivered_id() -> None:
    group = reading(reported_lag=3, first_undelivered=at(2_450), undelivered_counted=1)
    summary = summarize(group, NOW)
    assert (summary.lag_entries, summary.lag_at_least, summary.lag_seconds) == (3, False, 2.5)


def test_when_redis_cannot_count_the_lag_the_entries_are_counted_up_to_a_cap() -> None:
    # XINFO GROUPS' lag is null after an AOF restart or an XDEL.
    counted = summarize(
        reading(reported_lag=None, first_undelivered=at(100), undelivered_counted=7), NOW
    )
    assert (counted.lag_entries, counted.lag_at_least) == (7, False)
    capped = summarize(
        reading(reported_lag=None, first_undelivered=at(100), undelivered_counted=1_000), NOW
    )
    assert (capped.lag_entries, capped.lag_at_least) == (1_000, True)


def test_no_lag_has_no_age_and_a_clock_behind_redis_never_gives_a_negative_one() -> None:
    assert summarize(reading(), NOW).lag_seconds == 0.0
    ahead = reading(reported_lag=1, first_undelivered=EntryId(NOW + 900, 0))
    assert summarize(ahead, NOW).lag_seconds == 0.0
    assert card(EntryId(NOW + 900, 0), ahead, NOW).seconds == 0


def test_the_summary_says_pending_consumers_and_dead_letters() -> None:
    summary = summarize(reading(pending_count=4, dead_letters=2), NOW)
    assert (summary.pending, summary.consumers, summary.dead_letters) == (4, ["orders-1"], 2)
    assert summary.last_delivered_id == str(at(5_000))


# ---- what an entry says ----

SNAPSHOT = {
    "payment_id": "p-1",
    "order_id": "o-1",
    "customer_id": "c",
    "amount": 2500,
    "currency": "EUR",
    "refunded_amount": 0,
    "status": "received",
    "version": 2,
}


def test_a_state_event_shows_its_version_the_number_of_its_append() -> None:
    event = Event(source="payments", type="PaymentRefunded", subject="p-1", data=SNAPSHOT)
    fields = {k.encode(): v.encode() for k, v in event.to_fields().items()}
    view = view_entry("state", EntryId(5, 0), fields, None)
    assert view.valid
    assert (view.type, view.subject, view.version, view.event_id) == (
        "PaymentRefunded",
        "p-1",
        2,
        event.id,
    )
    assert view.trace_url is None


def test_a_thin_event_has_no_version() -> None:
    event = Event(source="payments", type="PaymentReceived", subject="p", data={"payment_id": "p"})
    fields = {k.encode(): v.encode() for k, v in event.to_fields().items()}
    assert view_entry("notifications", EntryId(5, 0), fields, None).version is None


def test_an_entry_that_is_no_event_says_why_and_what_it_holds() -> None:
    view = view_entry("state", EntryId(5, 0), {b"surprise": b"x" * 500}, None)
    assert not view.valid
    assert view.error == "missing field: data"
    assert view.fields == {"surprise": "x" * 200}  # shortened
    bytes_view = view_entry("state", EntryId(5, 0), {b"data": b"\xff{}"}, None)
    assert bytes_view.error is not None
    assert bytes_view.error.startswith("entry is not UTF-8")
    assert bytes_view.fields == {"data": "\ufffd{}"}


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_traceparent_becomes_a_link_when_a_trace_ui_is_configured() -> None:
    event = Event(source="payments", type="PaymentReceived", subject="p", data={"payment_id": "p"})
    fields = {k.encode(): v.encode() for k, v in event.to_fields().items()}
    fields[b"traceparent"] = TRACEPARENT.encode()
    template = "http://localhost:16686/trace/{trace_id}"
    view = view_entry("notifications", EntryId(5, 0), fields, template)
    assert view.trace_url == "http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    assert view_entry("notifications", EntryId(5, 0), fields, None).trace_url is None


@pytest.mark.parametrize(
    "traceparent",
    ["", "00-abc-00f067aa0ba902b7-01", f"00-{'0' * 32}-00f067aa0ba902b7-01", "garbage"],
)
def test_no_link_without_a_valid_trace_id(traceparent: str) -> None:
    assert trace_id_of(traceparent) is None
    assert trace_url("http://t/{trace_id}", trace_id_of(traceparent)) is None


def test_the_template_gets_the_trace_id_and_nothing_else_is_formatted() -> None:
    assert trace_url("http://t/{trace_id}?q={x}", "abc") == "http://t/abc?q={x}"
