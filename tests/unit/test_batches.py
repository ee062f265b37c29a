"""Validating a batch in one call (eventkit.batches): the same verdict for every entry as
validating it alone — the same events, and for an entry that is not one, the same reason."""

from __future__ import annotations

import pytest
from contracts.payments import PaymentState
from eventkit import Event, InvalidEvent, events_of, parse_data, parse_many

from tests.helpers.factories import payment_state


def entry(payment_id: str) -> dict[bytes, bytes]:
    event = Event(
        source="payments",
        type="PaymentReceived",
        subject=payment_id,
        data=payment_state(payment_id).model_dump(mode="json"),
    )
    return {k.encode(): v.encode() for k, v in event.to_fields().items()}


def test_a_valid_batch_gives_the_events_validating_each_gives() -> None:
    entries = [entry(f"p-{i}") for i in range(5)]
    assert events_of(entries) == [Event.from_fields(fields) for fields in entries]


def test_each_entry_that_is_not_an_event_gets_its_own_reason_and_the_rest_are_events() -> None:
    no_subject = {k: v for k, v in entry("p-1").items() if k != b"subject"}
    bad_time = {**entry("p-2"), b"time": b"yesterday"}
    not_json = {**entry("p-3"), b"data": b"{"}
    entries = [entry("p-0"), no_subject, bad_time, not_json, entry("p-4")]
    found = events_of(entries)
    for fields, verdict in zip(entries, found, strict=True):
        try:
            alone: Event | str = Event.from_fields(fields)
        except InvalidEvent as exc:
            alone = str(exc)
        assert (str(verdict) if isinstance(verdict, InvalidEvent) else verdict) == alone
    assert [isinstance(v, Event) for v in found] == [True, False, False, False, True]


def test_parse_many_is_parse_data_of_each_and_names_the_one_at_fault() -> None:
    events = [Event.from_fields(entry(f"p-{i}")) for i in range(3)]
    assert parse_many(PaymentState, events) == [parse_data(PaymentState, e) for e in events]
    broken = events[1].model_copy(update={"data": {"payment_id": "p-1"}})
    with pytest.raises(InvalidEvent) as caught:
        parse_many(PaymentState, [events[0], broken, events[2]])
    with pytest.raises(InvalidEvent) as alone:
        parse_data(PaymentState, broken)
    assert str(caught.value) == str(alone.value)
