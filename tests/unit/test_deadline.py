"""servicekit.Deadline when the deadline and the answer fall due together: a process frozen
past the deadline (SIGSTOP, `docker pause`) wakes up with its answer ready and the deadline
expired. Found by a chaos run on the Docker stack (docs/chaos.md): the middleware then
failed the request with 500 ("Cannot change state of expiring Timeout")."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
from servicekit.deadline import Deadline
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

DEADLINE_S = 0.05


def frozen() -> None:
    """The whole process stopped past the deadline: no timer of its event loop can fire."""
    time.sleep(3 * DEADLINE_S)


async def frozen_then_answers(scope: Scope, receive: Receive, send: Send) -> None:
    frozen()
    # Awake: the deadline fires here and cancels the work, and the cancellation is absorbed
    # on the way, as a client library closing a broken connection may.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(0.01)
    await PlainTextResponse("made", status_code=503)(scope, receive, send)


async def frozen_then_awaits(scope: Scope, receive: Receive, send: Send) -> None:
    frozen()
    await asyncio.sleep(1)  # the cancellation arrives while it waits
    await PlainTextResponse("never")(scope, receive, send)


async def get(app: Deadline) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/payments/p-1")


async def test_an_answer_made_as_the_deadline_expired_goes_out_not_a_500() -> None:
    response = await get(Deadline(frozen_then_answers, DEADLINE_S))
    assert (response.status_code, response.text) == (503, "made")


async def test_work_cut_by_the_deadline_answers_503_with_retry_after() -> None:
    response = await get(Deadline(frozen_then_awaits, DEADLINE_S))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "no answer within" in response.json()["detail"]
