"""Payments' upcasters: each stored event's data brought up to the version the code folds.

The event store keeps every event as it was written, for ever: version 1 of PaymentReceived
(before payment methods) lives beside version 2 in the same streams. Reading applies this
chain (eventkit.Upcasters), so domain.py only knows the newest shape of each event.

Adding a version: a function from the old data to the new, one entry in ``UPCASTERS``, the new
field in the domain event; stored events stay as they are.
"""

from __future__ import annotations

from typing import Any

from contracts.payments import PAYMENT_RECEIVED
from eventkit import Upcasters


def received_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added ``method``; a payment received before it has none that we know of."""
    return {**data, "method": None}


UPCASTERS = Upcasters("payments", {(PAYMENT_RECEIVED, 1): received_v1_to_v2})
