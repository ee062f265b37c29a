"""A TCP proxy of the run's own between a client and a server, that misbehaves on request.

``tc netem`` is not available on these machines, and a network fault that matters to Redis
clients is rarely a clean outage: it is a reply that never arrives after the server did the
work. The proxy forwards bytes both ways on a free loopback port, in a thread of its own, and
can be told to lose the reply to the next command that contains some bytes (the server ran the
command; the client's connection is cut before it hears back), or to cut every connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from harness.processes import free_port


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.replies_lost = 0
        self._lose_after: bytes | None = None
        self._lock = threading.Lock()
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> TcpProxy:
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._accept, "127.0.0.1", self.port))
        return self

    def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def lose_reply_to(self, command: bytes) -> None:
        """The next time a client sends bytes containing ``command`` (e.g. ``b"BLMOVE"``), the
        server gets them and answers; the answer is dropped and the connection cut."""
        with self._lock:
            self._lose_after = command

    def cut(self) -> None:
        """Close every connection now (in both directions, as a reset would)."""
        self._loop.call_soon_threadsafe(self._close_all)

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, server_w}
        armed = asyncio.Event()  # the next reply is to be lost
        await asyncio.gather(
            self._pipe(client_r, server_w, watch=armed),
            self._pipe(server_r, client_w, lose=armed),
            return_exceptions=True,
        )
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        watch: asyncio.Event | None = None,
        lose: asyncio.Event | None = None,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if lose is not None and lose.is_set():
                    with self._lock:
                        self.replies_lost += 1
                    break  # the reply goes nowhere, and the connection with it
                if watch is not None:
                    with self._lock:
                        if self._lose_after is not None and self._lose_after in data:
                            self._lose_after = None
                            watch.set()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return  # one side went away: the other is closed by the finally and by _accept
        finally:
            writer.close()
