"""A total deadline for every request: an answer within ``REQUEST_TIMEOUT_S``, or a 503.

Without one, a request waits as long as its slowest dependency lets it: a Redis that stalls
(a frozen process, a partition that drops packets) holds a request for the client library's
socket timeout (10 s), and longer if anything were retried. A client that gives up first
cannot tell "not done" from "done, answer lost", and a server that piles up waiting requests
runs out of them. So the whole request gets one deadline; past it the work is cancelled and the
client gets 503 with ``Retry-After``, within the deadline. Retrying a write is safe with its
``Idempotency-Key``; the client library never retries by itself (eventkit.connection).

The deadline runs until the response starts: a response that streams (the console's Server-Sent
Events) is not cut once its headers are out.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.problems import RETRY_AFTER_S, problem

log = logging.getLogger(__name__)


class Deadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.timeout(self.seconds)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if deadline.expired():
                    # The deadline passed while this answer was being made, without the work
                    # being cut (a process frozen past it wakes up with both due; found by a
                    # chaos run on the Docker stack, docs/chaos.md). A cancellation still
                    # pending is delivered here, before a byte goes out, and the deadline's 503
                    # answers; one absorbed on the way leaves the answer made to go out as is.
                    await asyncio.sleep(0)
                else:
                    deadline.reschedule(None)  # the answer has begun: let it stream
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, sending)
        except TimeoutError:
            if not deadline.expired():  # the app's own, not the deadline
                raise
            log.warning(
                "%s %s: no answer within %g s", scope["method"], scope["path"], self.seconds
            )
            response = problem(
                503, f"no answer within {self.seconds:g} s (a dependency is slow): retry shortly"
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            await response(scope, receive, send)
