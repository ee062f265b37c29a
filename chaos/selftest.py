"""``python -m chaos check --self-test``: the checker on a clean history and state, which must
give no anomaly, and on copies of them with one anomaly planted each, which must be reported
under its kind. A checker that can never fail is worth nothing.

The clean run (:func:`clean`): customers with contacts, orders, payments with and without a
refund, each event stored once, published once on each stream, copied, notified and mailed.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any

from chaos.anomaly import RECEIVED, REFUNDED
from chaos.checker import check, settle
from chaos.delivery import message_id

History = list[dict[str, Any]]
State = dict[str, Any]
DAY = "2026-12-07"


def _op(op: str, intent: str, at: float, answer: Any = None, **args: Any) -> dict[str, Any]:
    return {
        "op": op,
        "intent": intent,
        "client": 0,
        "args": args,
        "invoke": at,
        "complete": at + 0.01,
        "outcome": "ok",
        "status": 200,
        "answer": answer,
        "key": None,
        "error": None,
        "retry_after": None,
        "location": None,
    }


def _fact(pid: str, version: int, kind: str, data: dict[str, Any], intent: str) -> dict[str, Any]:
    return {
        "entry": f"1-{version}",
        "id": f"fact-{pid}-{version}",
        "type": kind,
        "subject": pid,
        "time": f"{DAY}T10:00:00+00:00",
        "version": str(version),
        "correlationid": intent,
        "causationid": None,
        "data": data,
    }


def clean(payments: int = 4) -> tuple[History, State]:
    history: History = []
    facts: dict[str, Any] = {}
    published: dict[str, list[Any]] = {"notifications": [], "state": []}
    copies: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    orders: dict[str, Any] = {}
    contacts: dict[str, Any] = {}
    mails: dict[str, int] = {}
    revenue: Counter[str] = Counter()
    for i in range(payments):
        customer, order_id, pid, at = f"cust-{i}", f"order-{i}", f"payment-{i}", 10.0 * i
        contacts[customer] = {"customer_id": customer, "email": f"{customer}@example.com"}
        history.append(
            _op(
                "set_contact",
                f"contact-{i}",
                at,
                contacts[customer],
                customer_id=customer,
                email=contacts[customer]["email"],
            )
        )
        history.append(_op("create_order", f"order-{i}", at + 1, {"order_id": order_id}))
        received = {
            "payment_id": pid,
            "order_id": order_id,
            "customer_id": customer,
            "amount": 1000,
            "currency": "EUR",
        }
        events = [_fact(pid, 1, RECEIVED, received, f"pay-{i}")]
        history.append(_op("pay", f"pay-{i}", at + 2, {"payment_id": pid}, **received))
        if i % 2:
            events.append(
                _fact(pid, 2, REFUNDED, {"payment_id": pid, "amount": 300}, f"refund-{i}")
            )
            history.append(
                _op(
                    "refund", f"refund-{i}", at + 3, {"payment_id": pid}, payment_id=pid, amount=300
                )
            )
        facts[pid], notes[pid] = events, []
        for event in events:
            for stream in published:
                published[stream].append(
                    {
                        "id": f"{stream}-{event['id']}",
                        "subject": pid,
                        "causationid": event["id"],
                        "type": event["type"],
                    }
                )
            nid = f"notifications-{event['id']}"
            notes[pid].append(
                {"notification_id": nid, "customer_id": customer, "delivery": "sent", "attempts": 1}
            )
            mails[message_id(nid)] = 1
            sign = 1 if event["type"] == RECEIVED else -1
            revenue[DAY] += sign * event["data"]["amount"]
        refunded = 300 if i % 2 else 0
        copies[pid] = {
            "payment_id": pid,
            "version": len(events),
            "amount": 1000,
            "refunded_amount": refunded,
            "order_id": order_id,
        }
        status, paid = settle(1000, [{"amount": 1000, "refunded_amount": refunded}])
        orders[order_id] = {
            "order_id": order_id,
            "total": 1000,
            "currency": "EUR",
            "status": status,
            "paid_amount": paid,
        }
    state = {
        "facts": facts,
        "published": published,
        "copies": copies,
        "notifications": notes,
        "orders": orders,
        "contacts": contacts,
        "revenue": dict(revenue),
        "mails": mails,
        "failed_mail": 0,
        "processes": {"payments": {"alive": True}},
        "healthy": True,
        "exits": [],
        "dead_letters": {"{payments}:state:dead-letters:orders": 0},
        "groups": [
            {"stream": "{payments}:state", "group": "orders", "pending": 0, "behind": False}
        ],
    }
    return history, state


def _lose_refund(h: History, s: State) -> None:
    s["facts"]["payment-1"].pop()  # acknowledged: refund-1


def _duplicate(h: History, s: State) -> None:
    twin = copy.deepcopy(s["facts"]["payment-0"][0])
    s["facts"]["payment-9"] = [twin | {"id": "fact-payment-9-1"}]  # the retry of pay-0, again


def _phantom(h: History, s: State) -> None:
    s["facts"]["payment-0"][0]["correlationid"] = "nobody-asked"


def _server_error(h: History, s: State) -> None:
    h.append(_op("create_order", "order-x", 99.0) | {"status": 500, "outcome": "unknown"})


def _wrong_answer(h: History, s: State) -> None:
    next(op for op in h if op["intent"] == "pay-2")["answer"] = {"payment_id": "payment-3"}


def _no_contact(h: History, s: State) -> None:
    s["notifications"]["payment-2"][0]["delivery"] = "no_contact"


def _set(path: str, value: Any) -> Callable[[History, State], None]:
    """A plant that sets one value in the state, by a dotted path (list indexes as numbers)."""

    def plant(h: History, s: State) -> None:
        *parents, last = path.split(".")
        node: Any = s
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return plant


def _delete_mail(h: History, s: State) -> None:
    del s["mails"][message_id(s["notifications"]["payment-0"][0]["notification_id"])]


def _unpublish(h: History, s: State) -> None:
    s["published"]["state"].pop(0)


def _publish_twice(h: History, s: State) -> None:
    s["published"]["notifications"].append(dict(s["published"]["notifications"][0]))


def _notify_twice(h: History, s: State) -> None:
    s["notifications"]["payment-3"].append(dict(s["notifications"]["payment-3"][0]))


# planted anomaly -> (what it does to a clean run, the kind the checker must report)
CASES: dict[str, tuple[Callable[[History, State], None], str]] = {
    "a lost effect (an acknowledged refund not stored)": (_lose_refund, "lost-effect"),
    "a lost order": (_set("orders.order-2", None), "lost-effect"),
    "a duplicate (one intent stored twice)": (_duplicate, "duplicate-effect"),
    "an event no request made": (_phantom, "phantom-effect"),
    "a wrong answer": (_wrong_answer, "wrong-answer"),
    "a stale copy": (_set("copies.payment-1.version", 1), "stale-copy"),
    "a copy missing": (_set("copies.payment-0", None), "stale-copy"),
    "an order not paid": (_set("orders.order-0.status", "pending_payment"), "order-wrong"),
    "revenue off": (_set(f"revenue.{DAY}", 1), "revenue-wrong"),
    "an unpublished event": (_unpublish, "unpublished"),
    "an event published twice": (_publish_twice, "duplicate-publication"),
    "a publication without its event": (
        _set("published.state.0.causationid", "x"),
        "published-not-stored",
    ),
    "a lost notification": (_set("notifications.payment-1", []), "lost-notification"),
    "a duplicate notification": (_notify_twice, "duplicate-notification"),
    "a lost mail": (_delete_mail, "lost-mail"),
    "a mail never sent": (_set("notifications.payment-0.0.delivery", "queued"), "mail-not-sent"),
    "a contact ignored": (_no_contact, "missing-contact"),
    "a 500": (_server_error, "server-error"),
    "a process that exited": (
        _set("exits", [{"name": "orders", "at": 3.0, "code": 1, "log": "Traceback"}]),
        "process-exited",
    ),
    "a process down at the end": (_set("processes.payments.alive", False), "process-died"),
    "an entry left pending": (_set("groups.0.pending", 2), "left-pending"),
    "a dead letter": (
        _set("dead_letters.{payments}:state:dead-letters:orders", 1),
        "dead-lettered",
    ),
    "mail given up on": (_set("failed_mail", 1), "mail-failed"),
}


def planted(name: str) -> tuple[History, State, str]:
    history, state = clean()
    plant, kind = CASES[name]
    plant(history, state)
    return history, state, kind


def main() -> int:
    failures = 0
    history, state = clean()
    found = check(history, state)
    print(f"{'ok ' if not found else 'FAIL'} a clean run: {len(found)} anomalies")
    failures += bool(found)
    for name in CASES:
        history, state, kind = planted(name)
        kinds = {a.kind for a in check(history, state)}
        caught = kind in kinds
        failures += not caught
        print(f"{'ok ' if caught else 'FAIL'} {name}: {kind} {'reported' if caught else 'MISSED'}")
    print(f"self-test: {len(CASES) + 1 - failures} of {len(CASES) + 1} as they must be")
    return 1 if failures else 0
