"""Seeing a key written without polling: Redis keyspace notifications, read by a thread.

The bench switches them on for its private Redis (``notify-keyspace-events K$z``) and
subscribes to the prefixes of the keys that mark a payment's arrival (bench/e2e.py): orders'
copy (``set``) and notifications' index by payment (``zadd``). A thread (blocking reads) rather
than the bench's event loop, so that a stamp does not wait for the loop to finish sending other
requests.
"""

from __future__ import annotations

import threading
import time
import uuid

import redis
from notifications.keys import by_payment_key
from orders.adapters import copy_key

# What is watched: the key prefix (generation 0: Redis is flushed) and the command that writes it.
WATCHED = {
    "paid": (copy_key(0, ""), b"set"),
    "notified": (by_payment_key(""), b"zadd"),
}
CHANNEL = "__keyspace@0__:"


class KeyspaceListener(threading.Thread):
    """Stamps the first write of every watched key, by kind (``paid``, ``notified``)."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(name="keyspace-listener", daemon=True)
        self.client = redis.Redis.from_url(redis_url)
        self.seen: dict[str, dict[str, float]] = {kind: {} for kind in WATCHED}
        self._stopping = threading.Event()
        self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)

    def start(self) -> None:
        self.client.config_set("notify-keyspace-events", "K$z")
        self._pubsub.psubscribe(*(f"{CHANNEL}{prefix}*" for prefix, _ in WATCHED.values()))
        super().start()
        # Subscribed for sure once a probe write is seen.
        probe = f"probe-{uuid.uuid4().hex}"
        prefix = WATCHED["paid"][0]
        deadline = time.monotonic() + 5
        while probe not in self.seen["paid"]:
            self.client.set(prefix + probe, "probe", px=1000)
            time.sleep(0.01)  # blocks the bench's loop for a moment, before any load starts
            if time.monotonic() > deadline:
                raise RuntimeError("keyspace notifications do not arrive")

    def run(self) -> None:
        watched = [
            (kind, f"{CHANNEL}{prefix}".encode(), command)
            for kind, (prefix, command) in WATCHED.items()
        ]
        while not self._stopping.is_set():
            message = self._pubsub.get_message(timeout=0.05)
            if message is None:
                continue
            now = time.monotonic()
            channel = message["channel"]
            for kind, prefix, command in watched:
                if message["data"] == command and channel.startswith(prefix):
                    self.seen[kind].setdefault(channel[len(prefix) :].decode(), now)

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=2)
        try:
            self._pubsub.close()
            self.client.config_set("notify-keyspace-events", "")
        finally:
            self.client.close()
