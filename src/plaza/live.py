"""Which domain events reach whose live stream: part of the composition root.

Domains announce facts on the bus after they commit; the gateway knows no domain. Here
each fact becomes a stream event for exactly the people it concerns, in its own
transaction. Every process receives every bus event, so each delivery carries a key
that makes it happen once per user however many processes handle it. A push lost with
a crashed process is not retried; the fact itself stays where its domain keeps it
(the notification list, the wallet history), and pages reload it on ``resync``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from plaza.core.db import Database
from plaza.core.events import Event, EventBus
from plaza.payments import (
    PaymentCompleted,
    PaymentRequested,
    PaymentRequestResolved,
    RailTransferUpdated,
)
from plaza.premium import SubscriptionChanged
from plaza.realtime import Realtime
from plaza.social import NotificationCreated

E = TypeVar("E", bound=Event)


def wire_live_events(bus: EventBus, db: Database, realtime: Realtime) -> None:
    """Subscribe the stream pushes; called once by ``build``."""

    def push(
        event_type: type[E],
        describe: Callable[[E], tuple[Collection[int], str, Mapping[str, Any], str]],
    ) -> None:
        async def handler(event: E) -> None:
            user_ids, kind, data, key = describe(event)
            async with db.session() as session:
                await realtime.deliver(session, user_ids, kind, data, key=key)
                await session.commit()

        bus.subscribe(event_type, handler)

    push(NotificationCreated, _notification)
    push(PaymentCompleted, _payment)
    push(PaymentRequested, _request_made)
    push(PaymentRequestResolved, _request_resolved)
    push(RailTransferUpdated, _rail_transfer)
    push(SubscriptionChanged, _subscription)


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def _notification(e: NotificationCreated) -> tuple[list[int], str, dict[str, Any], str]:
    data = {"id": str(e.id), "kind": e.kind, "actor_id": str(e.actor_id), "post_id": _id(e.post_id)}
    return [e.recipient_id], "notification", data, f"notification:{e.id}"


def _payment(e: PaymentCompleted) -> tuple[list[int], str, dict[str, Any], str]:
    # Payments are private: only the two parties ever see this event.
    data = {
        "id": str(e.payment_id),
        "payer_id": str(e.payer_id),
        "payee_id": str(e.payee_id),
        "amount": {"amount": e.amount, "currency": e.currency},
        "refund_of": _id(e.refund_of),
        "request_id": _id(e.request_id),
        "conversation_id": _id(e.conversation_id),
    }
    return [e.payer_id, e.payee_id], "payment.completed", data, f"payment:{e.payment_id}"


def _request_made(e: PaymentRequested) -> tuple[list[int], str, dict[str, Any], str]:
    data = {
        "id": str(e.request_id),
        "requester_id": str(e.requester_id),
        "payer_id": str(e.payer_id),
        "amount": {"amount": e.amount, "currency": e.currency},
    }
    key = f"payment-request:{e.request_id}"
    return [e.requester_id, e.payer_id], "payment.requested", data, key


def _request_resolved(e: PaymentRequestResolved) -> tuple[list[int], str, dict[str, Any], str]:
    data = {"id": str(e.request_id), "status": e.status}
    key = f"payment-request:{e.request_id}:{e.status}"
    return [e.requester_id, e.payer_id], "payment.request_resolved", data, key


def _rail_transfer(e: RailTransferUpdated) -> tuple[list[int], str, dict[str, Any], str]:
    data = {
        "id": str(e.transfer_id),
        "direction": e.direction,
        "status": e.status,
        "amount": {"amount": e.amount, "currency": e.currency},
    }
    return [e.user_id], "wallet.transfer", data, f"rail:{e.transfer_id}:{e.status}"


def _subscription(e: SubscriptionChanged) -> tuple[list[int], str, dict[str, Any], str]:
    # The page reloads the subscription itself; the push says what changed and when.
    data = {
        "id": str(e.subscription_id),
        "status": e.status,
        "cancel_at_period_end": e.cancel_at_period_end,
    }
    changed = e.changed_at.isoformat()
    key = f"premium:{e.subscription_id}:{e.status}:{e.cancel_at_period_end}:{changed}"
    return [e.user_id], "premium.updated", data, key
