"""A handler table maps an event type to the coroutine that handles it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from eventkit.envelope import Event, InvalidEvent

Handler = Callable[[Event], Awaitable[None]]


def handler_for(handlers: Mapping[str, Handler], event: Event) -> Handler:
    """The handler for ``event``'s type; :class:`InvalidEvent` if there is none."""
    handler = handlers.get(event.type)
    if handler is None:
        raise InvalidEvent(f"no handler for event type {event.type!r}")
    return handler
