"""The run's mail server: a real SMTP server (aiosmtpd) in a thread of the run, on a port of
its own, that keeps the Message-ID of every mail it accepts. ``down()`` stops listening (the
SMTP server is down: connections are refused); ``up()`` listens again on the same port."""

from __future__ import annotations

import threading
from collections import Counter
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

from harness import free_port


class Mailbox:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, free_port()
        self.received: Counter[str] = Counter()  # Message-ID -> times accepted
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(bytes(envelope.content), policy=policy.default)
        with self._lock:
            self.received[str(mail["Message-ID"] or "").strip()] += 1
        return "250 2.0.0 OK: kept"

    def up(self) -> None:
        if self._controller is None:
            controller = Controller(self, hostname=self.host, port=self.port)
            controller.start()
            self._controller = controller

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> dict[str, int]:
        with self._lock:
            return dict(self.received)
