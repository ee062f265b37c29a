"""Payments' upcasters: each stored event's data brought up to the version the code folds.

The event store keeps every event as it was written, for ever: version 1 of PaymentReceived
(before payment methods) lives beside version 2 in the same streams. Reading applies this
chain (eventkit.Upcasters), so domain.py only knows the newest shape of each event.

Adding a version: a function from the old data to the new, one entry in ``UPCASTERS``, the new
field in the domain event and in ``STORED_DATA``; stored events stay as they are.
"""

from __future__ import annotations

from typing import Any

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED
from contracts.schemas import DataSchema
from eventkit import Upcasters

from payments.domain import PaymentReceived, PaymentRefunded


def received_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added ``method``; a payment received before it has none that we know of."""
    return {**data, "method": None}


UPCASTERS = Upcasters("payments", {(PAYMENT_RECEIVED, 1): received_v1_to_v2})

# The data of each stored event type, every version (docs/schemas/, ``make schemas``): its schema
# is named ``payments.<type>``, as UPCASTERS names it, and the model is the newest version.
STORED_DATA: dict[str, DataSchema] = {
    PAYMENT_RECEIVED: DataSchema(
        "payments.PaymentReceived", PaymentReceived, added={2: frozenset({"method"})}
    ),
    PAYMENT_REFUNDED: DataSchema("payments.PaymentRefunded", PaymentRefunded),
}
