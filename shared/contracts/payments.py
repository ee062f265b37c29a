"""The public events of the payments service, on two streams (one fact, two shapes).

- ``NOTIFICATION_STREAM`` (event notification): ``data`` is only ``{"payment_id": …}``. A consumer
  that needs more calls ``GET /payments/{payment_id}`` on payments.
- ``STATE_STREAM`` (event-carried state transfer): ``data`` is the payment's whole state after the
  change, a :class:`PaymentState`. A consumer keeps its own copy and never calls payments.

Partitions (``STREAM_PARTITIONS``, eventkit.partitions): with P > 1 each stream is P streams,
``{payments-p}:notifications`` and ``{payments-p}:state``, and all of a payment's events are on
one partition, the one of its event-store stream: in order for one payment, in no particular
order across payments of different partitions. With P = 1 the two names below are the streams.

Consumers read ``data`` as a *tolerant reader*: fields they do not know are ignored, and a field
added later is optional to them, so payments can add a field without breaking anyone. Each event
names the schema of its ``data`` and its version in the CloudEvents ``dataschema`` attribute
(absent: version 1). Version 2 of ``PaymentState`` added ``method``; during the transition
the stream holds both, and consumers read both (``method`` is None in version 1). Removing or
changing a field needs a new version and a transition in which every consumer reads both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from iso4217 import Currency as Iso4217
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from contracts.schemas import DataSchema

SOURCE = "payments"
# Partitioned names (eventkit.partitions): with P partitions the streams are
# Partitions(P).key(NAMESPACE, p, STATE) — "{payments}:state" for P = 1, "{payments-2}:state" —
# and a payment's partition is Partitions(P).of(event_stream(payment_id)).
NAMESPACE = "payments"
NOTIFICATIONS = "notifications"
STATE = "state"
NOTIFICATION_STREAM = "{payments}:notifications"  # the streams with one partition (the default)
STATE_STREAM = "{payments}:state"


def event_stream(payment_id: str) -> str:
    """A payment's stream in payments' event store, within its partition's tag: what decides
    the payment's partition, so that one script appends its events and publishes them."""
    return f"payment-{payment_id}"


PAYMENT_RECEIVED = "PaymentReceived"
PAYMENT_REFUNDED = "PaymentRefunded"
EVENT_TYPES = (PAYMENT_RECEIVED, PAYMENT_REFUNDED)

# The ``dataschema`` of the public events payments writes now (eventkit.upcasting's form; the
# published language depends on nothing, so they are spelt out). Both event types carry the
# same data on each stream. The thin event did not change: a new field is no news to it.
NOTICE_SCHEMA = "urn:schema:payments.PaymentNotice:v1"
# The model is PaymentState; the URN keeps the name it was published under (PaymentSnapshot):
# it is on the wire, in every entry written since, and a consumer may match it.
STATE_SCHEMA = "urn:schema:payments.PaymentSnapshot:v2"

# Shared value types: the same rules wherever an amount or an id crosses a boundary.
MAX_AMOUNT = 1_000_000_000_000  # minor units: ten billion in a two-decimal currency
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT, description="minor units, e.g. cents")]
# ISO 4217 codes of money (the list in the iso4217 package, refreshed with each of its
# releases), without the codes that name no currency's minor units (XXX, gold, SDR …).
CURRENCIES: dict[str, int] = {c.code: c.exponent for c in Iso4217 if c.exponent is not None}


def minor_units(currency: str) -> int:
    """How many decimals a currency's amounts have: 2 for EUR, 0 for JPY, 3 for BHD."""
    return CURRENCIES[currency]


def _iso_4217(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_iso_4217),
    # The schema lists the codes, so that a client (and schemathesis) knows which are valid.
    WithJsonSchema({"type": "string", "enum": sorted(CURRENCIES), "description": "ISO 4217 code"}),
]
Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"),
]


class PaymentStatus(StrEnum):
    RECEIVED = "received"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class PaymentMethod(StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    WALLET = "wallet"


class PaymentNotice(BaseModel):
    """``data`` of a thin event on the notification stream."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    payment_id: Id


class PaymentState(BaseModel):
    """A payment's state after a change: ``data`` on the state stream, and what
    ``GET /payments/{payment_id}`` answers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    payment_id: Id
    order_id: Id
    customer_id: Id
    amount: Amount
    currency: Currency
    refunded_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
    status: PaymentStatus
    version: Annotated[StrictInt, Field(ge=1, description="number of events so far")]
    # Since version 2 of this schema; None for a payment received before it, and absent from
    # the data of version 1, which a tolerant reader takes as None.
    method: PaymentMethod | None = Field(None, description="how it was paid, if known")

    @model_validator(mode="after")
    def _no_more_refunded_than_paid(self) -> PaymentState:
        # An invariant of the fact, not a field's bound: a state with more refunded than paid
        # is no payment, and a consumer must refuse it (dead letter) rather than count it.
        if self.refunded_amount > self.amount:
            raise ValueError(f"refunded_amount {self.refunded_amount} exceeds amount {self.amount}")
        return self


# The data each public stream carries, every event type alike: the one place a model is tied to
# the schema name consumers see in ``dataschema`` (and docs/schemas/ in file names). An entry
# without ``dataschema`` holds version 1 of its stream's schema.
STREAM_DATA: dict[str, DataSchema] = {
    NOTIFICATION_STREAM: DataSchema("payments.PaymentNotice", PaymentNotice),
    STATE_STREAM: DataSchema(
        "payments.PaymentSnapshot", PaymentState, added={2: frozenset({"method"})}
    ),
}
