"""What the running services write is what docs/schemas/ says: a payment and a refund through the
real processes, then every entry of both public streams and of the payment's event-store stream
read back and checked as another team would check it, with the catalog and jsonschema alone
(tests.helpers.schemas: none of the Python models)."""

from __future__ import annotations

from collections import Counter

import httpx
from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM, event_stream
from eventkit.event_store import key_of

from scripts.export_schemas import EVENT_STORE
from tests.helpers import Stack
from tests.helpers.schemas import SchemaCatalog

CUSTOMER = "cust-schemas"


def entries(stack: Stack, stream: str, subject: str | None = None) -> list[dict[str, str]]:
    """The stream's entries as strings (of ``subject`` only, when given)."""
    decoded = [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in stack.admin().xrange(stream)
    ]
    return [e for e in decoded if subject is None or e["subject"] == subject]


def test_every_entry_the_services_write_is_valid_against_the_schema_it_names(
    stack: Stack,
) -> None:
    order = stack.place_order(CUSTOMER, 2500)
    body = {
        "order_id": order["order_id"],
        "customer_id": CUSTOMER,
        "amount": 2500,
        "currency": "EUR",
        "method": "card",
    }
    response = httpx.post(f"{stack.url('payments')}/payments", json=body)
    assert response.status_code == 201, response.text
    payment_id = response.json()["payment_id"]
    stack.refund(payment_id, 500)

    written = {
        NOTIFICATION_STREAM: entries(stack, NOTIFICATION_STREAM, payment_id),
        STATE_STREAM: entries(stack, STATE_STREAM, payment_id),
        EVENT_STORE: entries(stack, key_of("payments", event_stream(payment_id))),
    }
    catalog = SchemaCatalog()
    urns = {
        address: Counter(catalog.check(address, fields) for fields in fields_list)
        for address, fields_list in written.items()
    }
    assert urns == {
        NOTIFICATION_STREAM: {"urn:schema:payments.PaymentNotice:v1": 2},
        STATE_STREAM: {"urn:schema:payments.PaymentSnapshot:v2": 2},
        EVENT_STORE: {
            "urn:schema:payments.PaymentReceived:v2": 1,
            "urn:schema:payments.PaymentRefunded:v1": 1,
        },
    }
