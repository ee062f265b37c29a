"""`make demo`, steps 11-14: the event store's features (docs/event-store.md), one step each.

Schema evolution (PaymentReceived version 2 beside version 1), time travel, snapshots, and
orders' revenue projection. SNAPSHOT_EVERY is read like the services read it (the environment,
then .env), so the snapshot step makes enough events to reach one.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import redis
from contracts.payments import STATE_STREAM
from walkthrough import call, show, step, wait_for


def stored(client: redis.Redis, payment_id: str) -> list[dict[str, str]]:
    """A payment's event stream as redis-cli XRANGE shows it (as admin: payments' private keys)."""
    entries = client.xrange(f"{{payments}}:payment-{payment_id}")
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def event_store_steps(client: redis.Redis, payments: str, orders: str, customer: str) -> None:
    step(11, "Schema evolution: PaymentReceived version 2 says how it was paid", "event sourcing")
    order = call("POST", f"{orders}/orders", json={"customer_id": customer, "total": 3000})
    body = {"order_id": order["order_id"], "customer_id": customer, "amount": 3000}
    paid = call("POST", f"{payments}/payments", json={**body, "currency": "EUR", "method": "card"})
    pid = paid["payment_id"]
    show("its stored event (dataschema names version 2)", stored(client, pid)[0])
    # Demo shortcut: a payment stored as the release before methods stored it, written here by
    # hand (only payments writes its event store otherwise; a test does the same).
    old = str(uuid.uuid4())
    data = {"payment_id": old, "order_id": "ord-old", "customer_id": customer, "amount": 900}
    client.xadd(f"{{payments}}:payment-{old}", old_entry(old, {**data, "currency": "EUR"}))
    show("an old payment's stored event (no dataschema: version 1)", stored(client, old)[0])
    show("upcast on read: method null", call("GET", f"{payments}/payments/{old}/events")[0])

    step(12, "Time travel: the state after any version, at any moment", "event sourcing")
    for amount in (500, 700, 300):
        call("POST", f"{payments}/payments/{pid}/refunds", json={"amount": amount})
    show("after version 2", call("GET", f"{payments}/payments/{pid}", params={"version": 2}))
    history = call("GET", f"{payments}/payments/{pid}/events", params={"from_version": 2})
    first_ms = int(stored_position(client, pid).split("-")[0])
    moment = datetime.fromtimestamp(first_ms / 1000, UTC).isoformat()
    then = call("GET", f"{payments}/payments/{pid}", params={"at": moment})
    show(f"at {moment} (when Redis stored version 1)", then)
    print(f"     versions 2 on: {[(h['version'], h['data']['amount']) for h in history]}")
    missing = call("GET", f"{payments}/payments/{pid}", params={"version": 9}, expect=404)
    show("past the end", missing["detail"])

    every = int(os.environ.get("SNAPSHOT_EVERY", "100"))
    step(13, f"Snapshots: one every {every} events, a cache of the fold", "event sourcing")
    if every == 0:
        print("     SNAPSHOT_EVERY=0: snapshots are off")
    else:
        snapshot_steps(client, payments, customer, every)

    step(14, "Orders' revenue: a catch-up projection of the state stream", "projection")
    newest = client.xrevrange(STATE_STREAM, count=1)[0][0].decode()
    params = {"currency": "EUR"}

    def caught_up() -> Any:
        report = call("GET", f"{orders}/revenue", params=params)
        return report if _entry(report["as_of"]) >= _entry(newest) else None

    show("today's net revenue in EUR", wait_for("the projection to catch up", caught_up))


def snapshot_steps(client: redis.Redis, payments: str, customer: str, every: int) -> None:
    body = {"order_id": "ord-long", "customer_id": customer, "amount": every + 10}
    pid = call("POST", f"{payments}/payments", json={**body, "currency": "EUR"})["payment_id"]
    print(f"     {every + 4} refunds of 0.01 EUR (calls not shown)")
    for _ in range(every + 4):
        call_quietly(f"{payments}/payments/{pid}/refunds")
    key = f"{{payments}}:snapshot:payment-{pid}"
    snapshot = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
    show(f"HGETALL {key}", {**snapshot, "state": json.loads(snapshot.get("state", "{}"))})
    before = call("GET", f"{payments}/payments/{pid}")
    print(f"     a read folds the snapshot and the {before['version'] - every} events after it")
    client.delete(key)  # an operator clearing the cache: no answer may change
    after = call("GET", f"{payments}/payments/{pid}")
    show("deleted it: the same answer", "yes" if after == before else f"NO: {after}")


def call_quietly(url: str) -> None:
    httpx.post(url, json={"amount": 1}, timeout=10).raise_for_status()


def stored_position(client: redis.Redis, payment_id: str) -> str:
    [(entry_id, _)] = client.xrange(f"{{payments}}:payment-{payment_id}", count=1)
    return str(entry_id.decode())


def old_entry(payment_id: str, data: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(uuid.uuid4()),
        "source": "payments",
        "type": "PaymentReceived",
        "time": datetime.now(UTC).isoformat(),
        "subject": payment_id,
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": json.dumps(data, separators=(",", ":")),
        "version": "1",
    }


def _entry(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)
