"""Charging subscriptions: the one place where Premium moves money, and the state
changes that follow from each charge.

Every charge runs inside the caller's write transaction, together with the
subscription and invoice rows it changes: the ledger reserves the price in the
subscriber's wallet with a pending transfer and posts it to the Premium revenue
account (``Ledger.submit_in``). So a charge and its bookkeeping commit together or
not at all: a process killed mid-run leaves nothing half-charged, and the unique
(subscription, period) invoice makes a second charge of one period impossible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.config import Settings
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.payments import Ledger, TransferSpec, TransferStatus
from plaza.premium.events import SubscriptionChanged
from plaza.premium.interfaces import Notifier
from plaza.premium.models import Invoice, Subscription
from plaza.premium.plans import period_bounds

logger = logging.getLogger("plaza.premium")

PREMIUM_CODE = "premium"
REVENUE_ACCOUNT = "premium_revenue"
ACTIVE, PAST_DUE, EXPIRED = "active", "past_due", "expired"


@dataclass(frozen=True)
class BillingPolicy:
    currency: str
    grace: timedelta
    retry: timedelta
    batch: int

    @classmethod
    def from_settings(cls, s: Settings) -> BillingPolicy:
        return cls(
            currency=s.payments_currency,
            grace=timedelta(seconds=s.premium_grace_seconds),
            retry=timedelta(seconds=s.premium_retry_seconds),
            batch=s.premium_renewal_batch,
        )


@dataclass
class _Due:
    """One period to charge: the subscription, which period, and the ids to use."""

    subscription: Subscription
    index: int
    start: datetime
    end: datetime
    invoice: Invoice | None  # the open invoice of a past_due period being retried
    invoice_id: int
    pending_id: int
    post_id: int


def describe(plan: str, start: datetime, end: datetime) -> str:
    """The line a charge shows in the wallet history and on its receipt."""
    return f"Plaza Premium ({plan}), {_day(start)} - {_day(end)}"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


class Charger:
    def __init__(
        self,
        *,
        ledger: Ledger,
        ids: SnowflakeGenerator,
        bus: EventBus,
        notifier: Notifier,
        policy: BillingPolicy,
    ) -> None:
        self.ledger = ledger
        self.ids = ids
        self.bus = bus
        self.notifier = notifier
        self.policy = policy
        self._revenue: int | None = None

    async def revenue_account(self) -> int:
        """The Premium revenue account. Call it before opening a write session: on
        SQLite, opening an account needs the write lock."""
        if self._revenue is None:
            self._revenue = await self.ledger.system_account(REVENUE_ACCOUNT, self.policy.currency)
        return self._revenue

    def specs(self, due: _Due, revenue: int) -> list[TransferSpec]:
        """Reserve the price in the wallet, then post it to the revenue account."""
        sub = due.subscription
        metadata = {
            "receipt_id": str(due.invoice_id),
            "subscription_id": str(sub.id),
            "description": describe(sub.plan, due.start, due.end),
        }
        return [
            TransferSpec(
                id=due.pending_id,
                debit_account_id=sub.wallet_account_id,
                credit_account_id=revenue,
                amount=sub.price,
                code=PREMIUM_CODE,
                metadata=metadata,
                pending=True,
            ),
            TransferSpec(
                id=due.post_id,
                debit_account_id=sub.wallet_account_id,
                credit_account_id=revenue,
                amount=sub.price,
                code=PREMIUM_CODE,
                metadata=metadata,
                post_pending_id=due.pending_id,
            ),
        ]

    def due(self, sub: Subscription, index: int, invoice: Invoice | None = None) -> _Due:
        start, end = period_bounds(sub.anchor_at, index, sub.months)
        return _Due(
            subscription=sub,
            index=index,
            start=start,
            end=end,
            invoice=invoice,
            invoice_id=invoice.id if invoice is not None else self.ids.next_id(),
            pending_id=self.ids.next_id(),
            post_id=self.ids.next_id(),
        )

    async def charge(
        self, session: AsyncSession, dues: Sequence[_Due], now: datetime
    ) -> list[TransferStatus | None]:
        """Charge every period in ``dues`` inside ``session``; for each, None when it was
        paid, else the ledger's reason (``INSUFFICIENT_FUNDS`` normally). Nothing is
        recorded: ``paid`` and ``failed`` do that."""
        revenue = await self.revenue_account()
        specs = [spec for due in dues for spec in self.specs(due, revenue)]
        results = await self.ledger.submit_in(session, specs)
        outcome: list[TransferStatus | None] = []
        for k, due in enumerate(dues):
            reserve, post = results[2 * k].status, results[2 * k + 1].status
            if reserve is TransferStatus.OK and post is TransferStatus.OK:
                outcome.append(None)
                continue
            failure = reserve if reserve is not TransferStatus.OK else post
            if failure is not TransferStatus.INSUFFICIENT_FUNDS:
                logger.error(
                    "premium charge refused by the ledger",
                    extra={"subscription_id": due.subscription.id, "status": str(failure)},
                )
            outcome.append(failure)
        return outcome

    def paid(self, session: AsyncSession, due: _Due, now: datetime) -> Invoice:
        """Record a paid period: its invoice (the receipt) and the subscription moved
        into it (active again if it was past due)."""
        sub = due.subscription
        invoice = due.invoice
        if invoice is None:
            invoice = self._invoice(sub, due, now, status="paid")
            session.add(invoice)
        invoice.status = "paid"
        invoice.paid_at = now
        invoice.pending_transfer_id = due.pending_id
        invoice.transfer_id = due.post_id
        was_past_due = sub.status == PAST_DUE
        sub.status = ACTIVE
        sub.period_index = due.index
        sub.current_period_start, sub.current_period_end = due.start, due.end
        sub.attempts = 0
        sub.past_due_since = None
        sub.next_attempt_at = None
        sub.due_at = due.end
        sub.access_until = due.end if sub.cancel_at_period_end else due.end + self.policy.grace
        sub.updated_at = now
        if was_past_due:
            self.announce(session, sub)
        return invoice

    async def failed(self, session: AsyncSession, due: _Due, now: datetime) -> None:
        """Record a failed charge: the period is entered unpaid (past due) and retried
        every retry interval until the grace ends; the first failure notifies."""
        sub = due.subscription
        if due.invoice is None:
            invoice = self._invoice(sub, due, now, status="open")
            invoice.attempts = 1
            session.add(invoice)
        else:
            due.invoice.attempts += 1
        first = sub.status != PAST_DUE
        if first:
            sub.status = PAST_DUE
            sub.period_index = due.index
            sub.current_period_start, sub.current_period_end = due.start, due.end
            sub.past_due_since = due.start
            sub.attempts = 0
        sub.attempts += 1
        grace_end = self.grace_end(sub)
        retry = now + self.policy.retry
        sub.next_attempt_at = retry if retry < grace_end else None
        sub.due_at = min(retry, grace_end)
        sub.access_until = grace_end
        sub.updated_at = now
        if first:
            await self.notifier.notify(
                session,
                recipient_id=sub.user_id,
                actor_id=sub.user_id,
                kind="premium_payment_failed",
            )
            self.announce(session, sub)

    async def expire(
        self, session: AsyncSession, sub: Subscription, reason: str, at: datetime, now: datetime
    ) -> None:
        """End ``sub`` at ``at`` ("canceled" or "unpaid"); its open invoice is voided."""
        sub.status = EXPIRED
        sub.ended_at = at
        sub.ended_reason = reason
        sub.due_at = None
        sub.next_attempt_at = None
        sub.access_until = min(sub.access_until, at)
        sub.updated_at = now
        await session.execute(
            update(Invoice)
            .where(Invoice.subscription_id == sub.id, Invoice.status == "open")
            .values(status="void")
        )
        await self.notifier.notify(
            session, recipient_id=sub.user_id, actor_id=sub.user_id, kind="premium_expired"
        )
        self.announce(session, sub)

    def grace_end(self, sub: Subscription) -> datetime:
        """When a past-due subscription stops being retried and expires."""
        return (sub.past_due_since or sub.current_period_end) + self.policy.grace

    def announce(self, session: AsyncSession, sub: Subscription) -> None:
        self.bus.publish(
            session,
            SubscriptionChanged(
                user_id=sub.user_id,
                subscription_id=sub.id,
                status=sub.status,
                cancel_at_period_end=sub.cancel_at_period_end,
                changed_at=sub.updated_at,
            ),
        )

    async def open_invoices(
        self, session: AsyncSession, subs: Sequence[Subscription]
    ) -> dict[int, Invoice]:
        """The open (unpaid) invoice of each past-due subscription among ``subs``."""
        ids = [s.id for s in subs if s.status == PAST_DUE]
        if not ids:
            return {}
        rows = await session.scalars(
            select(Invoice).where(Invoice.subscription_id.in_(ids), Invoice.status == "open")
        )
        found = {i.subscription_id: i for i in rows}
        return {
            s.id: found[s.id]
            for s in subs
            if s.id in found and found[s.id].period_index == s.period_index
        }

    def _invoice(self, sub: Subscription, due: _Due, now: datetime, *, status: str) -> Invoice:
        return Invoice(
            id=due.invoice_id,
            subscription_id=sub.id,
            user_id=sub.user_id,
            period_index=due.index,
            plan=sub.plan,
            amount=sub.price,
            currency=sub.currency,
            period_start=due.start,
            period_end=due.end,
            status=status,
            attempts=0,
            created_at=now,
        )
