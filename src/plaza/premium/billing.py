"""``Billing``: Premium subscriptions paid from the wallet (Stripe Billing's lifecycle).

- ``subscribe`` charges the first period at once; one live subscription per user.
- ``renew_due`` (the scheduler, in every process) renews subscriptions whose period
  ended, retries past-due ones until the grace ends, and expires the ones cancelled
  at period end or never paid. Due rows are claimed in batches; on PostgreSQL with
  ``FOR UPDATE SKIP LOCKED``, so several processes share the work without waiting on
  each other, and on SQLite the database's one writer serialises them.
- ``cancel`` (at period end), ``resume`` and ``pay_now`` are the subscriber's actions.

Entitlements read ``Subscription.access_until`` (see ``entitlements``); no other
domain reads these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import Conflict, DomainError, NotFound
from plaza.core.ids import SnowflakeGenerator
from plaza.payments import Ledger
from plaza.premium.charging import (
    ACTIVE,
    EXPIRED,
    PAST_DUE,
    SUBSCRIPTIONS,
    Changes,
    Charger,
    Sub,
    load,
    select_subscriptions,
)
from plaza.premium.models import Invoice, Subscription
from plaza.premium.plans import Plan, Plans, period_bounds


class InsufficientFunds(DomainError):
    """The wallet cannot cover the charge (the same problem as a payment's)."""

    status, slug, title = 422, "insufficient-funds", "Insufficient funds"

    def __init__(self, price: int, currency: str) -> None:
        super().__init__(
            f"The wallet's available balance does not cover {_money(price, currency)}; "
            "top up the wallet first.",
            errors=[{"field": "plan", "message": "costs more than the wallet's available balance"}],
        )


class AlreadySubscribed(DomainError):
    status, slug, title = 409, "already-subscribed", "Already subscribed"


def _json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _money(amount: int, currency: str) -> str:
    return f"{amount // 100}.{amount % 100:02d} {currency}"


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    user_id: int
    plan: Plan
    status: str
    cancel_at_period_end: bool
    current_period_start: datetime
    current_period_end: datetime
    next_charge_at: datetime | None
    next_charge: int | None
    access_until: datetime | None
    past_due_since: datetime | None
    next_attempt_at: datetime | None
    grace_ends_at: datetime | None
    ended_at: datetime | None
    ended_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Receipt:
    id: int
    subscription_id: int
    plan: Plan
    period_start: datetime
    period_end: datetime
    amount: int
    currency: str
    paid_at: datetime
    transfer_id: int

    @property
    def number(self) -> str:
        """The receipt number shown to people (and to their accountants)."""
        return f"PLZ-{self.id}"


@dataclass(frozen=True)
class RenewalReport:
    charged: int = 0
    failed: int = 0
    expired: int = 0

    def __add__(self, other: RenewalReport) -> RenewalReport:
        return RenewalReport(
            self.charged + other.charged, self.failed + other.failed, self.expired + other.expired
        )


@dataclass(frozen=True)
class PastDueAccount:
    user_id: int
    plan: str
    past_due_since: datetime
    grace_ends_at: datetime
    attempts: int


@dataclass(frozen=True)
class Overview:
    active: int
    cancelling: int
    past_due: int
    mrr: int
    currency: str
    churned_30d: int
    churn_rate_30d: float
    past_due_accounts: list[PastDueAccount]


class Billing:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        ids: SnowflakeGenerator,
        ledger: Ledger,
        plans: Plans,
        charger: Charger,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.ledger = ledger
        self.plans = plans
        self.charger = charger
        self.policy = charger.policy

    # -- the subscriber's actions ------------------------------------------------------

    async def subscribe(self, user_id: int, plan_id: str) -> SubscriptionView:
        """Start ``plan`` now and charge its first period from the wallet.

        Raises ``InvalidInput`` (unknown plan), ``AlreadySubscribed`` (a live
        subscription exists: resume or pay it instead) and ``InsufficientFunds``;
        in those cases nothing is stored or charged."""
        plan = self.plans.get(plan_id)
        wallet = await self.ledger.wallet_of(user_id, plan.currency)
        await self.charger.revenue_account()
        now = self.clock.now()
        sub = Sub(
            id=self.ids.next_id(),
            user_id=user_id,
            plan=plan.id,
            price=plan.price,
            currency=plan.currency,
            months=plan.months,
            wallet_account_id=wallet,
            status=ACTIVE,
            anchor_at=now,
            period_index=-1,  # the charge below moves it into period 0
            current_period_start=now,
            current_period_end=now,
            cancel_at_period_end=False,
            canceled_at=None,
            past_due_since=None,
            attempts=0,
            next_attempt_at=None,
            due_at=None,
            access_until=now,
            ended_at=None,
            ended_reason=None,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.db.session() as session:
                if await self._live(session, user_id) is not None:
                    raise AlreadySubscribed("You already have Premium: manage it on /premium.")
                # The unique index on live subscriptions settles a race here.
                await session.execute(insert(SUBSCRIPTIONS).values(sub.values()))
                due = self.charger.due(sub, 0)
                [failure] = await self.charger.charge(session, [due])
                if failure is not None:
                    raise InsufficientFunds(plan.price, plan.currency)
                changes = Changes()
                self.charger.paid(changes, due, now)
                changes.changed(sub, announce=True)
                await self.charger.write(session, changes)
                await session.commit()
        except IntegrityError:
            raise AlreadySubscribed("You already have Premium: manage it on /premium.") from None
        return self._view(sub)

    async def cancel(self, user_id: int) -> SubscriptionView:
        """Cancel at the end of the paid period (entitlements last until then). A
        past-due subscription has no paid period left: it ends now. Cancelling twice
        is harmless. ``NotFound`` without a live subscription."""
        now = self.clock.now()
        async with self.db.session() as session:
            sub = await self._require_live(session, user_id)
            changes = Changes()
            if sub.status == PAST_DUE:
                self.charger.expire(changes, sub, "canceled", now, now)
            elif not sub.cancel_at_period_end:
                sub.cancel_at_period_end = True
                sub.canceled_at = now
                sub.access_until = sub.current_period_end
                sub.updated_at = now
                changes.changed(sub, announce=True)
            await self.charger.write(session, changes)
            await session.commit()
        return self._view(sub)

    async def resume(self, user_id: int) -> SubscriptionView:
        """Undo a cancellation before the period ends: it renews again. ``Conflict``
        when it is not cancelling or the period already ended."""
        now = self.clock.now()
        async with self.db.session() as session:
            sub = await self._require_live(session, user_id)
            if not sub.cancel_at_period_end:
                raise Conflict("The subscription is not cancelled; there is nothing to resume.")
            if sub.current_period_end <= now:
                raise Conflict("The period has ended; subscribe again.")
            sub.cancel_at_period_end = False
            sub.canceled_at = None
            sub.access_until = sub.current_period_end + self.policy.grace
            sub.updated_at = now
            changes = Changes()
            changes.changed(sub, announce=True)
            await self.charger.write(session, changes)
            await session.commit()
        return self._view(sub)

    async def pay_now(self, user_id: int) -> SubscriptionView:
        """Charge a past-due subscription's open period now (after a top-up) instead of
        waiting for the next retry. ``Conflict`` unless past due; ``InsufficientFunds``
        (and nothing recorded) when the wallet still cannot cover it."""
        await self.charger.revenue_account()
        now = self.clock.now()
        async with self.db.session() as session:
            sub = await self._require_live(session, user_id)
            if sub.status != PAST_DUE:
                raise Conflict("Only a past-due subscription can be paid now.")
            invoices = await self.charger.open_invoices(session, [sub])
            due = self.charger.due(sub, sub.period_index, invoices.get(sub.id))
            [failure] = await self.charger.charge(session, [due])
            if failure is not None:
                raise InsufficientFunds(sub.price, sub.currency)
            changes = Changes()
            self.charger.paid(changes, due, now)
            await self.charger.write(session, changes)
            await session.commit()
        return self._view(sub)

    # -- the scheduler -----------------------------------------------------------------

    async def renew_due(self) -> RenewalReport:
        """Renew, retry or expire every subscription due now, a batch per transaction,
        until none is left (or the rest is claimed by another process). Each period is
        charged at most once however many processes run this at the same moment."""
        total = RenewalReport()
        while True:
            # Every outcome moves due_at past now or clears it (a renewal charges the
            # period running now at the latest), so the loop ends.
            report, claimed = await self._renew_batch()
            total += report
            if claimed == 0:
                return total

    async def _renew_batch(self) -> tuple[RenewalReport, int]:
        await self.charger.revenue_account()
        now = self.clock.now()
        query = (
            select_subscriptions()
            .where(SUBSCRIPTIONS.c.due_at <= now)
            .order_by(SUBSCRIPTIONS.c.due_at)
            .limit(self.policy.batch)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        async with self.db.session() as session:
            subs = await load(session, query)
            if not subs:
                return RenewalReport(), 0
            invoices = await self.charger.open_invoices(session, subs)
            changes = Changes()
            dues = []
            expired = 0
            for sub in subs:
                if sub.status == ACTIVE and sub.cancel_at_period_end:
                    self.charger.expire(changes, sub, "canceled", sub.current_period_end, now)
                    expired += 1
                elif sub.status == PAST_DUE and now >= self.charger.grace_end(sub):
                    grace_end = self.charger.grace_end(sub)
                    self.charger.expire(changes, sub, "unpaid", grace_end, now)
                    expired += 1
                elif sub.status == PAST_DUE:
                    dues.append(self.charger.due(sub, sub.period_index, invoices.get(sub.id)))
                else:
                    dues.append(self.charger.due(sub, self._next_period(sub, now)))
            failed = 0
            if dues:
                outcomes = await self.charger.charge(session, dues)
                for due, failure in zip(dues, outcomes, strict=True):
                    if failure is None:
                        self.charger.paid(changes, due, now)
                    else:
                        failed += 1
                        self.charger.failed(changes, due, now)
            await self.charger.write(session, changes)
            await session.commit()
        return RenewalReport(len(dues) - failed, failed, expired), len(subs)

    def _next_period(self, sub: Sub, now: datetime) -> int:
        """The period a renewing subscription is charged for next: the one after its
        paid period. Only if no renewal ran for longer than the grace (the operator's
        scheduler was down) and access lapsed meanwhile, the periods nobody could use
        are skipped and the one running now is charged, never the missed ones."""
        index = sub.period_index + 1
        if now < sub.current_period_end + self.policy.grace:
            return index
        while period_bounds(sub.anchor_at, index, sub.months)[1] <= now:
            index += 1
        return index

    # -- reads -------------------------------------------------------------------------

    async def current(self, user_id: int) -> SubscriptionView | None:
        """The live subscription, else the most recent ended one, else None."""
        async with self.db.session(write=False) as session:
            found = await load(
                session,
                select_subscriptions()
                .where(SUBSCRIPTIONS.c.user_id == user_id)
                .order_by((SUBSCRIPTIONS.c.status != EXPIRED).desc(), SUBSCRIPTIONS.c.id.desc())
                .limit(1),
            )
        return self._view(found[0]) if found else None

    async def receipts(
        self, user_id: int, *, before: int | None = None, limit: int = 20
    ) -> tuple[list[Receipt], int | None]:
        """Paid invoices of ``user_id``, newest first, and the cursor of the next page."""
        query = (
            select(Invoice)
            .where(Invoice.user_id == user_id, Invoice.status == "paid")
            .order_by(Invoice.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            query = query.where(Invoice.id < before)
        async with self.db.session(write=False) as session:
            rows = list((await session.scalars(query)).all())
        page = [self._receipt(row) for row in rows[:limit]]
        return page, (page[-1].id if len(rows) > limit else None)

    async def receipt(self, user_id: int, receipt_id: int) -> Receipt:
        """One paid invoice of ``user_id``; ``NotFound`` for anyone else's."""
        async with self.db.session(write=False) as session:
            row = await session.get(Invoice, receipt_id)
        if row is None or row.user_id != user_id or row.status != "paid":
            raise NotFound("No such receipt.")
        return self._receipt(row)

    async def export(self, user_id: int) -> dict[str, Any]:
        """The user's subscriptions and receipts, for the data export."""
        async with self.db.session(write=False) as session:
            subs = await load(
                session,
                select_subscriptions()
                .where(SUBSCRIPTIONS.c.user_id == user_id)
                .order_by(SUBSCRIPTIONS.c.id),
            )
            invoices = (
                await session.scalars(
                    select(Invoice).where(Invoice.user_id == user_id).order_by(Invoice.id)
                )
            ).all()
        keep = ("plan", "price", "currency", "status", "anchor_at", "current_period_start")
        more = ("current_period_end", "cancel_at_period_end", "ended_at", "ended_reason")
        return {
            "subscriptions": [
                {"id": str(sub.id)} | {name: _json(getattr(sub, name)) for name in (*keep, *more)}
                for sub in subs
            ],
            "invoices": [
                {
                    "id": str(i.id),
                    "period_start": _json(i.period_start),
                    "period_end": _json(i.period_end),
                    "amount": i.amount,
                    "currency": i.currency,
                    "status": i.status,
                    "paid_at": _json(i.paid_at),
                }
                for i in invoices
            ],
        }

    async def overview(self) -> Overview:
        """The operator's numbers. MRR counts active subscriptions (cancelling ones pay
        for their period; past-due ones are not paying), yearly ones at a twelfth.
        Churn: subscriptions that ended in the last 30 days, over every subscription
        live at some moment of those 30 days."""
        now = self.clock.now()
        window = now - timedelta(days=30)
        live = Subscription.status != EXPIRED
        async with self.db.session(write=False) as session:
            counts = (
                await session.execute(
                    select(
                        func.count().filter(
                            Subscription.status == ACTIVE, ~Subscription.cancel_at_period_end
                        ),
                        func.count().filter(
                            Subscription.status == ACTIVE, Subscription.cancel_at_period_end
                        ),
                        func.count().filter(Subscription.status == PAST_DUE),
                    ).where(live)
                )
            ).one()
            paying = (
                await session.execute(
                    select(Subscription.price, Subscription.months, func.count())
                    .where(Subscription.status == ACTIVE)
                    .group_by(Subscription.price, Subscription.months)
                )
            ).all()
            churned = await session.scalar(
                select(func.count()).where(
                    Subscription.status == EXPIRED,
                    Subscription.ended_at >= window,
                    Subscription.ended_at <= now,
                )
            )
            # Everyone subscribed at some moment of the window: there at its start or
            # joined during it (so that the rate stays a fraction).
            exposed = await session.scalar(
                select(func.count()).where(
                    Subscription.created_at <= now,
                    or_(Subscription.ended_at.is_(None), Subscription.ended_at >= window),
                )
            )
            overdue = await load(
                session,
                select_subscriptions()
                .where(SUBSCRIPTIONS.c.status == PAST_DUE)
                .order_by(SUBSCRIPTIONS.c.past_due_since)
                .limit(200),
            )
        mrr = sum(round(price * count / months) for price, months, count in paying)
        return Overview(
            active=int(counts[0]),
            cancelling=int(counts[1]),
            past_due=int(counts[2]),
            mrr=mrr,
            currency=self.policy.currency,
            churned_30d=int(churned or 0),
            churn_rate_30d=round(int(churned or 0) / exposed, 4) if exposed else 0.0,
            past_due_accounts=[
                PastDueAccount(
                    user_id=s.user_id,
                    plan=s.plan,
                    past_due_since=s.past_due_since or s.current_period_start,
                    grace_ends_at=self.charger.grace_end(s),
                    attempts=s.attempts,
                )
                for s in overdue
            ],
        )

    # -- helpers -----------------------------------------------------------------------

    async def _live(self, session: AsyncSession, user_id: int) -> Sub | None:
        query = select_subscriptions().where(
            SUBSCRIPTIONS.c.user_id == user_id, SUBSCRIPTIONS.c.status != EXPIRED
        )
        if not self.db.is_sqlite:
            query = query.with_for_update()
        found = await load(session, query)
        return found[0] if found else None

    async def _require_live(self, session: AsyncSession, user_id: int) -> Sub:
        sub = await self._live(session, user_id)
        if sub is None:
            raise NotFound("You have no Premium subscription.")
        return sub

    def _plan(self, plan_id: str, price: int, months: int, currency: str) -> Plan:
        # The subscription's own price and length: a later price change in the
        # settings applies to new subscriptions only.
        for plan in self.plans.all():
            if plan.id == plan_id:
                return Plan(plan.id, plan.name, plan.interval, months, price, currency)
        interval = "year" if months == 12 else "month"
        return Plan(plan_id, f"Premium {plan_id}", interval, months, price, currency)

    def _view(self, sub: Sub) -> SubscriptionView:
        renewing = sub.status == ACTIVE and not sub.cancel_at_period_end
        past_due = sub.status == PAST_DUE
        return SubscriptionView(
            id=sub.id,
            user_id=sub.user_id,
            plan=self._plan(sub.plan, sub.price, sub.months, sub.currency),
            status=sub.status,
            cancel_at_period_end=sub.cancel_at_period_end,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            next_charge_at=(
                sub.current_period_end if renewing else sub.next_attempt_at if past_due else None
            ),
            next_charge=sub.price if renewing or (past_due and sub.next_attempt_at) else None,
            access_until=sub.access_until if sub.status != EXPIRED else None,
            past_due_since=sub.past_due_since,
            next_attempt_at=sub.next_attempt_at,
            grace_ends_at=self.charger.grace_end(sub) if past_due else None,
            ended_at=sub.ended_at,
            ended_reason=sub.ended_reason,
            created_at=sub.created_at,
        )

    def _receipt(self, row: Invoice) -> Receipt:
        assert row.paid_at is not None
        assert row.transfer_id is not None
        months = 12 if row.plan == "yearly" else 1
        plan = self._plan(row.plan, row.amount, months, row.currency)
        return Receipt(
            id=row.id,
            subscription_id=row.subscription_id,
            plan=plan,
            period_start=row.period_start,
            period_end=row.period_end,
            amount=row.amount,
            currency=row.currency,
            paid_at=row.paid_at,
            transfer_id=row.transfer_id,
        )
