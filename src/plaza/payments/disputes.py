"""Disputes: a payer contests a payment; an administrator decides.

Resolved for the payer, the payer is credited what was not already refunded, through
the ``disputes`` system account: as much as the payee still holds is taken back from
the payee (payee -> disputes), the rest is covered by Plaza, and the credit
(disputes -> payer) is linked with the claw-back so both apply or neither. Resolved for
the payee, nothing moves. The plan is stored (``resolving``) before the transfers are
submitted, so a repeat after a crash submits exactly the same transfers.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Conflict, InvalidInput, NotFound
from plaza.identity import Principal
from plaza.payments.events import DisputeOpened, DisputeResolved
from plaza.payments.ledger import TransferSpec
from plaza.payments.models import WalletDispute, WalletPayment
from plaza.payments.service import DISPUTES, Context, LedgerRefused, all_done, first_failure


class Disputes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def open(self, principal: Principal, payment_id: int, reason: str) -> WalletDispute:
        """The payer disputes a completed payment (once). Raises NotFound (not theirs),
        InvalidInput (not the payer, a refund), Conflict (not completed, already open)."""
        user_id = principal.user.id
        async with self.ctx.db.session() as session:
            payment = await session.get(WalletPayment, payment_id)
            if payment is None or user_id not in (payment.payer_id, payment.payee_id):
                raise NotFound("No such payment.")
            if payment.payer_id != user_id or payment.kind != "payment":
                raise InvalidInput("payment_id", "only the payer can dispute a payment")
            if payment.status != "completed":
                raise Conflict("Only a completed payment can be disputed.")
            if await session.scalar(
                select(WalletDispute.id).where(WalletDispute.payment_id == payment_id)
            ):
                raise Conflict("This payment is already disputed.")
            dispute = WalletDispute(
                id=self.ctx.ids.next_id(),
                payment_id=payment.id,
                payer_id=payment.payer_id,
                payee_id=payment.payee_id,
                reason=reason,
                status="open",
                amount=0,
                clawed_back=0,
                resolution_note="",
                created_at=self.ctx.clock.now(),
            )
            session.add(dispute)
            self.ctx.bus.publish(
                session,
                DisputeOpened(
                    dispute_id=dispute.id,
                    payment_id=payment.id,
                    payer_id=payment.payer_id,
                    payee_id=payment.payee_id,
                ),
            )
            await session.commit()
            return dispute

    async def for_payment(self, user_id: int, payment_id: int) -> WalletDispute:
        async with self.ctx.db.session(write=False) as session:
            dispute = await session.scalar(
                select(WalletDispute).where(WalletDispute.payment_id == payment_id)
            )
        if dispute is None or user_id not in (dispute.payer_id, dispute.payee_id):
            raise NotFound("No dispute for this payment.")
        return dispute

    async def list_for(
        self, *, status: str | None, limit: int, before_id: int | None
    ) -> list[tuple[WalletDispute, WalletPayment]]:
        query = (
            select(WalletDispute, WalletPayment)
            .join(WalletPayment, WalletPayment.id == WalletDispute.payment_id)
            .order_by(WalletDispute.id.desc())
            .limit(limit)
        )
        if status:
            query = query.where(WalletDispute.status == status)
        if before_id is not None:
            query = query.where(WalletDispute.id < before_id)
        async with self.ctx.db.session(write=False) as session:
            return [(d, p) for d, p in (await session.execute(query)).all()]

    async def get(self, dispute_id: int) -> tuple[WalletDispute, WalletPayment]:
        async with self.ctx.db.session(write=False) as session:
            dispute = await session.get(WalletDispute, dispute_id)
            if dispute is None:
                raise NotFound("No such dispute.")
            payment = await session.get(WalletPayment, dispute.payment_id)
            assert payment is not None
            return dispute, payment

    async def resolve(
        self, admin_id: int, dispute_id: int, *, for_payer: bool, note: str
    ) -> WalletDispute:
        """Decide an open dispute (see the module docstring). Raises NotFound, Conflict
        (already decided) and LedgerRefused (503: nothing applied; try again)."""
        dispute, payment = await self.get(dispute_id)
        if dispute.status in ("won", "lost"):
            raise Conflict(f"This dispute is already decided ({dispute.status}).")
        now = self.ctx.clock.now()
        if not for_payer:
            async with self.ctx.db.session() as session:
                changed = await session.execute(
                    update(WalletDispute)
                    .where(WalletDispute.id == dispute.id, WalletDispute.status == "open")
                    .values(
                        status="lost", resolution_note=note, resolved_at=now, resolved_by=admin_id
                    )
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict("This dispute is being decided already.")
                self._resolved(session, dispute, "payee")
                await session.commit()
            return (await self.get(dispute_id))[0]
        payer_wallet = await self.ctx.wallet(payment.payer_id)
        payee_wallet = await self.ctx.wallet(payment.payee_id)
        account = await self.ctx.system(DISPUTES)
        if dispute.status == "open":
            async with self.ctx.db.session() as session:
                refunded = await session.scalar(
                    select(func.coalesce(func.sum(WalletPayment.amount), 0)).where(
                        WalletPayment.refund_of == payment.id,
                        WalletPayment.status.in_(("pending", "completed")),
                    )
                )
                owed = max(payment.amount - int(refunded or 0), 0)
                available = (await self.ctx.ledger.balance(payee_wallet)).available
                changed = await session.execute(
                    update(WalletDispute)
                    .where(WalletDispute.id == dispute.id, WalletDispute.status == "open")
                    .values(
                        status="resolving",
                        amount=owed,
                        clawed_back=min(owed, max(available, 0)),
                        clawback_transfer_id=self.ctx.ids.next_id(),
                        credit_transfer_id=self.ctx.ids.next_id(),
                        resolution_note=note,
                        resolved_by=admin_id,
                    )
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict("This dispute is being decided already.")
                await session.commit()
            dispute, payment = await self.get(dispute_id)
        meta = {"dispute_id": str(dispute.id), "payment_id": str(payment.id)}
        specs = []
        if dispute.clawed_back and dispute.clawback_transfer_id:
            specs.append(
                TransferSpec(
                    dispute.clawback_transfer_id,
                    payee_wallet,
                    account,
                    dispute.clawed_back,
                    "dispute_clawback",
                    meta,
                    linked=True,
                )
            )
        if dispute.amount and dispute.credit_transfer_id:
            specs.append(
                TransferSpec(
                    dispute.credit_transfer_id,
                    account,
                    payer_wallet,
                    dispute.amount,
                    "dispute_credit",
                    meta,
                )
            )
        results = await self.ctx.submit(specs)
        if not all_done(results):
            # The payee spent the money meanwhile: plan again on the next attempt.
            async with self.ctx.db.session() as session:
                await session.execute(
                    update(WalletDispute)
                    .where(WalletDispute.id == dispute.id, WalletDispute.status == "resolving")
                    .values(status="open", clawback_transfer_id=None, credit_transfer_id=None)
                )
                await session.commit()
            raise LedgerRefused(
                f"the correcting transfer could not be applied ({first_failure(results)}); "
                "try again"
            )
        async with self.ctx.db.session() as session:
            changed = await session.execute(
                update(WalletDispute)
                .where(WalletDispute.id == dispute.id, WalletDispute.status == "resolving")
                .values(status="won", resolved_at=now)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                self._resolved(session, dispute, "payer")
            await session.commit()
        return (await self.get(dispute_id))[0]

    async def recover(self) -> int:
        """Finish resolutions a crash interrupted (``resolving``: the plan is stored, the
        transfers may or may not have been applied; resubmitting them is safe)."""
        cutoff = self.ctx.clock.now() - timedelta(seconds=self.ctx.policy.recovery_grace_seconds)
        async with self.ctx.db.session(write=False) as session:
            stuck = (
                await session.scalars(
                    select(WalletDispute).where(
                        WalletDispute.status == "resolving", WalletDispute.created_at < cutoff
                    )
                )
            ).all()
        for dispute in stuck:
            with contextlib.suppress(LedgerRefused, Conflict):
                await self.resolve(
                    dispute.resolved_by or 0,
                    dispute.id,
                    for_payer=True,
                    note=dispute.resolution_note,
                )
        return len(stuck)

    def _resolved(self, session: AsyncSession, dispute: WalletDispute, outcome: str) -> None:
        self.ctx.bus.publish(
            session,
            DisputeResolved(
                dispute_id=dispute.id,
                payment_id=dispute.payment_id,
                payer_id=dispute.payer_id,
                payee_id=dispute.payee_id,
                outcome=outcome,
            ),
        )
