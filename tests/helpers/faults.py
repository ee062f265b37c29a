"""What every fault test needs: traffic that records what was acknowledged, and the check that
each acknowledged payment had exactly one effect in each consumer."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from contracts import payments
from contracts.payments import event_stream
from eventkit import dead_letter_stream
from eventkit.event_store import key_of
from eventkit.partitions import Partitions
from notifications import keys as notifications_keys
from orders import adapters as orders_adapters

from harness import Admin, eventually
from tests.helpers.stack import Stack


@dataclass
class Traffic:
    """Posts payments from a few threads until stopped (or ``total`` were acknowledged).

    Only a 201 counts as acknowledged; anything else (503 while Redis is down, a refused
    connection while payments is down) is counted as refused and is not expected anywhere.
    """

    stack: Stack
    order_id: str
    customer_id: str
    total: int | None = None
    threads: int = 4
    acknowledged: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.threads)
        self._runs: list[Future[None]] = []

    def start(self) -> Traffic:
        self._runs = [self._pool.submit(self._post_until_stopped) for _ in range(self.threads)]
        return self

    def _post_until_stopped(self) -> None:
        body = {
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "amount": 100,
            "currency": "EUR",
        }
        with httpx.Client(base_url=self.stack["payments"].url, timeout=5) as client:
            while not self._stop.is_set():
                with self._lock:
                    if self.total is not None and len(self.acknowledged) >= self.total:
                        return
                try:
                    response = client.post("/payments", json=body)
                except httpx.TransportError as exc:
                    self._refuse(type(exc).__name__)
                    continue
                if response.status_code == 201:
                    with self._lock:
                        self.acknowledged.append(response.json()["payment_id"])
                else:
                    self._refuse(str(response.status_code))

    def _refuse(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1
        self._stop.wait(0.05)  # the server is down: do not spin

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def stop(self) -> list[str]:
        self._stop.set()
        self._pool.shutdown(wait=True)
        for run in self._runs:
            run.result()  # re-raises what a thread raised
        return list(self.acknowledged)

    def wait(self, timeout: float = 120) -> list[str]:
        """Wait until ``total`` payments were acknowledged."""
        total = self.total
        assert total is not None
        eventually(lambda: self.count() >= total, timeout=timeout, what="the traffic")
        return self.stop()


def check_exactly_once(
    stack: Stack, payment_ids: list[str], timeout: float = 60, dead_letters: bool = False
) -> None:
    """Every acknowledged payment: its latest state copied once into orders, one notification per
    event in notifications; then both groups have nothing pending and nothing undelivered on
    every partition, and (unless ``dead_letters``) nothing was dead-lettered."""
    partitions = stack.partitions
    client = stack.admin()
    try:
        versions = _versions(client, partitions, payment_ids)
        eventually(
            lambda: _groups_drained(client, partitions), timeout=timeout, what="groups drained"
        )
        tags = {p: partitions.tag(orders_adapters.NAMESPACE, p) for p in partitions}
        generations = {
            p: int(client.get(orders_adapters.generation_key(t)) or 0) for p, t in tags.items()
        }
        partition = {p: partitions.of(event_stream(p)) for p in payment_ids}
        copies = _pipeline(
            client,
            [
                orders_adapters.copy_key(generations[partition[p]], p, tags[partition[p]])
                for p in payment_ids
            ],
            "get",
        )
        wrong_copies = [
            p
            for p, c in zip(payment_ids, copies, strict=True)
            if c is None or _version_of(c) != versions[p]
        ]
        assert wrong_copies == [], f"{len(wrong_copies)} payments not copied right into orders"
        indexes = [
            notifications_keys.by_payment_key(
                p, partitions.tag(notifications_keys.NAMESPACE, partition[p])
            )
            for p in payment_ids
        ]
        counts = _pipeline(client, indexes, "zcard")
        wrong_counts = {
            p: (n, versions[p])
            for p, n in zip(payment_ids, counts, strict=True)
            if n != versions[p]
        }
        assert wrong_counts == {}, f"notifications per payment (found, expected): {wrong_counts}"
        for group, stream in streams(partitions) if not dead_letters else ():
            dead = client.xlen(dead_letter_stream(stream, group))
            assert dead == 0, f"{group} dead-lettered {dead} events from {stream}"
    finally:
        client.close()


def streams(partitions: Partitions) -> list[tuple[str, str]]:
    """(group, stream) for both groups on every partition of payments' public streams."""
    return [
        (group, partitions.key(payments.NAMESPACE, p, name))
        for p in partitions
        for group, name in (("orders", payments.STATE), ("notifications", payments.NOTIFICATIONS))
    ]


def _versions(client: Admin, partitions: Partitions, payment_ids: list[str]) -> dict[str, int]:
    """Ground truth from the event store: how many events each payment has."""
    keys = [key_of(payments.NAMESPACE, event_stream(p), partitions) for p in payment_ids]
    lengths = _pipeline(client, keys, "xlen")
    missing = [p for p, n in zip(payment_ids, lengths, strict=True) if n == 0]
    assert missing == [], f"{len(missing)} acknowledged payments are not in the event store"
    return dict(zip(payment_ids, lengths, strict=True))


def _groups_drained(client: Admin, partitions: Partitions) -> bool:
    """Nothing pending, and the group has been given the stream's newest entry.

    Not XINFO's ``lag``: Redis reports it as null when it cannot count (after a restart from the
    append-only file, or a trim), and null must not read as "no lag".
    """
    for group, stream in streams(partitions):
        if not client.exists(stream):
            continue  # no payment of this partition yet
        newest = client.xinfo_stream(stream)["last-generated-id"]
        info = next(g for g in client.xinfo_groups(stream) if g["name"] == group.encode())
        if info["pending"] or info["last-delivered-id"] != newest:
            return False
    return True


def _pipeline(client: Admin, keys: list[str], command: str) -> list[Any]:
    """One command per key, pipelined (a cluster client sends each node its own keys)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        getattr(pipe, command)(key)
    return pipe.execute()


def _version_of(copy: object) -> int:
    assert isinstance(copy, bytes)
    return int(json.loads(copy)["version"])
