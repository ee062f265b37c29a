"""What the checker's parts share: an anomaly, the event types, the history's intents, a
payment's fold and an order's settlement (the checker's own, from the README's rules)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

RECEIVED, REFUNDED = "PaymentReceived", "PaymentRefunded"


@dataclass
class Anomaly:
    kind: str
    detail: str
    ops: list[Any] = field(default_factory=list)  # the operations (or stored ids) involved

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def intents_of(history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The history's operations by intent (every retry of one request), in order."""
    intents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in history:
        if op["intent"]:
            intents[op["intent"]].append(op)
    return intents


def fold(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A payment from its events, as far as the checker needs it (its own left fold)."""
    first = events[0]["data"] if events else {}
    refunds = [e for e in events if e["type"] == REFUNDED]
    return {
        "version": len(events),
        "amount": first.get("amount", 0),
        "refunded_amount": sum(e["data"]["amount"] for e in refunds),
        "order_id": first.get("order_id"),
        "customer_id": first.get("customer_id"),
        "currency": first.get("currency"),
    }


def settle(total: int, payments: list[dict[str, Any]]) -> tuple[str, int]:
    """orders' rule for an order's status, from its payments (README, orders)."""
    received = sum(p["amount"] for p in payments)
    refunded = sum(p["refunded_amount"] for p in payments)
    paid = received - refunded
    if received == 0:
        return "pending_payment", paid
    if refunded == 0:
        return ("paid" if paid >= total else "partially_paid"), paid
    if paid == 0:
        return "refunded", paid
    return ("paid" if paid >= total else "partially_refunded"), paid
