"""docs/schemas/ stays in step with the code: the files are what ``make schemas`` writes from the
models now, every URN producers write has a file, and each file accepts what the code writes.

A model changed without ``make schemas`` fails the first test, naming the stale files.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from contracts import payments as public
from contracts.schemas import DataSchema, file_name
from eventkit import Event, InvalidEvent, schema_of
from eventkit.event_store import entry_fields
from eventkit.testing import InMemoryEventStore
from payments import domain
from payments.commands import Payments, ReceivePayment, RefundPayment
from payments.history.upcasters import STORED_DATA, UPCASTERS
from pydantic import ValidationError

from scripts import export_schemas
from tests.helpers.schemas import DIRECTORY, SchemaCatalog, load

EVERY = [*public.STREAM_DATA.values(), *STORED_DATA.values()]
VERSIONS = [(data, version) for data in EVERY for version in data.versions]
IDS = [data.urn(version) for data, version in VERSIONS]


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog()


def test_the_files_are_what_make_schemas_writes_now() -> None:
    assert export_schemas.differences(DIRECTORY) == [], "run `make schemas`"


def test_the_catalog_names_a_file_per_urn_and_each_file_says_its_urn(
    catalog: SchemaCatalog,
) -> None:
    assert set(catalog.catalog["schemas"]) == set(IDS)
    for urn, file in catalog.catalog["schemas"].items():
        assert load(DIRECTORY / file)["$id"] == urn


@pytest.mark.parametrize(("data", "version"), VERSIONS, ids=IDS)
def test_each_urn_is_one_eventkit_reads_and_names_its_file(data: DataSchema, version: int) -> None:
    event = Event(source="s", type="t", subject="s", dataschema=data.urn(version), data={})
    assert schema_of(event) == (data.name, version)
    assert file_name(data.name, version) == f"{data.name}.v{version}.json"


def test_the_public_streams_newest_versions_are_what_payments_writes() -> None:
    newest = {stream: data.urn(data.newest) for stream, data in public.STREAM_DATA.items()}
    assert newest == {
        public.NOTIFICATION_STREAM: public.NOTICE_SCHEMA,
        public.STATE_STREAM: public.STATE_SCHEMA,
    }


def test_the_event_stores_versions_are_the_upcasters() -> None:
    assert set(STORED_DATA) == set(domain.EVENT_CLASSES)
    for event_type, data in STORED_DATA.items():
        assert data.urn(data.newest) == UPCASTERS.schema(event_type)
        assert data.model is domain.EVENT_CLASSES[event_type]


async def what_payments_writes() -> dict[str, list[Event]]:
    """The events payments writes for a payment and a refund (its own code, an event store in
    memory), by the address the catalog knows their stream by."""
    store = InMemoryEventStore(public.NAMESPACE)
    payments = Payments(store)
    received = ReceivePayment("o-1", "c-1", 2500, "EUR", method=public.PaymentMethod.CARD)
    payment = await payments.receive(received)
    await payments.refund(RefundPayment(payment.payment_id, 500, "damaged in transit"))
    public_streams, keys = set(public.STREAM_DATA), store.streams.keys()
    return {
        key if key in public_streams else export_schemas.EVENT_STORE: store.streams.events(key)
        for key in keys
    }


async def test_what_payments_writes_is_valid_at_every_version_the_catalog_lists(
    catalog: SchemaCatalog,
) -> None:
    """Each event is valid as written (envelope and data); its data, as each older version
    would have written it (without what came later), is valid against that version's file;
    and in the event store the upcaster to the next version adds what that version added."""
    written = await what_payments_writes()
    assert set(written) == {*public.STREAM_DATA, export_schemas.EVENT_STORE}
    for address, events in written.items():
        assert len(events) == 2, address
        for event in events:
            urn = catalog.check(address, event.to_fields())
            name, newest = schema_of(event)
            data = next(d for d in EVERY if d.name == name)
            assert urn == data.urn(newest) == data.urn(data.newest)
            for version in data.versions:
                older = {k: v for k, v in event.data.items() if k not in data.later(version)}
                catalog.schemas[data.urn(version)].validate(older)
                if address == export_schemas.EVENT_STORE and version < data.newest:
                    upcast = UPCASTERS.steps[(event.type, version)](older)
                    assert set(upcast) - set(older) == data.added[version + 1]


@pytest.mark.parametrize(
    "data",
    [
        {"payment_id": "p-1", "order_id": "o-1", "customer_id": "c-1", "amount": 0,
         "currency": "EUR", "refunded_amount": 0, "status": "received", "version": 1},
        {"payment_id": "p-1", "order_id": "o-1", "customer_id": "c-1", "amount": 1,
         "currency": "XXX", "refunded_amount": 0, "status": "received", "version": 1},
        {"payment_id": "", "order_id": "o-1", "customer_id": "c-1", "amount": 1,
         "currency": "EUR", "refunded_amount": 0, "status": "received", "version": 1},
        {"payment_id": "p-1", "order_id": "o-1", "customer_id": "c-1", "amount": 1,
         "currency": "EUR", "refunded_amount": 0, "status": "lost", "version": 1},
    ],
    ids=["amount 0", "not a currency", "empty id", "unknown status"],
)  # fmt: skip
def test_the_state_schema_refuses_what_the_model_refuses(
    catalog: SchemaCatalog, data: dict[str, Any]
) -> None:
    state = public.STREAM_DATA[public.STATE_STREAM]
    with pytest.raises(ValidationError):
        state.model.model_validate(data)
    for version in state.versions:
        with pytest.raises(jsonschema.ValidationError):
            catalog.schemas[state.urn(version)].validate(data)


def an_event(**attributes: str) -> Event:
    return Event(
        source=public.SOURCE,
        type=public.PAYMENT_RECEIVED,
        subject="p-1",
        data={"payment_id": "p-1"},
        **attributes,
    )


def test_the_envelope_accepts_what_the_code_writes(catalog: SchemaCatalog) -> None:
    every = an_event(
        dataschema=public.NOTICE_SCHEMA,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate="vendor=value",
        correlationid="c-1",
        causationid="e-0",
    )
    for fields in (an_event().to_fields(), every.to_fields(), entry_fields(every, 3)):
        catalog.envelope.validate(fields)
    assert catalog.check(public.NOTIFICATION_STREAM, every.to_fields()) == public.NOTICE_SCHEMA
    # Without a dataschema: version 1 of the stream's schema, for every type.
    assert catalog.check(public.NOTIFICATION_STREAM, an_event().to_fields()) == (
        public.STREAM_DATA[public.NOTIFICATION_STREAM].urn(1)
    )


@pytest.mark.parametrize(
    "change",
    [{"id": None}, {"data": None}, {"time": "yesterday"}, {"specversion": "0.3"}, {"id": ""}],
    ids=["no id", "no data", "time not a date", "another specversion", "empty id"],
)
def test_the_envelope_refuses_what_the_code_cannot_read(
    catalog: SchemaCatalog, change: dict[str, str | None]
) -> None:
    fields: dict[str, str] = an_event().to_fields()
    for name, value in change.items():
        if value is None:
            del fields[name]
        else:
            fields[name] = value
    with pytest.raises(InvalidEvent):
        Event.from_fields(fields)
    with pytest.raises(jsonschema.ValidationError):
        catalog.envelope.validate(fields)


def test_the_catalog_says_what_an_entry_without_dataschema_holds(catalog: SchemaCatalog) -> None:
    defaults = catalog.catalog["without_dataschema"]
    for stream, data in public.STREAM_DATA.items():
        assert defaults[stream] == dict.fromkeys(public.EVENT_TYPES, data.urn(1))
    assert defaults[export_schemas.EVENT_STORE] == {
        event_type: data.urn(1) for event_type, data in STORED_DATA.items()
    }
