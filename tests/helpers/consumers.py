"""Run an eventkit Consumer in the background of a test, and record what handlers saw."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from eventkit import Consumer, Event


@asynccontextmanager
async def running(consumer: Consumer) -> AsyncIterator[Consumer]:
    """``Consumer.running``, yielding the consumer so a test can look at its stats."""
    async with consumer.running(stop_timeout_s=10):
        yield consumer


class Recorder:
    """A handler that records every event it is called with."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, events: Sequence[Event]) -> None:
        self.events.extend(events)

    def subjects(self) -> list[str]:
        return [e.subject for e in self.events]
