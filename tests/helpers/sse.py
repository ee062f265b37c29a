"""A Server-Sent Events client for the tests, over httpx: the wire format, parsed as the
HTML standard says (the parts the console sends: event, data, id, retry, comments)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

COMMENT = ":"  # the ``event`` of a comment line, e.g. the keep-alive ping ": ping"


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" when the server names none; COMMENT for a comment
    data: str
    id: str | None  # the id field of this event, if it had one
    retry: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


async def events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """The events of a streamed ``response``, as they arrive."""
    event, data, event_id, retry = "message", list[str](), None, None
    async for line in response.aiter_lines():
        if line == "":  # a blank line dispatches the event
            if data:
                yield SseEvent(event, "\n".join(data), event_id, retry)
            event, data, event_id, retry = "message", [], None, None
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            yield SseEvent(COMMENT, value, None)
        elif name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)


def stream(
    client: httpx.AsyncClient, url: str, last_event_id: str | None = None
) -> Any:  # httpx's stream context manager
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return client.stream("GET", f"{url}/events", headers=headers, timeout=httpx.Timeout(30.0))
