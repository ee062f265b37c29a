"""The request bodies of the services' public HTTP APIs, shared so that a client in this
repository (the console, which passes the page's requests on) accepts exactly what the service
accepts, and documents it the same way: one model, not a copy that drifts.

The services' OpenAPI documents name them as they always did (``NewPayment``, ``NewRefund``,
``NewOrder``): the class name is the schema's name.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from contracts.payments import Amount, Currency, Id, PaymentMethod


def whole_floats_as_int(value: Any) -> Any:
    """JSON Schema's ``integer`` includes 2500.0 (OpenAPI 3.1 documents amounts that way), so the
    edge takes a whole float as that int; 10.5, "100" and true stay invalid."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ``Annotated[Amount, JsonInteger]`` on a request field: accepts what its schema promises.
JsonInteger = BeforeValidator(whole_floats_as_int)

# The value of an ``Idempotency-Key`` header: 1-128 visible ASCII characters (no spaces,
# controls or bytes that are not ASCII).
IdempotencyKeyText = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7E]+$")
]


# payments: POST /payments. (Comments, not docstrings: a docstring would become the schema's
# description in the services' OpenAPI documents.)
class NewPayment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "order_id": "ord-1001",
                    "customer_id": "cust-42",
                    "amount": 2500,
                    "currency": "EUR",
                }
            ]
        },
    )

    order_id: Id
    customer_id: Id
    amount: Annotated[Amount, JsonInteger]
    currency: Currency = "USD"
    method: PaymentMethod | None = None


# payments: POST /payments/{payment_id}/refunds.
class NewRefund(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount": 500, "reason": "damaged in transit"}]},
    )

    amount: Annotated[Amount, JsonInteger]
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


# orders: POST /orders.
class NewOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": "cust-42", "total": 2500, "currency": "EUR"}]
        },
    )

    customer_id: Id
    total: Annotated[Amount, JsonInteger]
    currency: Currency = "USD"
