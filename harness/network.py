"""TCP proxies of the run's own between clients and a server, that misbehave on request: a
chaos run puts one on every connection a service makes to Redis (and on notifications' call
back to payments), a test puts one where it wants a precise fault. ``tc netem`` is not in this
kernel; a proxy of our own is also precise about what it breaks.

A proxy can add latency to every chunk (both ways), lose replies — at random, or the reply to
the next command that contains some bytes (either way the server ran the command; the client
never hears back and its connection is cut) — cut every connection once, or partition:
``blackhole`` holds every byte until healed (a silent network: clients time out), ``refuse``
closes every connection at once (a fast failure). All proxies of a ``Network`` share one event
loop in one thread; their faults are set from any thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine
from typing import Any

from harness.processes import free_port

CHUNK = 65536


class Network:
    """The event loop the proxies run on, in a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="net")
        self._thread.start()
        self.proxies: dict[str, Proxy] = {}

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def proxy(self, name: str, target_port: int, seed: int = 0) -> Proxy:
        """A proxy on a free loopback port to ``target_port``; ``seed`` draws its random drops."""
        proxy = Proxy(self, name, target_port, random.Random(f"{seed}:{name}"))
        self.run(proxy.listen())
        self.proxies[name] = proxy
        return proxy

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.heal()
            self.run(proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class Proxy:
    def __init__(self, net: Network, name: str, target_port: int, rng: random.Random) -> None:
        self.net, self.name, self.target_port, self.rng = net, name, target_port, rng
        self.port = free_port()
        self.delay_s = 0.0
        self.drop = 0.0  # probability that a reply chunk is lost (and its connection cut)
        self.lose_after: bytes | None = None  # the reply to the next command with these bytes
        self.refusing = False
        self.open = asyncio.Event()  # cleared: blackholed
        self.open.set()
        self.dropped = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        self._close_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ---- faults (thread-safe: each is scheduled on the proxies' loop) ----------------------

    def _call(self, fn: Any, *args: Any) -> None:
        self.net.loop.call_soon_threadsafe(fn, *args)

    def set_delay(self, seconds: float) -> None:
        self._call(setattr, self, "delay_s", seconds)

    def set_drop(self, probability: float) -> None:
        self._call(setattr, self, "drop", probability)

    def lose_reply_to(self, command: bytes) -> None:
        """The next time a client sends bytes containing ``command`` (e.g. ``b"BLMOVE"``), the
        server gets them and answers; that answer is lost and its connection cut. Set at once,
        not scheduled: the command the caller sends next must find it armed."""
        self.lose_after = command

    def blackhole(self) -> None:
        self._call(self.open.clear)

    def refuse(self) -> None:
        self._call(setattr, self, "refusing", True)
        self.cut()

    def cut(self) -> None:
        self._call(self._close_all)

    def heal(self) -> None:
        def restore() -> None:
            self.delay_s, self.drop, self.refusing = 0.0, 0.0, False
            self.open.set()

        self._call(restore)

    # ---- forwarding ------------------------------------------------------------------------

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()  # the server is down: so is the connection through us
            return
        self._writers |= {client_w, server_w}
        armed = asyncio.Event()  # this connection's next reply is to be lost
        await asyncio.gather(
            self._pipe(client_r, server_w, armed, reply=False),
            self._pipe(server_r, client_w, armed, reply=True),
            return_exceptions=True,
        )
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        armed: asyncio.Event,
        *,
        reply: bool,
    ) -> None:
        try:
            while data := await reader.read(CHUNK):
                await self.open.wait()  # a partition holds the bytes until it heals
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if reply and (armed.is_set() or (self.drop and self.rng.random() < self.drop)):
                    self.dropped += 1
                    break  # the reply goes nowhere, and the connection with it
                if not reply and self.lose_after is not None and self.lose_after in data:
                    self.lose_after = None
                    armed.set()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()
