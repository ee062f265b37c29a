"""Versioned event data: the dataschema attribute in the envelope, chains of upcasters, and
what ``python -m eventkit tail`` shows of them."""

from __future__ import annotations

from typing import Any

import pytest
from eventkit import Event, InvalidEvent, StreamEntry, Upcasters, schema_of, schema_uri
from eventkit.__main__ import describe
from payments.history.upcasters import UPCASTERS


def event(data: dict[str, Any], dataschema: str | None = None, kind: str = "Happened") -> Event:
    return Event(source="test", type=kind, subject="s-1", dataschema=dataschema, data=data)


def test_dataschema_is_a_flat_field_only_when_set() -> None:
    assert "dataschema" not in event({}).to_fields()  # absent: version 1
    fields = event({}, "urn:schema:test.Happened:v2").to_fields()
    assert fields["dataschema"] == "urn:schema:test.Happened:v2"
    raw = {k.encode(): v.encode() for k, v in fields.items()}
    assert Event.from_fields(raw).dataschema == "urn:schema:test.Happened:v2"


def test_a_schema_names_its_version_and_no_schema_is_version_1() -> None:
    assert schema_uri("test.Happened", 3) == "urn:schema:test.Happened:v3"
    assert schema_of(event({}, "urn:schema:test.Happened:v3")) == ("test.Happened", 3)
    assert schema_of(event({})) == (None, 1)
    with pytest.raises(InvalidEvent, match="is not urn:schema"):
        schema_of(event({}, "https://example.org/happened.json"))


# A type that went through three versions: v2 split the name, v3 renamed the amount.
STEPS = {
    ("Happened", 1): lambda d: {**{k: v for k, v in d.items() if k != "name"}, "first": d["name"]},
    ("Happened", 2): lambda d: {"first": d["first"], "total": d["amount"]},
}


def test_the_chain_brings_every_old_version_to_the_newest() -> None:
    chain = Upcasters("test", STEPS)
    assert chain.current("Happened") == 3
    assert chain.schema("Happened") == "urn:schema:test.Happened:v3"
    newest = {"first": "Ada", "total": 5}
    v1 = event({"name": "Ada", "amount": 5})  # written before versions: no dataschema
    v2 = event({"first": "Ada", "amount": 5}, "urn:schema:test.Happened:v2")
    v3 = event(newest, "urn:schema:test.Happened:v3")
    for old in (v1, v2, v3):
        upcast = chain.upcast(old)
        assert (upcast.data, upcast.dataschema) == (newest, chain.schema("Happened"))
        assert (upcast.id, upcast.time, upcast.type) == (old.id, old.time, old.type)
    assert chain.upcast(v3) is v3  # already the newest: untouched


def test_a_type_without_upcasters_is_at_version_1() -> None:
    chain = Upcasters("test", STEPS)
    assert chain.current("Other") == 1
    upcast = chain.upcast(event({"a": 1}, kind="Other"))
    assert (upcast.data, upcast.dataschema) == ({"a": 1}, "urn:schema:test.Other:v1")


def test_a_version_newer_than_the_code_or_another_schema_is_refused() -> None:
    chain = Upcasters("test", STEPS)
    with pytest.raises(InvalidEvent, match="v4 is newer than this code"):
        chain.upcast(event({}, "urn:schema:test.Happened:v4"))
    with pytest.raises(InvalidEvent, match=r"carries the schema of other\.Happened"):
        chain.upcast(event({}, "urn:schema:other.Happened:v1"))


def test_a_gap_in_the_chain_is_refused_when_it_is_built() -> None:
    with pytest.raises(ValueError, match="an upcaster from v3 but none before it"):
        Upcasters("test", {("Happened", 1): dict, ("Happened", 3): dict})


def test_payments_received_v1_gets_no_method_and_becomes_v2() -> None:
    v1 = event(
        {"payment_id": "p", "order_id": "o", "customer_id": "c", "amount": 5, "currency": "EUR"},
        kind="PaymentReceived",
    )
    upcast = UPCASTERS.upcast(v1)
    assert upcast.data == {**v1.data, "method": None}
    assert upcast.dataschema == "urn:schema:payments.PaymentReceived:v2"
    refunded = UPCASTERS.upcast(event({"payment_id": "p", "amount": 1}, kind="PaymentRefunded"))
    assert refunded.dataschema == "urn:schema:payments.PaymentRefunded:v1"


def test_tail_shows_one_type_and_the_version_of_its_data() -> None:
    def line(dataschema: str | None) -> str:
        fields = event({"n": 1}, dataschema).to_fields()
        return describe(StreamEntry("1-0", {k.encode(): v.encode() for k, v in fields.items()}))

    assert "  Happened         v1  " in line(None)
    assert "  Happened         v2  " in line("urn:schema:test.Happened:v2")
    assert "  Happened         v?  " in line("https://example.org/happened.json")
