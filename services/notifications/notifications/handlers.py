"""Which event does what: each thin event becomes one notification, details by call back."""

from __future__ import annotations

from contracts.payments import PAYMENT_RECEIVED, PAYMENT_REFUNDED, PaymentNotice
from eventkit import Event, Handler, parse_data

from notifications.adapters import PaymentsClient
from notifications.domain import compose
from notifications.store import NotificationStore


def build_handlers(payments: PaymentsClient, store: NotificationStore) -> dict[str, Handler]:
    async def notify(event: Event) -> None:
        """The event says only which payment changed: ask payments for the rest."""
        notice = parse_data(PaymentNotice, event)
        if await store.exists(event.id):
            return  # a redelivery of an event already notified: no second call back
        payment = await payments.get_payment(notice.payment_id)
        await store.record(compose(event.id, event.type, event.time, payment))

    return {
        PAYMENT_RECEIVED: notify,
        PAYMENT_REFUNDED: notify,
    }
