"""A clean run, made by hand for the checker's self-test and its unit tests: customers with
contacts, orders, payments with and without a refund, each event stored once, published once
on each stream, copied into orders, notified and mailed. chaos.selftest plants anomalies in it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chaos.anomaly import RECEIVED, REFUNDED, settle
from chaos.delivery import message_id

History = list[dict[str, Any]]
State = dict[str, Any]
DAY = "2026-12-07"


def op(op: str, intent: str, at: float, answer: Any = None, **args: Any) -> dict[str, Any]:
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
            op(
                "set_contact",
                f"contact-{i}",
                at,
                contacts[customer],
                customer_id=customer,
                email=contacts[customer]["email"],
            )
        )
        history.append(op("create_order", f"order-{i}", at + 1, {"order_id": order_id}))
        received = {
            "payment_id": pid,
            "order_id": order_id,
            "customer_id": customer,
            "amount": 1000,
            "currency": "EUR",
        }
        events = [_fact(pid, 1, RECEIVED, received, f"pay-{i}")]
        history.append(op("pay", f"pay-{i}", at + 2, {"payment_id": pid, "version": 1}, **received))
        if i % 2:
            events.append(
                _fact(pid, 2, REFUNDED, {"payment_id": pid, "amount": 300}, f"refund-{i}")
            )
            history.append(
                op(
                    "refund",
                    f"refund-{i}",
                    at + 3,
                    {"payment_id": pid, "version": 2},
                    payment_id=pid,
                    amount=300,
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
