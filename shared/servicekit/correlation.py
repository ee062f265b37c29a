"""Which conversation a request belongs to, and which request it is.

``X-Correlation-ID`` (optional, from the client) names the conversation; every event a request
makes carries it as ``correlationid`` (or, without one, the id of the request's first event).
``X-Request-ID`` (the client's, or a new one) names the request; the events it makes carry it
as ``causationid``. Both are answered back in the response headers, and the correlation id is
in every log line written while the request is served.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.logs import correlation_id
from servicekit.problems import problem

# Visible ASCII, bounded: an id a client sends ends up in events and logs.
ACCEPTED = re.compile(r"[\x21-\x7e]{1,128}")


class Correlation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = {name: headers.get(name) for name in ("x-correlation-id", "x-request-id")}
        refused = [n for n, v in given.items() if v is not None and not ACCEPTED.fullmatch(v)]
        if refused:
            detail = f"{refused[0]}: 1 to 128 visible ASCII characters, or none"
            await problem(422, detail)(scope, receive, send)
            return
        correlation = given["x-correlation-id"]
        request = given["x-request-id"] or str(uuid.uuid4())
        scope.setdefault("state", {}).update(correlation_id=correlation, request_id=request)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                answer["X-Request-ID"] = request
                if correlation:
                    answer["X-Correlation-ID"] = correlation
            await send(message)

        token = correlation_id.set(correlation)
        try:
            await self.app(scope, receive, sending)
        finally:
            correlation_id.reset(token)
