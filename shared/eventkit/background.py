"""A loop run in a background task for the duration of a block: how a service's lifespan runs
its consumers, queue workers and projection runners.

Each of those has ``run()`` (the loop) and ``stop()`` (ask it to end); this starts the one,
calls the other on the way out, waits a bounded time for the loop to end, and reports a loop
that stopped on an error it could not wait out (``on_failure``: a service exits with it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def in_background(
    run: Callable[[], Coroutine[Any, Any, None]],
    stop: Callable[[], None],
    *,
    name: str,
    stop_timeout_s: float,
    on_failure: Callable[[BaseException], None] | None = None,
) -> AsyncIterator[asyncio.Task[None]]:
    """``run()`` in a task named ``name`` while the block runs; ``stop()`` after it."""
    task = asyncio.create_task(run(), name=name)
    if on_failure is not None:
        report = on_failure

        def reported(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and (error := done.exception()) is not None:
                report(error)

        task.add_done_callback(reported)
    try:
        yield task
    finally:
        stop()
        try:  # bounded: each loop wakes within its own timeout (a blocked read, a take)
            await asyncio.wait_for(task, timeout=stop_timeout_s)
        except Exception:
            if on_failure is None:
                raise
            # Otherwise on_failure was told already, when the loop stopped.
