"""``python -m tests.helpers.crashing <service>``: the real service, SIGKILLed mid-event.

The service runs unchanged, except that its handlers are wrapped: around the run of events that
holds the ``CRASH_ON``-th event (1-based) the process kills itself with SIGKILL ``before`` or
``after`` the real handler ran (``CRASH_AT``). "after" is the window between an effect and its
XACK, the one that at-least-once delivery exists for. A test-only harness: nothing in the
services knows about it.
"""

from __future__ import annotations

import importlib
import os
import runpy
import signal
import sys
from collections.abc import Sequence
from typing import Any

from eventkit import Event, Handler

service = sys.argv[1]
crash_on = int(os.environ["CRASH_ON"])
crash_at = os.environ["CRASH_AT"]
assert crash_at in ("before", "after"), crash_at
main = importlib.import_module(f"{service}.main")
real_build_handlers = main.build_handlers
seen = 0


def crash() -> None:
    print(f"crashing {crash_at} the effect of event {crash_on}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(handler: Handler) -> Handler:
    async def crashing(events: Sequence[Event]) -> None:
        """Crash around the run that holds the CRASH_ON-th event."""
        global seen
        first, seen = seen + 1, seen + len(events)
        holds_it = first <= crash_on <= seen
        if holds_it and crash_at == "before":
            crash()
        await handler(events)
        if holds_it and crash_at == "after":
            crash()

    return crashing


def build_handlers(*args: Any) -> dict[str, Handler]:
    return {kind: wrap(handler) for kind, handler in real_build_handlers(*args).items()}


main.build_handlers = build_handlers
sys.argv = [service]
runpy.run_module(f"{service}.__main__", run_name="__main__")
