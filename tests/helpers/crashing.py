"""``python -m tests.helpers.crashing <service>``: the real service, SIGKILLed mid-event.

The service runs unchanged, except that its handlers are wrapped: on the ``CRASH_ON``-th event
(1-based) the process kills itself with SIGKILL ``before`` or ``after`` the real handler ran
(``CRASH_AT``). "after" is the window between an effect and its XACK, the one that at-least-once
delivery exists for. A test-only harness: nothing in the services knows about it.
"""

from __future__ import annotations

import importlib
import os
import runpy
import signal
import sys
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
    print(f"crashing {crash_at} the effect of event {seen}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(handler: Handler) -> Handler:
    async def crashing(event: Event) -> None:
        global seen
        seen += 1
        if seen == crash_on and crash_at == "before":
            crash()
        await handler(event)
        if seen == crash_on and crash_at == "after":
            crash()

    return crashing


def build_handlers(*args: Any) -> dict[str, Handler]:
    return {kind: wrap(handler) for kind, handler in real_build_handlers(*args).items()}


main.build_handlers = build_handlers
sys.argv = [service]
runpy.run_module(f"{service}.__main__", run_name="__main__")
