"""Top-ups and cash-outs through a bank rail, and the reconciliation report.

Deposits: money in an ACH deposit is not final until the bank settles it (and even
then it can come back), so a deposit is a *pending* ledger transfer from bank clearing
to the wallet. It shows as ``incoming`` but adds nothing to ``available``; settlement
posts it, a failure voids it. A return after settlement claws the amount back: as much
as the wallet still holds, and the rest (the user spent it) is booked to the
``returns_receivable`` account, a debt the user owes, and the wallet is restricted
(no sending, no cash-out) until an administrator lifts it.

Cash-outs: the amount is held at once (a pending wallet -> clearing transfer, so it
cannot be spent twice), posted when the bank settles, voided when it fails. Standard
cash-outs are free and settle after the rail's delay; instant ones settle on
submission and carry a fee, held as a second pending transfer to the ``fees`` account
linked with the cash-out: both post or both void.

Every transition submits transfers whose ids were minted with the row, so the periodic
``advance`` (and ``recover`` after a crash) can always repeat a step safely.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy import select, update

from plaza.core.errors import NotFound
from plaza.identity import Principal
from plaza.payments.events import RailTransferUpdated
from plaza.payments.ledger import TransferSpec, TransferStatus
from plaza.payments.limits import Limits, dollars
from plaza.payments.models import WalletProfile, WalletRailTransfer
from plaza.payments.sandbox import BankRail, RailOrder, RailState
from plaza.payments.schemas import Money
from plaza.payments.service import (
    BANK_CLEARING,
    DONE,
    FEES,
    RETURNS_RECEIVABLE,
    Context,
    InsufficientFunds,
    LedgerRefused,
    all_done,
    first_failure,
)

IN_FLIGHT = ("created", "pending", "settled", "returning")


class Rail:
    def __init__(self, ctx: Context, limits: Limits, rail: BankRail) -> None:
        self.ctx = ctx
        self.limits = limits
        self.rail = rail

    # ---- starting a transfer ---------------------------------------------------------------

    async def deposit(self, user_id: int, amount: Money, note: str = "") -> WalletRailTransfer:
        """Top up the wallet from the user's bank. The money is spendable only once the
        rail settles. Raises InvalidInput and LimitExceeded (weekly deposit limit)."""
        cents = self.ctx.amount(amount)
        await self.ctx.wallet(user_id)  # opened outside our write transaction
        async with self.ctx.db.session() as session:
            await self.limits.lock_profile(session, user_id)
            await self.limits.check_deposit(session, user_id, cents)
            row = self._row(user_id, "deposit", "standard", cents, 0, note)
            session.add(row)
            await session.commit()
        return await self._open(row)

    async def cashout(
        self, principal: Principal, amount: Money, speed: str, note: str = ""
    ) -> WalletRailTransfer:
        """Send money from the wallet to the user's bank; always needs a recent step-up.
        Raises StepUpRequired, InvalidInput, LimitExceeded, HeldForReview,
        WalletRestricted and InsufficientFunds (the amount plus any instant fee)."""
        cents = self.ctx.amount(amount)
        user_id = principal.user.id
        fee = self.ctx.policy.instant_fee(cents) if speed == "instant" else 0
        wallet = await self.ctx.wallet(user_id)
        balance = await self.ctx.ledger.balance(wallet)
        async with self.ctx.db.session() as session:
            profile = await self.limits.lock_profile(session, user_id)
            await self.limits.check_not_held(session, profile)
            await self.limits.check_send(session, user_id, cents)
            self.ctx.require_step_up(principal)
            if balance.available < cents + fee:
                raise InsufficientFunds(
                    f"The available balance does not cover {dollars(cents)}"
                    + (f" and the instant fee of {dollars(fee)}." if fee else ".")
                )
            row = self._row(user_id, "cashout", speed, cents, fee, note)
            session.add(row)
            await session.commit()
        return await self._open(row)

    def _row(
        self, user_id: int, direction: str, speed: str, amount: int, fee: int, note: str
    ) -> WalletRailTransfer:
        now = self.ctx.clock.now()
        new = self.ctx.ids.next_id
        return WalletRailTransfer(
            id=new(),
            user_id=user_id,
            direction=direction,
            speed=speed,
            amount=amount,
            fee=fee,
            currency=self.ctx.policy.currency,
            note=note,
            status="created",
            rail=self.rail.name,
            hold_transfer_id=new(),
            settle_transfer_id=new(),
            void_transfer_id=new(),
            fee_transfer_id=new() if fee else None,
            fee_settle_transfer_id=new() if fee else None,
            fee_void_transfer_id=new() if fee else None,
            return_transfer_id=new(),
            shortfall_transfer_id=new(),
            shortfall=0,
            created_at=now,
            updated_at=now,
        )

    async def _open(self, row: WalletRailTransfer) -> WalletRailTransfer:
        """Hold the money in the ledger, hand the order to the rail, apply its answer."""
        wallet = await self.ctx.wallet(row.user_id)
        clearing = await self.ctx.system(BANK_CLEARING)
        meta = {"rail_transfer_id": str(row.id)}
        if row.direction == "deposit":
            specs = [
                TransferSpec(
                    row.hold_transfer_id,
                    clearing,
                    wallet,
                    row.amount,
                    "deposit",
                    meta,
                    pending=True,
                )
            ]
        else:
            specs = [
                TransferSpec(
                    row.hold_transfer_id,
                    wallet,
                    clearing,
                    row.amount,
                    "cashout",
                    meta,
                    pending=True,
                    linked=bool(row.fee),
                )
            ]
            if row.fee and row.fee_transfer_id:
                fees = await self.ctx.system(FEES)
                specs.append(
                    TransferSpec(
                        row.fee_transfer_id,
                        wallet,
                        fees,
                        row.fee,
                        "cashout_fee",
                        meta,
                        pending=True,
                    )
                )
        results = await self.ctx.submit(specs)
        if not all_done(results):
            failure = first_failure(results)
            await self._set(row, status="failed", failure_code=str(failure)[:32])
            if failure == TransferStatus.INSUFFICIENT_FUNDS:
                raise InsufficientFunds()
            raise LedgerRefused(f"the ledger refused the transfer ({failure})")
        state = await self.rail.submit(
            RailOrder(
                reference=str(row.id),
                direction=row.direction,  # type: ignore[arg-type]
                amount=row.amount,
                currency=row.currency,
                instant=row.speed == "instant",
                note=row.note,
            )
        )
        row = await self._set(row, status="pending", expect="created")
        return await self._apply(row, state)

    # ---- moving along -------------------------------------------------------------------

    async def advance(self) -> int:
        """Ask the rail about every transfer in flight and apply what changed (the
        periodic job). Returns how many transfers changed state."""
        async with self.ctx.db.session(write=False) as session:
            rows = list(
                (
                    await session.scalars(
                        select(WalletRailTransfer)
                        .where(WalletRailTransfer.status.in_(("pending", "settled", "returning")))
                        .order_by(WalletRailTransfer.id)
                        .limit(1000)
                    )
                ).all()
            )
        if not rows:
            return 0
        states = await self.rail.poll([str(r.id) for r in rows])
        changed = 0
        for row in rows:
            state = states.get(str(row.id))
            if state is None:
                continue
            before = row.status
            try:
                after = await self._apply(row, state)
            except LedgerRefused:
                continue  # tried again at the next tick
            changed += after.status != before
        return changed

    async def recover(self) -> int:
        """Finish transfers a crash left ``created`` (hold not yet placed or the rail not
        yet told): both steps are idempotent, so they are simply repeated."""
        cutoff = self.ctx.clock.now() - timedelta(seconds=self.ctx.policy.recovery_grace_seconds)
        async with self.ctx.db.session(write=False) as session:
            rows = list(
                (
                    await session.scalars(
                        select(WalletRailTransfer).where(
                            WalletRailTransfer.status == "created",
                            WalletRailTransfer.created_at < cutoff,
                        )
                    )
                ).all()
            )
        for row in rows:
            # _open records a refusal on the row as failed; the others go on.
            with contextlib.suppress(InsufficientFunds, LedgerRefused):
                await self._open(row)
        return len(rows)

    async def _apply(self, row: WalletRailTransfer, state: RailState) -> WalletRailTransfer:
        if row.status == "pending" and state.status in ("settled", "returned"):
            row = await self._settle(row)
        elif row.status == "pending" and state.status == "failed":
            row = await self._fail(row, state.failure_code)
        if row.status in ("settled", "returning") and state.status == "returned":
            row = await self._return(row, state.failure_code)
        return row

    async def _settle(self, row: WalletRailTransfer) -> WalletRailTransfer:
        meta = {"rail_transfer_id": str(row.id)}
        code = "deposit" if row.direction == "deposit" else "cashout"
        specs = [
            TransferSpec(
                row.settle_transfer_id,
                0,
                0,
                0,
                code,
                meta,
                post_pending_id=row.hold_transfer_id,
                linked=bool(row.fee),
            )
        ]
        if row.fee and row.fee_settle_transfer_id:
            specs.append(
                TransferSpec(
                    row.fee_settle_transfer_id,
                    0,
                    0,
                    0,
                    "cashout_fee",
                    meta,
                    post_pending_id=row.fee_transfer_id,
                )
            )
        await self._must(specs)
        return await self._set(row, status="settled", expect="pending", settled=True)

    async def _fail(self, row: WalletRailTransfer, code: str | None) -> WalletRailTransfer:
        meta = {"rail_transfer_id": str(row.id)}
        kind = "deposit" if row.direction == "deposit" else "cashout"
        specs = [
            TransferSpec(
                row.void_transfer_id,
                0,
                0,
                0,
                kind,
                meta,
                void_pending_id=row.hold_transfer_id,
                linked=bool(row.fee),
            )
        ]
        if row.fee and row.fee_void_transfer_id:
            specs.append(
                TransferSpec(
                    row.fee_void_transfer_id,
                    0,
                    0,
                    0,
                    "cashout_fee",
                    meta,
                    void_pending_id=row.fee_transfer_id,
                )
            )
        await self._must(specs)
        return await self._set(row, status="failed", expect="pending", failure_code=code)

    async def _return(self, row: WalletRailTransfer, code: str | None) -> WalletRailTransfer:
        """The bank took settled money back. The plan (how much the wallet covers) is
        stored first (``returning``), so a repeat submits the very same transfers."""
        wallet = await self.ctx.wallet(row.user_id)
        clearing = await self.ctx.system(BANK_CLEARING)
        meta = {"rail_transfer_id": str(row.id)}
        if row.direction == "cashout":
            # The money never reached the user's bank: it comes back to the wallet.
            assert row.return_transfer_id is not None
            await self._must(
                [
                    TransferSpec(
                        row.return_transfer_id, clearing, wallet, row.amount, "cashout_return", meta
                    )
                ]
            )
            return await self._set(
                row, status="returned", expect="settled", failure_code=code, returned=True
            )
        if row.status == "settled":
            available = (await self.ctx.ledger.balance(wallet)).available
            shortfall = row.amount - min(row.amount, max(available, 0))
            row = await self._set(row, status="returning", expect="settled", shortfall=shortfall)
        take = row.amount - row.shortfall
        specs = []
        if take:
            assert row.return_transfer_id is not None
            specs.append(
                TransferSpec(
                    row.return_transfer_id,
                    wallet,
                    clearing,
                    take,
                    "deposit_return",
                    meta,
                    linked=bool(row.shortfall),
                )
            )
        if row.shortfall:
            assert row.shortfall_transfer_id is not None
            receivable = await self.ctx.system(RETURNS_RECEIVABLE)
            specs.append(
                TransferSpec(
                    row.shortfall_transfer_id,
                    receivable,
                    clearing,
                    row.shortfall,
                    "deposit_return_shortfall",
                    {**meta, "user_id": str(row.user_id)},
                )
            )
        results = await self.ctx.submit(specs)
        if not all_done(results):
            if first_failure(results) == TransferStatus.INSUFFICIENT_FUNDS:
                # Spent between the plan and the claw-back: plan again at the next tick.
                await self._set(row, status="settled", expect="returning", shortfall=0)
            raise LedgerRefused(f"the return could not be applied ({first_failure(results)})")
        if row.shortfall:
            async with self.ctx.db.session() as session:
                profile = await self.limits.lock_profile(session, row.user_id)
                profile.restricted_reason = (
                    f"a bank deposit was returned after it was spent; "
                    f"{dollars(row.shortfall)} is owed"
                )
                await session.commit()
        return await self._set(
            row, status="returned", expect="returning", failure_code=code, returned=True
        )

    async def _must(self, specs: list[TransferSpec]) -> None:
        results = await self.ctx.submit(specs)
        if not all(r.status in DONE for r in results):
            raise LedgerRefused(f"the ledger refused the transfer ({first_failure(results)})")

    async def _set(
        self,
        row: WalletRailTransfer,
        *,
        status: str,
        expect: str | None = None,
        failure_code: str | None = None,
        shortfall: int | None = None,
        settled: bool = False,
        returned: bool = False,
    ) -> WalletRailTransfer:
        """Move the row to ``status`` (only from ``expect``), publishing the change."""
        now = self.ctx.clock.now()
        values: dict[str, object] = {"status": status, "updated_at": now}
        if failure_code is not None:
            values["failure_code"] = failure_code
        if shortfall is not None:
            values["shortfall"] = shortfall
        if settled:
            values["settled_at"] = now
        if returned:
            values["returned_at"] = now
        if status == "failed":
            values["failed_at"] = now
        async with self.ctx.db.session() as session:
            query = update(WalletRailTransfer).where(WalletRailTransfer.id == row.id)
            if expect is not None:
                query = query.where(WalletRailTransfer.status == expect)
            changed = await session.execute(query.values(**values))
            if changed.rowcount == 1 and status != "returning":  # type: ignore[attr-defined]
                self.ctx.bus.publish(
                    session,
                    RailTransferUpdated(
                        transfer_id=row.id,
                        user_id=row.user_id,
                        direction=row.direction,
                        status=status,
                        amount=row.amount,
                        currency=row.currency,
                    ),
                )
            await session.commit()
            fresh = await session.get(WalletRailTransfer, row.id, populate_existing=True)
        assert fresh is not None
        return fresh

    # ---- reading ---------------------------------------------------------------------

    async def list_for(
        self, user_id: int, *, limit: int, before_id: int | None
    ) -> list[WalletRailTransfer]:
        query = (
            select(WalletRailTransfer)
            .where(WalletRailTransfer.user_id == user_id)
            .order_by(WalletRailTransfer.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(WalletRailTransfer.id < before_id)
        async with self.ctx.db.session(write=False) as session:
            return list((await session.scalars(query)).all())

    async def get(self, user_id: int, transfer_id: int) -> WalletRailTransfer:
        async with self.ctx.db.session(write=False) as session:
            row = await session.get(WalletRailTransfer, transfer_id)
        if row is None or row.user_id != user_id:
            raise NotFound("No such transfer.")
        return row

    async def in_flight(self, user_id: int) -> tuple[int, int]:
        """(incoming deposits, outgoing cash-outs) not yet settled."""
        async with self.ctx.db.session(write=False) as session:
            rows = await session.execute(
                select(WalletRailTransfer.direction, WalletRailTransfer.amount).where(
                    WalletRailTransfer.user_id == user_id,
                    WalletRailTransfer.status.in_(("created", "pending")),
                )
            )
            incoming = outgoing = 0
            for direction, amount in rows.all():
                if direction == "deposit":
                    incoming += amount
                else:
                    outgoing += amount
            return incoming, outgoing

    async def is_restricted(self, user_id: int) -> str | None:
        async with self.ctx.db.session(write=False) as session:
            return await session.scalar(
                select(WalletProfile.restricted_reason).where(WalletProfile.user_id == user_id)
            )
