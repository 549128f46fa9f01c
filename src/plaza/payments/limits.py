"""Identity tiers, sending limits, and the structuring check.

- Limits count what left the wallet (payments, not refunds; cash-outs, not failed ones)
  over a rolling 24 hours ("per day") and a rolling 7 days; deposits over 7 days.
- Structuring: several payments within 24 hours that each land just under the
  threshold are the classic way to stay below a check. The one that completes the
  pattern is refused and the user is flagged: further sends are held until an
  administrator clears the flag.

A user's sends are serialised by locking their ``WalletProfile`` row inside the write
transaction that creates the payment, so two concurrent payments cannot both pass a
limit that only one of them fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import NotFound
from plaza.payments.events import PaymentFlagged
from plaza.payments.models import WalletFlag, WalletPayment, WalletProfile, WalletRailTransfer
from plaza.payments.service import Context, HeldForReview, LimitExceeded, WalletRestricted

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
LIVE_PAYMENT = ("pending", "completed")
LIVE_RAIL = ("created", "pending", "settled", "returned")


@dataclass(frozen=True)
class Usage:
    tier: str
    daily_limit: int
    daily_used: int
    weekly_limit: int
    weekly_used: int
    weekly_deposit_limit: int
    weekly_deposits: int


def dollars(amount: int) -> str:
    return f"${amount / 100:,.2f}"


class Limits:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def lock_profile(self, session: AsyncSession, user_id: int) -> WalletProfile:
        """The user's profile row, created if missing and locked for this transaction.

        Created with ON CONFLICT DO NOTHING: two first payments of a user at once must
        both find the row, not fail on its primary key."""
        insert = sqlite_insert if self.ctx.db.is_sqlite else postgresql_insert
        await session.execute(
            insert(WalletProfile)
            .values(user_id=user_id, verification="none")
            .on_conflict_do_nothing()
        )
        profile = await session.scalar(
            select(WalletProfile)
            .where(WalletProfile.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert profile is not None
        return profile

    async def tier(self, session: AsyncSession, user_id: int) -> str:
        verification = await session.scalar(
            select(WalletProfile.verification).where(WalletProfile.user_id == user_id)
        )
        return "verified" if verification == "verified" else "unverified"

    async def usage(self, session: AsyncSession, user_id: int) -> Usage:
        now = self.ctx.clock.now()
        p = self.ctx.policy
        tier = await self.tier(session, user_id)
        daily = await self._sent_since(session, user_id, now - DAY)
        weekly = await self._sent_since(session, user_id, now - WEEK)
        deposits = await session.scalar(
            select(func.coalesce(func.sum(WalletRailTransfer.amount), 0)).where(
                WalletRailTransfer.user_id == user_id,
                WalletRailTransfer.direction == "deposit",
                WalletRailTransfer.status.in_(LIVE_RAIL),
                WalletRailTransfer.created_at >= now - WEEK,
            )
        )
        verified = tier == "verified"
        return Usage(
            tier=tier,
            daily_limit=p.verified_daily if verified else p.unverified_daily,
            daily_used=daily,
            weekly_limit=p.verified_weekly if verified else p.unverified_weekly,
            weekly_used=weekly,
            weekly_deposit_limit=(
                p.verified_weekly_deposits if verified else p.unverified_weekly_deposits
            ),
            weekly_deposits=int(deposits or 0),
        )

    async def _sent_since(self, session: AsyncSession, user_id: int, since: object) -> int:
        paid = await session.scalar(
            select(func.coalesce(func.sum(WalletPayment.amount), 0)).where(
                WalletPayment.payer_id == user_id,
                WalletPayment.kind == "payment",
                WalletPayment.status.in_(LIVE_PAYMENT),
                WalletPayment.created_at >= since,
            )
        )
        cashed = await session.scalar(
            select(func.coalesce(func.sum(WalletRailTransfer.amount), 0)).where(
                WalletRailTransfer.user_id == user_id,
                WalletRailTransfer.direction == "cashout",
                WalletRailTransfer.status.in_(LIVE_RAIL),
                WalletRailTransfer.created_at >= since,
            )
        )
        return int(paid or 0) + int(cashed or 0)

    async def check_not_held(self, session: AsyncSession, profile: WalletProfile) -> None:
        """Refuse outgoing money while the wallet is restricted or flagged for review."""
        if profile.restricted_reason:
            raise WalletRestricted(f"wallet restricted: {profile.restricted_reason}")
        flagged = await session.scalar(
            select(WalletFlag.id).where(
                WalletFlag.user_id == profile.user_id, WalletFlag.status == "open"
            )
        )
        if flagged is not None:
            raise HeldForReview(
                "held for review: your recent payments are being reviewed; sending and "
                "cash-outs resume once support has looked at them"
            )

    async def check_send(self, session: AsyncSession, user_id: int, amount: int) -> None:
        """Raise LimitExceeded if ``amount`` more would break the daily or weekly limit."""
        usage = await self.usage(session, user_id)
        if usage.daily_used + amount > usage.daily_limit:
            raise LimitExceeded(
                f"limit exceeded: the {usage.tier} daily sending limit is "
                f"{dollars(usage.daily_limit)} over 24 hours and {dollars(usage.daily_used)} "
                "is used; verify your identity for higher limits"
            )
        if usage.weekly_used + amount > usage.weekly_limit:
            raise LimitExceeded(
                f"limit exceeded: the {usage.tier} weekly sending limit is "
                f"{dollars(usage.weekly_limit)} over 7 days and {dollars(usage.weekly_used)} "
                "is used; verify your identity for higher limits"
            )

    async def check_deposit(self, session: AsyncSession, user_id: int, amount: int) -> None:
        usage = await self.usage(session, user_id)
        if usage.weekly_deposits + amount > usage.weekly_deposit_limit:
            raise LimitExceeded(
                f"limit exceeded: the {usage.tier} deposit limit is "
                f"{dollars(usage.weekly_deposit_limit)} over 7 days and "
                f"{dollars(usage.weekly_deposits)} is used"
            )

    async def check_structuring(self, session: AsyncSession, user_id: int, amount: int) -> bool:
        """Whether this payment completes a structuring pattern. When it does, a flag is
        added to ``session``; the caller commits it and refuses the payment."""
        p = self.ctx.policy
        low = p.structuring_threshold * (100 - p.structuring_margin_percent) // 100
        if not low <= amount < p.structuring_threshold:
            return False
        now = self.ctx.clock.now()
        earlier = await session.scalar(
            select(func.count()).where(
                WalletPayment.payer_id == user_id,
                WalletPayment.kind == "payment",
                WalletPayment.status.in_(LIVE_PAYMENT),
                WalletPayment.created_at >= now - DAY,
                WalletPayment.amount >= low,
                WalletPayment.amount < p.structuring_threshold,
            )
        )
        if int(earlier or 0) + 1 < p.structuring_count:
            return False
        flag = WalletFlag(
            id=self.ctx.ids.next_id(),
            user_id=user_id,
            kind="structuring",
            status="open",
            detail=(
                f"{int(earlier or 0) + 1} payments within 24 hours between {dollars(low)} and "
                f"{dollars(p.structuring_threshold)}"
            ),
            created_at=now,
        )
        session.add(flag)
        self.ctx.bus.publish(
            session, PaymentFlagged(flag_id=flag.id, user_id=user_id, kind=flag.kind)
        )
        return True

    async def refuse_structuring(self) -> None:
        raise HeldForReview(
            "held for review: several payments just under "
            f"{dollars(self.ctx.policy.structuring_threshold)} within 24 hours look like "
            "structuring; this payment was not sent and support will review your account"
        )

    # ---- administration ---------------------------------------------------------------

    async def flags(
        self, *, status: str | None, limit: int, before_id: int | None
    ) -> list[WalletFlag]:
        query = select(WalletFlag).order_by(WalletFlag.id.desc()).limit(limit)
        if status:
            query = query.where(WalletFlag.status == status)
        if before_id is not None:
            query = query.where(WalletFlag.id < before_id)
        async with self.ctx.db.session(write=False) as session:
            return list((await session.scalars(query)).all())

    async def clear_flag(self, flag_id: int, admin_id: int) -> WalletFlag:
        """Close a review flag; the user's payments are no longer held by it."""
        async with self.ctx.db.session() as session:
            flag = await session.get(WalletFlag, flag_id)
            if flag is None:
                raise NotFound("No such flag.")
            if flag.status == "open":
                flag.status = "cleared"
                flag.resolved_at = self.ctx.clock.now()
                flag.resolved_by = admin_id
                await session.commit()
            return flag

    async def lift_restriction(self, user_id: int) -> None:
        async with self.ctx.db.session() as session:
            profile = await session.get(WalletProfile, user_id)
            if profile is None or not profile.restricted_reason:
                raise NotFound("That wallet is not restricted.")
            profile.restricted_reason = None
            await session.commit()
