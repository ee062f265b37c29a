"""``python -m tests.helpers.crashing <service>``: the real service, SIGKILLed mid-event.

The service runs unchanged, except that its composition root is asked to wrap the handler table
(``servicekit.ConsumerOverrides``): around the run of events that holds the ``CRASH_ON``-th event
(1-based) the process kills itself with SIGKILL ``before`` or ``after`` the real handler ran
(``CRASH_AT``). "after" is the window between an effect and its XACK, the one that at-least-once
delivery exists for. A test-only harness: nothing in the services knows about it.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence

from eventkit import Event, Handler, HandlerTable
from servicekit import ConsumerOverrides, serve


def crash(at: str, on: int) -> None:
    print(f"crashing {at} the effect of event {on}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def crashing(at: str, on: int) -> Callable[[HandlerTable], HandlerTable]:
    """A handler-table wrapper that crashes ``at`` ("before" | "after") the ``on``-th event."""
    seen = 0

    def wrap(handler: Handler) -> Handler:
        async def handle(events: Sequence[Event]) -> None:
            nonlocal seen
            first, seen = seen + 1, seen + len(events)
            holds_it = first <= on <= seen
            if holds_it and at == "before":
                crash(at, on)
            await handler(events)
            if holds_it and at == "after":
                crash(at, on)

        return handle

    def wrap_table(table: HandlerTable) -> HandlerTable:
        return {kind: wrap(handler) for kind, handler in table.items()}

    return wrap_table


def main(service: str) -> None:
    at, on = os.environ["CRASH_AT"], int(os.environ["CRASH_ON"])
    if at not in ("before", "after"):
        raise SystemExit(f"CRASH_AT must be before or after, not {at!r}")
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    settings = importlib.import_module(f"{service}.config").Settings()
    overrides = ConsumerOverrides(wrap_handlers=crashing(at, on))
    serve(bootstrap.create_app(settings, overrides), settings)


if __name__ == "__main__":
    main(sys.argv[1])
