"""Charging subscriptions: the one place where Premium moves money, and the state
changes that follow from each charge.

Every charge runs inside the caller's write transaction, together with the
subscription and invoice rows it changes: the ledger reserves the price in the
subscriber's wallet with a pending transfer and posts it to the Premium revenue
account (``Ledger.submit_in``). So a charge and its bookkeeping commit together or
not at all: a process killed mid-run leaves nothing half-charged, and the unique
(subscription, period) invoice makes a second charge of one period impossible.

Renewals handle a thousand subscriptions per transaction, so rows are read and
written with Core statements (``Sub`` is a plain record of one row) and every change
of a batch is written with one ``executemany`` per statement (``Changes``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, select, update
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
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
INVOICES = cast(Table, Invoice.__table__)


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


@dataclass(slots=True)
class Sub:
    """One ``premium_subscription`` row (see ``models.Subscription`` for the fields)."""

    id: int
    user_id: int
    plan: str
    price: int
    currency: str
    months: int
    wallet_account_id: int
    status: str
    anchor_at: datetime
    period_index: int
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    past_due_since: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    due_at: datetime | None
    access_until: datetime
    ended_at: datetime | None
    ended_reason: str | None
    created_at: datetime
    updated_at: datetime

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# What a state change may touch; the rest is fixed when subscribing.
_MUTABLE = (
    "status",
    "period_index",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "canceled_at",
    "past_due_since",
    "attempts",
    "next_attempt_at",
    "due_at",
    "access_until",
    "ended_at",
    "ended_reason",
    "updated_at",
)
_SAVE = (
    update(SUBSCRIPTIONS)
    .where(SUBSCRIPTIONS.c.id == bindparam("k_id"))
    .values({name: bindparam(f"v_{name}", type_=SUBSCRIPTIONS.c[name].type) for name in _MUTABLE})
)
# A renewal paid (most of a renewal run) changes only these: a narrower statement.
# Not the status: the live-subscription index is partial on it, and SQLite rewrites
# the index entry of every row whose update sets a column the index depends on.
_RENEWED = (
    "period_index",
    "current_period_start",
    "current_period_end",
    "attempts",
    "past_due_since",
    "next_attempt_at",
    "due_at",
    "access_until",
    "updated_at",
)
_SAVE_RENEWED = (
    update(SUBSCRIPTIONS)
    .where(SUBSCRIPTIONS.c.id == bindparam("k_id"))
    .values({name: bindparam(f"v_{name}", type_=SUBSCRIPTIONS.c[name].type) for name in _RENEWED})
)
_PAY_INVOICE = (
    update(INVOICES)
    .where(INVOICES.c.id == bindparam("k_id"))
    .values(
        status="paid",
        paid_at=bindparam("v_paid_at", type_=INVOICES.c.paid_at.type),
        pending_transfer_id=bindparam("v_pending"),
        transfer_id=bindparam("v_transfer"),
    )
)
_RETRY_INVOICE = (
    update(INVOICES)
    .where(INVOICES.c.id == bindparam("k_id"))
    .values(attempts=INVOICES.c.attempts + 1)
)


def select_subscriptions() -> Select[Any]:
    return select(*SUBSCRIPTIONS.c)


async def load(session: AsyncSession, query: Select[Any]) -> list[Sub]:
    """The rows ``query`` (built on ``select_subscriptions``) finds, as records (the
    columns of ``select_subscriptions`` are in the order of ``Sub``'s fields)."""
    return [Sub(*row) for row in await session.execute(query)]


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    period_index: int


@dataclass
class Due:
    """One period to charge: the subscription, which period, and the ids to use."""

    sub: Sub
    index: int
    start: datetime
    end: datetime
    invoice: OpenInvoice | None  # the open invoice of a past-due period being retried
    invoice_id: int
    pending_id: int
    post_id: int


@dataclass
class Changes:
    """Everything one transaction writes, collected while deciding, written in bulk."""

    subs: dict[int, Sub] = field(default_factory=dict)
    renewed: dict[int, Sub] = field(default_factory=dict)
    new_invoices: list[dict[str, Any]] = field(default_factory=list)
    paid_invoices: list[dict[str, Any]] = field(default_factory=list)
    retried_invoices: list[dict[str, Any]] = field(default_factory=list)
    voided_for: list[int] = field(default_factory=list)
    notices: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    announce: list[Sub] = field(default_factory=list)

    def changed(self, sub: Sub, *, announce: bool = False) -> None:
        self.renewed.pop(sub.id, None)
        self.subs[sub.id] = sub
        if announce:
            self.announce.append(sub)

    def renew(self, sub: Sub) -> None:
        """``sub`` changed only in the ``_RENEWED`` columns."""
        if sub.id not in self.subs:
            self.renewed[sub.id] = sub


def describe(plan: str, start: datetime, end: datetime) -> str:
    """The line a charge shows in the wallet history and on its receipt."""
    return f"Plaza Premium ({plan}), {_day(start)} - {_day(end)}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(moment: datetime) -> str:
    # Not strftime: it is locale-dependent, and slow enough to show in a renewal run.
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


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

    def due(self, sub: Sub, index: int, invoice: OpenInvoice | None = None) -> Due:
        """Period ``index`` of ``sub``, to charge (retrying ``invoice`` if given)."""
        start, end = period_bounds(sub.anchor_at, index, sub.months)
        return Due(
            sub=sub,
            index=index,
            start=start,
            end=end,
            invoice=invoice,
            invoice_id=invoice.id if invoice is not None else self.ids.next_id(),
            pending_id=self.ids.next_id(),
            post_id=self.ids.next_id(),
        )

    async def charge(
        self, session: AsyncSession, dues: Sequence[Due]
    ) -> list[TransferStatus | None]:
        """Charge every period in ``dues`` inside ``session``; for each, None when it was
        paid, else the ledger's reason (``INSUFFICIENT_FUNDS`` normally). Nothing but
        the ledger is written: ``paid`` and ``failed`` record the outcome."""
        revenue = await self.revenue_account()
        specs = [spec for due in dues for spec in self._specs(due, revenue)]
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
                    extra={"subscription_id": due.sub.id, "status": str(failure)},
                )
            outcome.append(failure)
        return outcome

    def paid(self, changes: Changes, due: Due, now: datetime) -> None:
        """A paid period: its invoice (the receipt) is paid and the subscription moves
        into the period (active again if it was past due)."""
        sub = due.sub
        if due.invoice is None:
            changes.new_invoices.append(self._invoice(due, now, status="paid", attempts=0))
        else:
            changes.paid_invoices.append(
                {
                    "k_id": due.invoice_id,
                    "v_paid_at": now,
                    "v_pending": due.pending_id,
                    "v_transfer": due.post_id,
                }
            )
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
            changes.changed(sub, announce=True)
        else:
            changes.renew(sub)

    def failed(self, changes: Changes, due: Due, now: datetime) -> None:
        """A failed charge: the period is entered unpaid (past due) and retried every
        retry interval until the grace ends; the first failure notifies."""
        sub = due.sub
        if due.invoice is None:
            changes.new_invoices.append(self._invoice(due, now, status="open", attempts=1))
        else:
            changes.retried_invoices.append({"k_id": due.invoice_id})
        first = sub.status != PAST_DUE
        if first:
            sub.status = PAST_DUE
            sub.period_index = due.index
            sub.current_period_start, sub.current_period_end = due.start, due.end
            sub.past_due_since = due.start
            sub.attempts = 0
            changes.notices["premium_payment_failed"].append(sub.user_id)
        sub.attempts += 1
        grace_end = self.grace_end(sub)
        retry = now + self.policy.retry
        sub.next_attempt_at = retry if retry < grace_end else None
        sub.due_at = min(retry, grace_end)
        sub.access_until = grace_end
        sub.updated_at = now
        changes.changed(sub, announce=first)

    def expire(self, changes: Changes, sub: Sub, reason: str, at: datetime, now: datetime) -> None:
        """End ``sub`` at ``at`` ("canceled" or "unpaid"); its open invoice is voided."""
        sub.status = EXPIRED
        sub.ended_at = at
        sub.ended_reason = reason
        sub.due_at = None
        sub.next_attempt_at = None
        sub.access_until = min(sub.access_until, at)
        sub.updated_at = now
        changes.voided_for.append(sub.id)
        changes.notices["premium_expired"].append(sub.user_id)
        changes.changed(sub, announce=True)

    def grace_end(self, sub: Sub) -> datetime:
        """When a past-due subscription stops being retried and expires."""
        return (sub.past_due_since or sub.current_period_end) + self.policy.grace

    async def write(self, session: AsyncSession, changes: Changes) -> None:
        """Write ``changes`` in ``session``, one statement per kind of change; the
        announcements go out when the session commits."""
        if changes.new_invoices:
            await session.execute(insert(INVOICES), changes.new_invoices)
        if changes.paid_invoices:
            await session.execute(_PAY_INVOICE, changes.paid_invoices)
        if changes.retried_invoices:
            await session.execute(_RETRY_INVOICE, changes.retried_invoices)
        if changes.voided_for:
            await session.execute(
                update(INVOICES)
                .where(INVOICES.c.subscription_id.in_(changes.voided_for))
                .where(INVOICES.c.status == "open")
                .values(status="void")
            )
        if changes.subs:
            rows = [
                {"k_id": sub.id} | {f"v_{name}": getattr(sub, name) for name in _MUTABLE}
                for sub in changes.subs.values()
            ]
            await session.execute(_SAVE, rows)
        if changes.renewed:
            rows = [
                {"k_id": sub.id} | {f"v_{name}": getattr(sub, name) for name in _RENEWED}
                for sub in changes.renewed.values()
            ]
            await session.execute(_SAVE_RENEWED, rows)
        for kind, user_ids in changes.notices.items():
            await self.notifier.notify_own_account(session, user_ids, kind)
        for sub in changes.announce:
            self.announce(session, sub)

    def announce(self, session: AsyncSession, sub: Sub) -> None:
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
        self, session: AsyncSession, subs: Sequence[Sub]
    ) -> dict[int, OpenInvoice]:
        """The open (unpaid) invoice of each past-due subscription among ``subs``."""
        periods = {s.id: s.period_index for s in subs if s.status == PAST_DUE}
        if not periods:
            return {}
        rows = await session.execute(
            select(INVOICES.c.id, INVOICES.c.subscription_id, INVOICES.c.period_index).where(
                INVOICES.c.subscription_id.in_(list(periods)), INVOICES.c.status == "open"
            )
        )
        return {
            r.subscription_id: OpenInvoice(r.id, r.period_index)
            for r in rows
            if periods[r.subscription_id] == r.period_index
        }

    def _specs(self, due: Due, revenue: int) -> list[TransferSpec]:
        """Reserve the price in the wallet, then post it to the revenue account, as one
        linked chain."""
        sub = due.sub
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
                # The reservation and its post apply together or not at all: a post
                # refused for any reason never leaves the price held in the wallet.
                linked=True,
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

    @staticmethod
    def _invoice(due: Due, now: datetime, *, status: str, attempts: int) -> dict[str, Any]:
        sub = due.sub
        paid = status == "paid"
        return {
            "id": due.invoice_id,
            "subscription_id": sub.id,
            "user_id": sub.user_id,
            "period_index": due.index,
            "plan": sub.plan,
            "amount": sub.price,
            "currency": sub.currency,
            "period_start": due.start,
            "period_end": due.end,
            "status": status,
            "attempts": attempts,
            "pending_transfer_id": due.pending_id if paid else None,
            "transfer_id": due.post_id if paid else None,
            "created_at": now,
            "paid_at": now if paid else None,
        }
