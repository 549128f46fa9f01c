"""Peer-to-peer payments and refunds.

A payment is private: only its payer and payee ever see it (anyone else gets a 404),
and there is no public feed. Sending runs in three steps (see ``service``): a write
transaction checks the rules and stores the payment as ``pending`` with its ledger
transfer id; the ledger moves the money; a last write marks it ``completed`` (and
publishes ``PaymentCompleted``) or ``failed``. Failed payments are never listed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Conflict, InvalidInput, NotFound
from plaza.identity import Principal
from plaza.payments.events import PaymentCompleted
from plaza.payments.ledger import TransferSpec, TransferStatus
from plaza.payments.limits import Limits
from plaza.payments.models import WalletDispute, WalletPayment, WalletRequest
from plaza.payments.schemas import Money
from plaza.payments.service import (
    DONE,
    Blocked,
    Context,
    InsufficientFunds,
    LedgerRefused,
)


@dataclass(frozen=True)
class PaymentView:
    """A payment with what its viewer may see of it."""

    payment: WalletPayment
    refunded: int
    disputed: bool


class P2P:
    def __init__(self, ctx: Context, limits: Limits) -> None:
        self.ctx = ctx
        self.limits = limits

    # ---- sending -------------------------------------------------------------------

    async def send(
        self,
        principal: Principal,
        *,
        to: str,
        amount: Money,
        note: str = "",
        conversation_id: int | None = None,
    ) -> WalletPayment:
        """Pay ``to`` from the principal's wallet.

        Raises NotFound (no such user), InvalidInput (amount, currency, paying yourself),
        Blocked, LimitExceeded, HeldForReview, WalletRestricted, StepUpRequired (at or
        above the step-up threshold) and InsufficientFunds (422). Nothing is applied
        unless the payment completes.
        """
        cents = self.ctx.amount(amount)
        payer_id = principal.user.id
        payee = await self.ctx.user_named(to, "to")
        if payee.id == payer_id:
            raise InvalidInput("to", "you cannot pay yourself")
        if await self.ctx.blocks.blocked_either_way(payer_id, payee.id):
            raise Blocked(f"blocked: you cannot pay @{payee.username}")
        if conversation_id is not None and not await self.ctx.conversations.shares_conversation(
            conversation_id, payer_id, payee.id
        ):
            raise InvalidInput(
                "conversation_id", f"not a conversation you are in with @{payee.username}"
            )
        payment = await self.open_payment(
            principal,
            payer_id=payer_id,
            payee_id=payee.id,
            amount=cents,
            note=note,
            conversation_id=conversation_id,
        )
        return await self.execute(payment)

    async def open_payment(
        self,
        principal: Principal,
        *,
        payer_id: int,
        payee_id: int,
        amount: int,
        note: str,
        conversation_id: int | None = None,
        request: WalletRequest | None = None,
    ) -> WalletPayment:
        """Step one of a send: check every rule and store the payment as ``pending``
        with its transfer id (claiming ``request`` if given). ``execute`` moves the money."""
        balance = await self.ctx.ledger.balance(await self.ctx.wallet(payer_id))
        async with self.ctx.db.session() as session:
            profile = await self.limits.lock_profile(session, payer_id)
            await self.limits.check_not_held(session, profile)
            if await self.limits.check_structuring(session, payer_id, amount):
                await session.commit()
                await self.limits.refuse_structuring()
            await self.limits.check_send(session, payer_id, amount)
            if amount >= self.ctx.policy.step_up_threshold:
                self.ctx.require_step_up(principal)
            if balance.available < amount:
                raise InsufficientFunds()
            payment = self._row(
                session,
                kind="payment",
                payer_id=payer_id,
                payee_id=payee_id,
                amount=amount,
                note=note,
                conversation_id=conversation_id,
            )
            if request is not None:
                # Claimed in this transaction: a second accept finds it no longer pending.
                claimed = await session.execute(
                    update(WalletRequest)
                    .where(WalletRequest.id == request.id, WalletRequest.status == "pending")
                    .values(status="paid", payment_id=payment.id, resolved_at=payment.created_at)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict("This request is no longer pending.")
                payment.request_id = request.id
            await session.commit()
        return payment

    def _row(
        self,
        session: AsyncSession,
        *,
        kind: str,
        payer_id: int,
        payee_id: int,
        amount: int,
        note: str,
        conversation_id: int | None = None,
        refund_of: int | None = None,
    ) -> WalletPayment:
        payment = WalletPayment(
            id=self.ctx.ids.next_id(),
            kind=kind,
            payer_id=payer_id,
            payee_id=payee_id,
            amount=amount,
            currency=self.ctx.policy.currency,
            note=note,
            status="pending",
            transfer_id=self.ctx.ids.next_id(),
            refund_of=refund_of,
            conversation_id=conversation_id,
            created_at=self.ctx.clock.now(),
        )
        session.add(payment)
        return payment

    async def execute(self, payment: WalletPayment) -> WalletPayment:
        """Move the money of a pending payment and record the outcome. Safe to repeat:
        the transfer id is the payment's, so a second submission answers ``exists``."""
        spec = TransferSpec(
            id=payment.transfer_id,
            debit_account_id=await self.ctx.wallet(payment.payer_id),
            credit_account_id=await self.ctx.wallet(payment.payee_id),
            amount=payment.amount,
            code="refund" if payment.kind == "refund" else "p2p",
            metadata={"payment_id": str(payment.id)},
        )
        [result] = await self.ctx.submit([spec])
        if result.status in DONE:
            return await self._completed(payment)
        await self._failed(payment, result.status)
        if result.status == TransferStatus.INSUFFICIENT_FUNDS:
            raise InsufficientFunds()
        raise LedgerRefused(f"the ledger refused the payment ({result.status})")

    async def _completed(self, payment: WalletPayment) -> WalletPayment:
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as session:
            changed = await session.execute(
                update(WalletPayment)
                .where(WalletPayment.id == payment.id, WalletPayment.status == "pending")
                .values(status="completed", completed_at=now)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                self.ctx.bus.publish(
                    session,
                    PaymentCompleted(
                        payment_id=payment.id,
                        payer_id=payment.payer_id,
                        payee_id=payment.payee_id,
                        amount=payment.amount,
                        currency=payment.currency,
                        refund_of=payment.refund_of,
                        request_id=payment.request_id,
                        conversation_id=payment.conversation_id,
                    ),
                )
            await session.commit()
            fresh = await session.get(WalletPayment, payment.id, populate_existing=True)
            assert fresh is not None
            return fresh

    async def _failed(self, payment: WalletPayment, status: str) -> None:
        async with self.ctx.db.session() as session:
            changed = await session.execute(
                update(WalletPayment)
                .where(WalletPayment.id == payment.id, WalletPayment.status == "pending")
                .values(status="failed", failure=str(status)[:64])
            )
            if changed.rowcount == 1 and payment.request_id is not None:  # type: ignore[attr-defined]
                # The request this was paying is open again.
                await session.execute(
                    update(WalletRequest)
                    .where(
                        WalletRequest.id == payment.request_id,
                        WalletRequest.payment_id == payment.id,
                    )
                    .values(status="pending", payment_id=None, resolved_at=None)
                )
            await session.commit()

    # ---- refunds ---------------------------------------------------------------------

    async def refund(
        self, principal: Principal, payment_id: int, *, amount: Money | None, note: str = ""
    ) -> WalletPayment:
        """The payee sends back all or part of a completed payment. The refunds of one
        payment never add up to more than it. Blocks do not stop a refund (giving money
        back is always allowed) and refunds count towards no sending limit.

        Raises NotFound (not the payee's), InvalidInput (amount), Conflict (not completed)
        and InsufficientFunds.
        """
        user_id = principal.user.id
        # Opening a wallet may write: never inside our own write transaction (SQLite).
        wallet = await self.ctx.wallet(user_id)
        async with self.ctx.db.session() as session:
            original = await session.scalar(
                select(WalletPayment)
                .where(WalletPayment.id == payment_id, WalletPayment.kind == "payment")
                .with_for_update()
            )
            if original is None or user_id not in (original.payer_id, original.payee_id):
                raise NotFound("No such payment.")
            if original.payee_id != user_id:
                raise InvalidInput("payment_id", "only the payee can refund a payment")
            if original.status != "completed":
                raise Conflict("Only a completed payment can be refunded.")
            refunded = await self._refunded(session, original.id)
            left = original.amount - refunded
            cents = left if amount is None else self.ctx.amount(amount)
            if left <= 0:
                raise Conflict("This payment has been refunded in full.")
            if cents > left:
                raise InvalidInput(
                    "amount.amount", f"at most {left} can still be refunded of this payment"
                )
            balance = await self.ctx.ledger.balance(wallet)
            if balance.available < cents:
                raise InsufficientFunds()
            refund = self._row(
                session,
                kind="refund",
                payer_id=user_id,
                payee_id=original.payer_id,
                amount=cents,
                note=note,
                refund_of=original.id,
            )
            await session.commit()
        return await self.execute(refund)

    @staticmethod
    async def _refunded(session: AsyncSession, payment_id: int) -> int:
        total = await session.scalar(
            select(func.coalesce(func.sum(WalletPayment.amount), 0)).where(
                WalletPayment.refund_of == payment_id,
                WalletPayment.status.in_(("pending", "completed")),
            )
        )
        return int(total or 0)

    # ---- reading ---------------------------------------------------------------------

    async def get(self, user_id: int, payment_id: int) -> PaymentView:
        """One payment of this user's (payer or payee); anyone else gets NotFound."""
        async with self.ctx.db.session(write=False) as session:
            payment = await session.get(WalletPayment, payment_id)
            if payment is None or user_id not in (payment.payer_id, payment.payee_id):
                raise NotFound("No such payment.")
            if payment.status == "failed" and user_id != payment.payer_id:
                raise NotFound("No such payment.")
            return (await self._views(session, [payment]))[0]

    async def list_for(
        self,
        user_id: int,
        *,
        direction: str | None,
        limit: int,
        before_id: int | None,
    ) -> list[PaymentView]:
        """This user's payments and refunds (their side only), newest first."""
        sides = {
            "in": WalletPayment.payee_id == user_id,
            "out": WalletPayment.payer_id == user_id,
        }
        where = sides[direction] if direction else or_(*sides.values())
        query = (
            select(WalletPayment)
            .where(where, WalletPayment.status != "failed")
            .order_by(WalletPayment.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(WalletPayment.id < before_id)
        async with self.ctx.db.session(write=False) as session:
            rows = list((await session.scalars(query)).all())
            return await self._views(session, rows)

    @staticmethod
    async def _views(session: AsyncSession, rows: list[WalletPayment]) -> list[PaymentView]:
        ids = [r.id for r in rows if r.kind == "payment"]
        refunded: dict[int, int] = {}
        disputed: set[int] = set()
        if ids:
            sums = await session.execute(
                select(WalletPayment.refund_of, func.sum(WalletPayment.amount))
                .where(
                    WalletPayment.refund_of.in_(ids),
                    WalletPayment.status.in_(("pending", "completed")),
                )
                .group_by(WalletPayment.refund_of)
            )
            refunded = {int(k): int(v) for k, v in sums.all() if k is not None}
            disputed = set(
                (
                    await session.scalars(
                        select(WalletDispute.payment_id).where(WalletDispute.payment_id.in_(ids))
                    )
                ).all()
            )
        return [PaymentView(r, refunded.get(r.id, 0), r.id in disputed) for r in rows]

    # ---- recovery ----------------------------------------------------------------------

    async def recover(self) -> int:
        """Finish payments left ``pending`` by a crash between the steps of a send."""
        cutoff = self.ctx.clock.now() - timedelta(seconds=self.ctx.policy.recovery_grace_seconds)
        async with self.ctx.db.session(write=False) as session:
            stuck = list(
                (
                    await session.scalars(
                        select(WalletPayment)
                        .where(
                            WalletPayment.status == "pending",
                            WalletPayment.created_at < cutoff,
                        )
                        .limit(500)
                    )
                ).all()
            )
        for payment in stuck:
            # execute records a refusal on the row as failed; the others go on.
            with contextlib.suppress(InsufficientFunds, LedgerRefused):
                await self.execute(payment)
        return len(stuck)
