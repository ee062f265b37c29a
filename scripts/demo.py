"""`make demo`: the three patterns, step by step, the mail that notifications sends through its
work queue, then the event store's features (scripts/event_store_demo.py), against a running
system: `make run`'s. From step 4 on it reads Redis as admin (and writes there in steps 11 and
13), where scripts/local.py says make run's Redis is, or at REDIS_URL. The compose stack and
Kubernetes do not publish Redis: publish it to this machine and set REDIS_URL to its admin user
first (docs/containers.md, docs/kubernetes.md). The client is a single-node one: not for a Redis
Cluster. Set PAYMENTS_URL, ORDERS_URL, NOTIFICATIONS_URL, CONSOLE_URL, MAILPIT_URL to point
elsewhere than the local defaults.
"""

from __future__ import annotations

import json
import os
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import uuid4

import httpx
import local
import redis
from contracts.payments import NOTIFICATION_STREAM, STATE_STREAM
from event_store_demo import event_store_steps
from walkthrough import BOLD, RESET, call, show, step, wait_for

PAYMENTS = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8001")
ORDERS = os.environ.get("ORDERS_URL", "http://127.0.0.1:8002")
NOTIFICATIONS = os.environ.get("NOTIFICATIONS_URL", "http://127.0.0.1:8003")
CONSOLE = os.environ.get("CONSOLE_URL", "http://127.0.0.1:8004")
MAILPIT = os.environ.get("MAILPIT_URL", "http://127.0.0.1:8025")  # docker compose's mail UI


def on_the_wire(client: redis.Redis, stream: str, payment_id: str) -> list[dict[str, Any]]:
    """The entries of ``stream`` about this payment, as redis-cli XRANGE would show them."""
    entries = client.xrevrange(stream, count=200)
    return [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in reversed(entries)
        if fields.get(b"subject") == payment_id.encode()
    ]


def the_mail(notification_id: str) -> str:
    """The mail of a notification, as it arrived: in make run's sink (.run/mail/), or in
    Mailpit under docker compose. Its Message-ID starts with the notification's id."""
    for path in sorted((local.RUN / "mail").glob(f"{notification_id}@*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        text = mail.get_body(("plain",))
        headers = "\n".join(f"{h}: {str(mail[h]).strip()}" for h in ("From", "To", "Subject"))
        body = text.get_content() if text is not None else ""
        return (
            f"{path.relative_to(local.ROOT)}\n{headers}\nMessage-ID: {mail['Message-ID']}\n\n{body}"
        )
    try:
        found = httpx.get(f"{MAILPIT}/api/v1/messages", timeout=5).json()["messages"]
    except (httpx.HTTPError, ValueError, KeyError):
        return "not in .run/mail/, and no Mailpit answers at " + MAILPIT
    for mail in found:
        if str(mail.get("MessageID", "")).strip("<>").startswith(f"{notification_id}@"):
            return f"in Mailpit ({MAILPIT}): {mail['Subject']!r} to {mail['To'][0]['Address']}"
    return f"not (yet) in Mailpit: look at {MAILPIT}"


def main() -> None:
    local.load_settings()
    # To show the events on the wire it reads the streams: as admin on make run's Redis.
    client = redis.Redis.from_url(local.redis_url("admin"))
    customer = f"cust-{uuid4().hex[:6]}"

    step(1, "Tell notifications where to mail the customer")
    contact = {"email": f"{customer}@example.com"}
    show("contact", call("PUT", f"{NOTIFICATIONS}/customers/{customer}/contact", json=contact))

    step(2, "Place an order with orders")
    new_order = {"customer_id": customer, "total": 2500, "currency": "EUR"}
    order = call("POST", f"{ORDERS}/orders", json=new_order)
    show("order", order)

    step(3, "Pay it with payments: one fact is stored and published twice, atomically")
    new_payment = {
        "order_id": order["order_id"],
        "customer_id": customer,
        "amount": 2500,
        "currency": "EUR",
    }
    payment = call("POST", f"{PAYMENTS}/payments", json=new_payment)
    pid = payment["payment_id"]
    show("payment", payment)

    step(4, f"The thin event on {NOTIFICATION_STREAM}", "event notification")
    show("entry", on_the_wire(client, NOTIFICATION_STREAM, pid)[-1])
    step(5, f"The fat event on {STATE_STREAM}", "event-carried state transfer")
    show("entry", on_the_wire(client, STATE_STREAM, pid)[-1])

    def order_in(status: str) -> dict[str, Any] | None:
        current = call("GET", f"{ORDERS}/orders/{order['order_id']}")
        return current if current["status"] == status else None

    def notifications(count: int, delivery: str | None = None) -> list[dict[str, Any]] | None:
        found = call("GET", f"{NOTIFICATIONS}/notifications", params={"payment_id": pid})
        done = len(found) == count and all(delivery in (None, n["delivery"]) for n in found)
        return found if done else None

    step(
        6,
        "Orders kept a copy and marked the order paid, without calling payments",
        "event-carried state transfer",
    )
    paid = wait_for("the order to be paid", lambda: order_in("paid"))
    show("cached copy", call("GET", f"{ORDERS}/cache/payments/{pid}"))
    show("order", paid)

    step(
        7,
        "Notifications got the id only and called payments back for the rest",
        "event notification",
    )
    show("notification", wait_for("the notification", lambda: notifications(1))[0])

    step(
        8,
        "Its mail, queued with it in one step, was taken by one worker and sent: then gone",
        "message queue",
    )
    [sent] = wait_for("the mail to be sent", lambda: notifications(1, "sent"), timeout=30)
    show("delivery", {"delivery": sent["delivery"], "attempts": sent["attempts"]})
    show("the mail", the_mail(sent["notification_id"]))

    step(9, "Refund 4.00 EUR: the same two paths carry it, and one more mail", "all four")
    call("POST", f"{PAYMENTS}/payments/{pid}/refunds", json={"amount": 400, "reason": "demo"})
    show("order", wait_for("the order to see the refund", lambda: order_in("partially_refunded")))
    newest = wait_for("the refund's mail", lambda: notifications(2, "sent"), timeout=30)[0]
    show("newest notification", newest["message"])
    show("its mail", the_mail(newest["notification_id"]).split("\n\n")[0])

    step(10, "The payment is its events: the state above is their left fold", "event sourcing")
    history = call("GET", f"{PAYMENTS}/payments/{pid}/events")
    for event in history:
        print(f"     v{event['version']}  {event['type']:<16} {json.dumps(event['data'])}")
    show("state rebuilt from them", call("GET", f"{PAYMENTS}/payments/{pid}"))

    event_store_steps(client, PAYMENTS, ORDERS, customer)
    print(f"\n{BOLD}Done.{RESET} Watch events flow live, and drive them yourself, in the console:")
    print(f"   {BOLD}{CONSOLE}{RESET}  (in a browser: this payment's cards are the newest)")
    print(f"   or in a terminal: python -m eventkit tail '{STATE_STREAM}' --from now")


if __name__ == "__main__":
    main()
