"""What orders' handlers and API need, as small protocols.

adapters.py and projections/revenue.py keep them in Redis; tests/helpers/fakes.py keeps them
in memory; both pass the same contract tests (tests/contracts/test_orders_read_model.py,
tests/contracts/test_revenue.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from contracts.payments import PaymentState
from eventkit import Projection

from orders.domain import Counted, PlacedOrder


class PaymentCache(Protocol):
    """Orders' own copy of payments, kept from the state stream."""

    async def apply(self, payments: Sequence[PaymentState]) -> int:
        """Keep each copy, in order, unless the cache holds a newer version of that payment;
        return how many copies changed. Idempotent: applying the same copies again changes
        nothing."""
        ...

    async def get(self, payment_id: str) -> PaymentState | None: ...

    async def copies(self) -> dict[str, PaymentState]:
        """The whole cache: payment id → copy."""
        ...


class OrderStore(Protocol):
    """The orders customers placed, read together with the cached copies of their payments."""

    async def place(self, order: PlacedOrder) -> None: ...

    async def get(self, order_id: str) -> tuple[PlacedOrder, list[PaymentState]] | None:
        """The order and the copies of its payments; None if there is no such order."""
        ...


class RevenueReader(Protocol):
    """What GET /revenue asks."""

    async def revenue(self, currency: str, days: list[date]) -> tuple[dict[date, int], str]:
        """The net revenue (minor units) on each of ``days`` that has any, and the checkpoint
        (the last state-stream entry applied) the answer is as of."""
        ...


class Revenue(RevenueReader, Projection[Counted], Protocol):
    """Net revenue per currency per day, a catch-up projection of (a partition of) the state
    stream: what the runner needs of it (eventkit.Projection), and what GET /revenue asks."""
