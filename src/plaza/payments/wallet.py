"""``Payments``: the payments domain's one object, built once in ``app.py``. It owns
the feature services, the wallet summary, the reconciliation report and the periodic
jobs (rail progress, recovery)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from plaza.payments.disputes import Disputes
from plaza.payments.kyc import Verification
from plaza.payments.limits import Limits, Usage
from plaza.payments.models import WalletRailTransfer
from plaza.payments.p2p import P2P
from plaza.payments.rail import Rail
from plaza.payments.requests import Requests
from plaza.payments.sandbox import BankRail
from plaza.payments.schemas import Money
from plaza.payments.service import BANK_CLEARING, Context
from plaza.payments.statements import Statements


@dataclass(frozen=True)
class WalletSummary:
    balance: int
    available: int
    incoming: int
    outgoing: int
    verification: str
    restricted: str | None
    usage: Usage


@dataclass(frozen=True)
class Mismatch:
    reference: str
    direction: str
    amount: int
    ours: str | None
    rail: str | None
    problem: str


@dataclass(frozen=True)
class Reconciliation:
    rail: str
    checked: int
    matched: int
    in_flight: int
    ledger_clearing: int
    rail_net: int
    mismatches: list[Mismatch]

    @property
    def balanced(self) -> bool:
        return not self.mismatches and self.ledger_clearing == self.rail_net


# Our status may lag the rail's until the next tick; these pairs are not mismatches.
_CATCHING_UP = {
    ("created", "pending"),
    ("created", "settled"),
    ("created", "failed"),
    ("created", "returned"),
    ("pending", "settled"),
    ("pending", "failed"),
    ("pending", "returned"),
    ("settled", "returned"),
    ("returning", "returned"),
}


class Payments:
    def __init__(self, ctx: Context, rail: BankRail) -> None:
        self.ctx = ctx
        self.limits = Limits(ctx)
        self.p2p = P2P(ctx, self.limits)
        self.requests = Requests(ctx, self.p2p)
        self.rail = Rail(ctx, self.limits, rail)
        self.verification = Verification(ctx, self.limits)
        self.disputes = Disputes(ctx)
        self.statements = Statements(ctx)

    async def summary(self, user_id: int) -> WalletSummary:
        """Balance (posted), available (less held cash-outs), money in flight, tier."""
        balance = await self.ctx.ledger.balance(await self.ctx.wallet(user_id))
        incoming, outgoing = await self.rail.in_flight(user_id)
        profile = await self.verification.status(user_id)
        async with self.ctx.db.session(write=False) as session:
            usage = await self.limits.usage(session, user_id)
        return WalletSummary(
            balance=balance.balance,
            available=balance.available,
            incoming=incoming,
            outgoing=outgoing,
            verification=profile.verification,
            restricted=profile.restricted_reason,
            usage=usage,
        )

    async def demo_top_up(self, user_id: int, amount: int) -> bool:
        """Give a demo account a sandbox top-up, once (for ``plaza demo``)."""
        if await self.rail.list_for(user_id, limit=1, before_id=None):
            return False
        money = Money(amount=amount, currency=self.ctx.policy.currency)
        await self.rail.deposit(user_id, money, note="plaza demo top-up")
        return True

    async def tick(self) -> None:
        """The periodic job: move rail transfers along, then finish interrupted work."""
        await self.rail.advance()
        await self.recover()

    async def recover(self) -> int:
        """Finish payments, rail transfers and dispute resolutions a crash left half-done."""
        return await self.p2p.recover() + await self.rail.recover() + await self.disputes.recover()

    async def reconciliation(self) -> Reconciliation:
        """Compare our rail transfers, the rail's own records and the ledger's
        bank-clearing balance (what the bank owes us, negative: what we owe)."""
        records = {r.reference: r for r in await self.rail.rail.records()}
        async with self.ctx.db.session(write=False) as session:
            ours = {
                str(r.id): r
                for r in (
                    await session.scalars(
                        select(WalletRailTransfer).where(
                            WalletRailTransfer.rail == self.rail.rail.name
                        )
                    )
                ).all()
            }
        mismatches: list[Mismatch] = []
        matched = in_flight = 0
        for reference in sorted(set(records) | set(ours)):
            mine = ours.get(reference)
            theirs = records.get(reference)
            if theirs is None:
                assert mine is not None
                if mine.status in ("created", "failed"):
                    matched += mine.status == "failed"
                    in_flight += mine.status == "created"
                    continue
                mismatches.append(
                    Mismatch(
                        reference,
                        mine.direction,
                        mine.amount,
                        mine.status,
                        None,
                        "unknown to the rail",
                    )
                )
                continue
            if mine is None:
                mismatches.append(
                    Mismatch(
                        reference,
                        theirs.direction,
                        theirs.amount,
                        None,
                        theirs.status,
                        "unknown to the wallet",
                    )
                )
                continue
            if mine.amount != theirs.amount:
                mismatches.append(
                    Mismatch(
                        reference,
                        mine.direction,
                        mine.amount,
                        mine.status,
                        theirs.status,
                        f"the rail has {theirs.amount}",
                    )
                )
            elif mine.status == theirs.status:
                matched += 1
                in_flight += mine.status == "pending"
            elif (mine.status, theirs.status) in _CATCHING_UP:
                in_flight += 1
            else:
                mismatches.append(
                    Mismatch(
                        reference,
                        mine.direction,
                        mine.amount,
                        mine.status,
                        theirs.status,
                        "states differ",
                    )
                )
        rail_net = 0
        for record in records.values():
            if record.status == "settled":
                rail_net += -record.amount if record.direction == "deposit" else record.amount
        clearing = await self.ctx.ledger.balance(await self.ctx.system(BANK_CLEARING))
        # Our side counts what we applied: rows still catching up are reported as in
        # flight, and the balance comparison holds once they have caught up.
        return Reconciliation(
            rail=self.rail.rail.name,
            checked=len(set(records) | set(ours)),
            matched=matched,
            in_flight=in_flight,
            ledger_clearing=clearing.balance,
            rail_net=rail_net,
            mismatches=mismatches,
        )
