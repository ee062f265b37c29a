"""A handler table maps an event type to the coroutine that handles events of that type.

A handler takes a list of events, in stream order, and applies all their effects: that lets it
write them in one round trip (a pipeline), which is where a consumer's throughput comes from.
A handler that thinks one event at a time is wrapped with :func:`each`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from eventkit.envelope import Event, InvalidEvent

Handler = Callable[[Sequence[Event]], Awaitable[None]]
HandlerTable = Mapping[str, Handler]
T = TypeVar("T")


class RetryLater(Exception):
    """Raised by a handler whose dependency is unavailable (not the events' fault).

    The consumer hands the same events over again after a capped backoff (or after
    ``retry_after_s`` when the dependency said how long, e.g. HTTP ``Retry-After``), until they
    succeed or the consumer stops; it never dead-letters them for this, and the wait counts no
    delivery. Meanwhile its state is ``waiting``.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConfigurationFault(RetryLater):
    """Raised by a handler that cannot work until an operator fixes something (a dependency
    refuses its credentials, a URL points at the wrong service).

    The consumer stops consuming: it holds these events (never acked, never dead-lettered —
    every event would fail the same way), retries them at the backoff's cap so it resumes by
    itself once the fault is fixed, and reports state ``blocked`` with the reason, which makes
    the service not ready.
    """


def handler_for(handlers: HandlerTable, event: Event) -> Handler:
    """The handler for ``event``'s type; :class:`InvalidEvent` if there is none."""
    handler = handlers.get(event.type)
    if handler is None:
        raise InvalidEvent(f"no handler for event type {event.type!r}")
    return handler


def each(handle_one: Callable[[Event], Awaitable[None]]) -> Handler:
    """A handler that handles the events of a run one after the other."""

    async def handle(events: Sequence[Event]) -> None:
        for event in events:
            await handle_one(event)

    return handle


def runs(items: Iterable[T], handler_of: Callable[[T], Handler]) -> Iterator[list[T]]:
    """Consecutive items that go to the same handler, in stream order: what a handler gets at
    once (the live consumer, a replay and the in-memory fakes all hand events over this way)."""
    run: list[T] = []
    for item in items:
        if run and handler_of(item) is not handler_of(run[0]):
            yield run
            run = []
        run.append(item)
    if run:
        yield run
