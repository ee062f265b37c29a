"""What the checker's parts share: an anomaly, the event types, the history's intents."""

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
