"""`make run`'s mail server: it takes every mail over SMTP, writes it to a file and prints one
line, and sends nothing on. A local stand-in for a real mail server, as Mailpit is under docker
compose (where it also has a web UI).

    python scripts/mail_sink.py --port 1025 --dir .run/mail

Each mail becomes ``<dir>/<Message-ID>.eml``. A mail whose Message-ID came before is a
duplicate (a worker died after this server took it, before the queue heard of it): it is kept
beside the first as ``…-2.eml`` and its line says so.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP


class Sink:
    """aiosmtpd's handler: every mail is taken (250), written, and told in one line."""

    def __init__(self, directory: Path, say: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.say = say or (lambda line: print(line, flush=True))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        line = await asyncio.to_thread(self.keep, bytes(envelope.content), envelope.rcpt_tos)
        self.say(line)
        return "250 2.0.0 OK: kept, not sent"

    def keep(self, raw: bytes, recipients: list[str]) -> str:
        """Write the mail to its file; return the line that tells of it."""
        mail = message_from_bytes(raw, policy=policy.default)
        message_id = str(mail["Message-ID"] or "").strip()
        stem = re.sub(r"[^A-Za-z0-9._@-]", "", message_id)[:120] or "no-message-id"
        path, copy = self.directory / f"{stem}.eml", 1
        while path.exists():
            copy += 1
            path = self.directory / f"{stem}-{copy}.eml"
        path.write_bytes(raw)
        again = "  (again: the same Message-ID as before)" if copy > 1 else ""
        subject = str(mail["Subject"] or "").strip()
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        return f"to {', '.join(recipients)}  {subject!r}  {message_id} -> {shown}{again}"


async def serve(host: str, port: int, directory: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(directory)), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"SMTP on {host}:{port}: every mail into {directory}/, one line here", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path(".run/mail"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.host, args.port, args.dir))


if __name__ == "__main__":
    main()
