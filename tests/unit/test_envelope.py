"""The event envelope: flat stream fields, a lossless round trip, clear errors."""

import json
from datetime import UTC, datetime

import pytest
from contracts.payments import PaymentNotice
from eventkit import Event, InvalidEvent, parse_data


def event() -> Event:
    return Event(
        source="payments",
        type="PaymentReceived",
        subject="p-1",
        data={"payment_id": "p-1", "amount": 5},
    )


def test_fields_are_flat_readable_strings() -> None:
    fields = event().to_fields()
    assert set(fields) == {
        "id",
        "source",
        "type",
        "time",
        "subject",
        "specversion",
        "datacontenttype",
        "data",
    }
    assert all(isinstance(v, str) for v in fields.values())
    assert json.loads(fields["data"]) == {"payment_id": "p-1", "amount": 5}
    assert fields["specversion"] == "1.0"
    assert datetime.fromisoformat(fields["time"]).tzinfo == UTC


def test_round_trip_through_bytes_is_lossless() -> None:
    original = event()
    raw = {k.encode(): v.encode() for k, v in original.to_fields().items()}
    assert Event.from_fields(raw) == original


@pytest.mark.parametrize("name", ["id", "source", "type", "time", "subject", "specversion"])
def test_an_entry_without_a_required_attribute_is_not_an_event(name: str) -> None:
    # Not filled in with a default: a fresh id per read would make every redelivery new.
    fields = {k: v for k, v in event().to_fields().items() if k != name}
    with pytest.raises(InvalidEvent, match=f"missing field: {name}$"):
        Event.from_fields(fields)


def test_ids_are_unique() -> None:
    assert event().id != event().id


def test_events_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        event().type = "Other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data": "{not json"}, "data is not JSON"),
        ({"time": "yesterday"}, "time:"),
        ({"specversion": "0.3"}, "specversion:"),
        ({"subject": ""}, "subject:"),
        # pydantic-core's parser stops past 200 levels of nesting, with a message saying so.
        ({"data": "[" * 100_000}, "data is not JSON: ValueError: recursion limit exceeded"),
    ],
)
def test_malformed_fields_say_what_is_wrong(change: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message.replace("[", r"\[").replace("]", r"\]")):
        Event.from_fields({**event().to_fields(), **change})


def test_other_fields_are_ignored_by_a_tolerant_reader() -> None:
    original = event()
    extended = {**original.to_fields(), "traceparent": "00-abc-def-01", "version": "3"}
    assert Event.from_fields(extended) == original


def test_bad_bytes_are_invalid() -> None:
    with pytest.raises(InvalidEvent, match="not UTF-8"):
        Event.from_fields({b"type": b"\xff\xfe"})


def test_typed_data_is_validated() -> None:
    assert parse_data(PaymentNotice, event()) == PaymentNotice(payment_id="p-1")
    with pytest.raises(InvalidEvent, match="PaymentReceived data: payment_id"):
        parse_data(PaymentNotice, event().model_copy(update={"data": {"payment_id": ""}}))
