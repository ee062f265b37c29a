"""The checker: reads a run's history and the final state (chaos.state) and names every
anomaly, each with the operations (or stored entries) involved. Pure: no I/O.

The invariants are issue 26's; each anomaly kind below says which one broke:

- ``lost-effect``: an acknowledged write (201/200) whose effect is not in the state.
- ``duplicate-effect``: one intent (all the retries of one request) stored twice.
- ``phantom-effect``: a stored event no request could have made (unknown intent, or one every
  attempt of which was refused).
- ``wrong-answer``: the answer named another payment than the one stored.
- ``damaged-history``: a payment's events do not run 1, 2, … from a PaymentReceived.
- ``unpublished`` / ``duplicate-publication`` / ``published-not-stored``: stored ⇔ published,
  once on each public stream.
- ``stale-copy``: orders' copy of a payment is not the fold of its events.
- ``order-wrong``: an order's status or paid amount is not what its payments make it.
- ``revenue-wrong``: the revenue of a day is not the sum of that day's events.
- ``lost-notification`` / ``duplicate-notification`` / ``phantom-notification``: exactly one
  notification per event.
- ``lost-mail``, ``mail-not-sent``, ``missing-contact``, ``phantom-mail`` (a mail no
  notification with a contact accounts for): every notification with a contact
  has its mail sent (a mail sent twice with one Message-ID is counted, not an anomaly).
- ``stale-read``: a read of a payment older than a write acknowledged before it was asked for.
- ``server-error``: a 5xx other than 503 with Retry-After (or with Location: stored, not yet
  confirmed by a replica; the careful client reads it there).
- ``process-exited`` / ``process-died``: a process exited by itself / is not up at the end.
- ``left-pending``, ``dead-lettered``, ``mail-failed``: work left behind.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from chaos.anomaly import RECEIVED, REFUNDED, Anomaly, fold, intents_of, settle
from chaos.delivery import health, notifications, reads

WRITES = {"pay": RECEIVED, "refund": REFUNDED}


def check(history: list[dict[str, Any]], state: dict[str, Any]) -> list[Anomaly]:
    found: list[Anomaly] = []
    folds = {pid: fold(events) for pid, events in state["facts"].items()}
    for part in (_effects, _published, _copies, _orders, notifications, reads, health):
        found += part(history, state, folds)
    return found


def _effects(history: list[dict[str, Any]], state: dict[str, Any], folds: Any) -> list[Anomaly]:
    found = []
    made: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for pid, events in state["facts"].items():
        versions = [int(e["version"] or 0) for e in events]
        if versions != list(range(1, len(events) + 1)) or events[0]["type"] != RECEIVED:
            found.append(Anomaly("damaged-history", f"payment {pid}: versions {versions}"))
        for event in events:
            made[event["correlationid"]].append((pid, event))
    intents = intents_of(history)
    for intent, ops in intents.items():
        kind = WRITES.get(ops[0]["op"])
        if kind is None:
            continue
        stored = [(pid, e) for pid, e in made.get(intent, []) if e["type"] == kind]
        acked = [op for op in ops if op["outcome"] == "ok" and op["op"] == ops[0]["op"]]
        ids = [e["id"] for _, e in stored]
        if acked and not stored:
            found.append(Anomaly("lost-effect", f"{intent}: acknowledged, not stored", acked))
        if len(stored) > 1:
            found.append(
                Anomaly("duplicate-effect", f"{intent}: stored {len(stored)} times ({ids})", ops)
            )
        if stored and all(op["outcome"] == "fail" for op in ops if op["op"] == ops[0]["op"]):
            found.append(Anomaly("phantom-effect", f"{intent}: refused, yet stored {ids}", ops))
        for op in acked:
            pid = op["answer"].get("payment_id") if isinstance(op["answer"], dict) else None
            if stored and pid not in {p for p, _ in stored}:
                found.append(
                    Anomaly(
                        "wrong-answer",
                        f"{intent}: answered {pid}, stored {[p for p, _ in stored]}",
                        [op],
                    )
                )
    for correlation, events in made.items():
        if correlation not in intents:
            found.append(
                Anomaly(
                    "phantom-effect",
                    f"stored by no request: {correlation}",
                    [e["id"] for _, e in events],
                )
            )
    contacts = state.get("contacts", {})
    for intent, ops in intents.items():
        contact_set = ops[0]["op"] == "set_contact" and any(op["outcome"] == "ok" for op in ops)
        if contact_set and not contacts.get(ops[0]["args"]["customer_id"]):
            found.append(Anomaly("lost-effect", f"{intent}: contact set, not kept", ops))
    for op in history:
        placed = op["op"] == "create_order" and op["outcome"] == "ok"
        if placed and state["orders"].get(op["answer"]["order_id"]) is None:
            found.append(Anomaly("lost-effect", "order acknowledged, not kept", [op]))
    return found


def _published(history: Any, state: dict[str, Any], folds: Any) -> list[Anomaly]:
    found = []
    facts = {e["id"]: (pid, e) for pid, es in state["facts"].items() for e in es}
    for stream, entries in state["published"].items():
        causes = Counter(e["causationid"] for e in entries)
        for fact_id, (pid, event) in facts.items():
            if causes[fact_id] == 0:
                found.append(
                    Anomaly(
                        "unpublished",
                        f"{pid} v{event['version']} ({event['type']}) not on {stream}",
                        [fact_id],
                    )
                )
            elif causes[fact_id] > 1:
                found.append(
                    Anomaly(
                        "duplicate-publication",
                        f"{pid} v{event['version']} {causes[fact_id]} times on {stream}",
                        [fact_id],
                    )
                )
        for entry in entries:
            if entry["causationid"] not in facts:
                found.append(
                    Anomaly(
                        "published-not-stored",
                        f"{entry['subject']} on {stream}: no stored event caused it",
                        [entry["id"]],
                    )
                )
    return found


def _copies(history: Any, state: dict[str, Any], folds: dict[str, Any]) -> list[Anomaly]:
    found = []
    for pid, truth in folds.items():
        copy = state["copies"].get(pid)
        fields = ("version", "amount", "refunded_amount", "order_id")
        if copy is None or any(copy.get(f) != truth[f] for f in fields):
            found.append(
                Anomaly("stale-copy", f"{pid}: orders has {copy}, the events make {truth}", [pid])
            )
    expected: Counter[str] = Counter()
    for events in state["facts"].values():
        for e in events:
            amount = e["data"]["amount"] if e["type"] == RECEIVED else -e["data"]["amount"]
            expected[datetime.fromisoformat(e["time"]).date().isoformat()] += amount
    revenue = {d: v for d, v in state["revenue"].items() if v}
    if revenue != {d: v for d, v in expected.items() if v}:
        found.append(
            Anomaly("revenue-wrong", f"revenue {revenue}, the events make {dict(expected)}")
        )
    return found


def _orders(history: Any, state: dict[str, Any], folds: dict[str, Any]) -> list[Anomaly]:
    found = []
    by_order = defaultdict(list)
    for fold_ in folds.values():
        by_order[fold_["order_id"]].append(fold_)
    for order_id, order in state["orders"].items():
        if order is None:
            continue  # an unacknowledged order that is not there: _effects judges the acked
        mine = [p for p in by_order[order_id] if p["currency"] == order["currency"]]
        status, paid = settle(order["total"], mine)
        if (order["status"], order["paid_amount"]) != (status, paid):
            found.append(
                Anomaly(
                    "order-wrong",
                    f"order {order_id}: {order['status']} "
                    f"{order['paid_amount']}, its payments make {status} {paid}",
                    [order_id],
                )
            )
    return found
