"""Facts the payments domain announces, after they commit. The real-time gateway will
push them to the people involved (and only to them: payments are private)."""

from __future__ import annotations

from plaza.core.events import Event


class PaymentCompleted(Event):
    """Money moved from payer to payee (a payment, or a refund with ``refund_of``)."""

    topic = "payments.payment_completed"
    payment_id: int
    payer_id: int
    payee_id: int
    amount: int
    currency: str
    refund_of: int | None = None
    request_id: int | None = None
    # Set when the payment was sent from a DM conversation: messaging posts it there.
    conversation_id: int | None = None


class PaymentRequested(Event):
    topic = "payments.payment_requested"
    request_id: int
    requester_id: int
    payer_id: int
    amount: int
    currency: str


class PaymentRequestResolved(Event):
    """A request was paid, declined or cancelled (``status``)."""

    topic = "payments.payment_request_resolved"
    request_id: int
    requester_id: int
    payer_id: int
    status: str


class PaymentRequestReminded(Event):
    topic = "payments.payment_request_reminded"
    request_id: int
    requester_id: int
    payer_id: int


class RailTransferUpdated(Event):
    """A deposit or cash-out changed state (pending, settled, failed, returned)."""

    topic = "payments.rail_transfer_updated"
    transfer_id: int
    user_id: int
    direction: str
    status: str
    amount: int
    currency: str


class PaymentFlagged(Event):
    """A pattern (structuring) put a user's payments on hold for review."""

    topic = "payments.payment_flagged"
    flag_id: int
    user_id: int
    kind: str


class DisputeOpened(Event):
    topic = "payments.dispute_opened"
    dispute_id: int
    payment_id: int
    payer_id: int
    payee_id: int


class DisputeResolved(Event):
    topic = "payments.dispute_resolved"
    dispute_id: int
    payment_id: int
    payer_id: int
    payee_id: int
    outcome: str
