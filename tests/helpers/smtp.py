"""A real SMTP server for the tests (aiosmtpd), in a thread of the test process, on a free port.

It keeps every message it accepts (parsed, and the bytes as received) and can be told how to
answer the next DATA commands: accept (250), refuse for now (451), refuse for good (550), hang
(never answer), stall until released (undecided: a client that goes away meanwhile delivered
nothing), or take the mail and then stall the reply (the client may never hear it was taken). It can
be stopped and started again on the same port (a server that is down). Fixture: ``smtp_server``
in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from harness import eventually, free_port

ACCEPT = "250 2.0.0 OK: queued"
LATER = "451 4.3.0 mailbox busy, try again later"
NEVER = "550 5.1.1 no such mailbox here"
STALL = "stall"  # hold the DATA command, undecided, until released: then accept
TAKE_THEN_STALL = "take, then stall"  # take the mail, then hold the 250 until released
HANG = "hang"  # hold the DATA command until the server stops: the client's timeout must act


@dataclass(frozen=True)
class Received:
    mail: EmailMessage
    raw: bytes
    recipients: tuple[str, ...]

    def header(self, name: str) -> str:
        """A header's value. A long one is folded on the wire (``Subject:`` CRLF, a space, the
        text: legal SMTP), and Python's parser keeps that space: stripped here."""
        return str(self.mail[name]).strip()

    @property
    def message_id(self) -> str:
        return self.header("Message-ID")


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.replies: deque[str] = deque()  # the answers to the next DATA commands, in turn
        self.default = ACCEPT  # the answer once those are used up
        self.data_at: list[float] = []  # when each DATA command came (monotonic)
        self.stalled = threading.Event()  # set while a DATA command is held
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._release: asyncio.Event | None = None

    # ---- running ------------------------------------------------------------------------

    def start(self) -> SmtpServer:
        controller = Controller(self, hostname="127.0.0.1", port=self.port)
        controller.start()
        self._controller, self._release = controller, None
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused (a server that is down)."""
        if self._controller is not None:
            self.release()
            self._controller.stop()
            self._controller = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def env(self) -> dict[str, str]:
        """What a notifications process needs to send here."""
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port)}

    # ---- what it answers ----------------------------------------------------------------

    def answer(self, *replies: str, then: str = ACCEPT) -> None:
        with self._lock:
            self.replies = deque(replies)
            self.default = then

    def release(self) -> None:
        """Let a stalled DATA command go on (it is accepted). If its client went away
        meanwhile, aiosmtpd has dropped the session: a mail held undecided is not taken."""
        self.stalled.clear()
        if self._controller is not None and self._release is not None:
            self._controller.loop.call_soon_threadsafe(self._release.set)

    # ---- what it got --------------------------------------------------------------------

    def by_message_id(self) -> Counter[str]:
        with self._lock:
            return Counter(r.message_id for r in self.received)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        eventually(lambda: len(self.received) >= count, timeout=timeout, what=f"{count} mails")
        with self._lock:
            return list(self.received)

    # ---- aiosmtpd's handler hook ----------------------------------------------------------

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.data_at.append(time.monotonic())
            reply = self.replies.popleft() if self.replies else self.default
        if reply == HANG:
            await asyncio.Event().wait()  # cancelled when the server stops
        if reply == TAKE_THEN_STALL:
            self._take(envelope)
        if reply in (STALL, TAKE_THEN_STALL):
            self._release = release = asyncio.Event()
            self.stalled.set()
            await release.wait()
            return ACCEPT if reply == TAKE_THEN_STALL else self._take(envelope)
        return self._take(envelope) if reply.startswith("250") else reply

    def _take(self, envelope: Any) -> str:
        raw = bytes(envelope.content)
        mail = message_from_bytes(raw, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        with self._lock:
            self.received.append(Received(mail, raw, tuple(envelope.rcpt_tos)))
        return ACCEPT
