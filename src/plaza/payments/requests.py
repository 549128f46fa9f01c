"""Requests for money and bill splits.

A request is visible to its requester and its payer only. The payer accepts (which
pays it, through the same rules as any payment) or declines; the requester cancels or
sends a reminder (at most one per ``reminder_interval_seconds``). A split divides a
total into shares that add up to it exactly and requests each share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from plaza.identity import Principal
from plaza.payments.events import (
    PaymentRequested,
    PaymentRequestReminded,
    PaymentRequestResolved,
)
from plaza.payments.interfaces import UserInfo
from plaza.payments.models import WalletPayment, WalletRequest, WalletSplit
from plaza.payments.p2p import P2P
from plaza.payments.schemas import Money
from plaza.payments.service import Blocked, Context


def split_shares(total: int, count: int) -> list[int]:
    """``count`` shares of ``total`` that add up to it exactly: everyone gets the floor,
    and the remainder cents go one each to the first shares (the order is the caller's,
    so the outcome is deterministic)."""
    if count <= 0:
        raise ValueError("at least one share")
    base, remainder = divmod(total, count)
    return [base + (1 if i < remainder else 0) for i in range(count)]


@dataclass(frozen=True)
class Share:
    user: UserInfo
    amount: int
    request: WalletRequest | None


class Requests:
    def __init__(self, ctx: Context, p2p: P2P) -> None:
        self.ctx = ctx
        self.p2p = p2p

    async def create(
        self, principal: Principal, *, from_: str, amount: Money, note: str = ""
    ) -> WalletRequest:
        """Ask ``from_`` for money. Raises NotFound, InvalidInput (amount, yourself), Blocked."""
        cents = self.ctx.amount(amount)
        payer = await self._counterparty(principal, from_, "from")
        async with self.ctx.db.session() as session:
            request = self._row(principal.user.id, payer.id, cents, note, None)
            session.add(request)
            self._announce(session, request)
            await session.commit()
        return request

    async def _counterparty(self, principal: Principal, username: str, field: str) -> UserInfo:
        other = await self.ctx.user_named(username, field)
        if other.id == principal.user.id:
            raise InvalidInput(field, "you cannot request money from yourself")
        if await self.ctx.blocks.blocked_either_way(principal.user.id, other.id):
            raise Blocked(f"blocked: you cannot request money from @{other.username}")
        return other

    def _row(
        self, requester_id: int, payer_id: int, amount: int, note: str, split_id: int | None
    ) -> WalletRequest:
        return WalletRequest(
            id=self.ctx.ids.next_id(),
            requester_id=requester_id,
            payer_id=payer_id,
            amount=amount,
            currency=self.ctx.policy.currency,
            note=note,
            status="pending",
            split_id=split_id,
            reminders=0,
            created_at=self.ctx.clock.now(),
        )

    def _announce(self, session: AsyncSession, request: WalletRequest) -> None:
        self.ctx.bus.publish(
            session,
            PaymentRequested(
                request_id=request.id,
                requester_id=request.requester_id,
                payer_id=request.payer_id,
                amount=request.amount,
                currency=request.currency,
            ),
        )

    async def split(
        self,
        principal: Principal,
        *,
        participants: list[str],
        amount: Money,
        note: str = "",
        include_self: bool = True,
    ) -> tuple[WalletSplit, list[Share]]:
        """Split ``amount`` among ``participants`` (and the requester when
        ``include_self``), in the order given, the requester last; requests each share
        but the requester's. Raises NotFound, InvalidInput, Blocked; creates nothing
        unless every participant can be asked."""
        cents = self.ctx.amount(amount)
        seen: set[int] = set()
        people: list[UserInfo] = []
        for index, name in enumerate(participants):
            other = await self._counterparty(principal, name, f"participants.{index}")
            if other.id in seen:
                raise InvalidInput(f"participants.{index}", f"@{other.username} is listed twice")
            seen.add(other.id)
            people.append(other)
        me = UserInfo(principal.user.id, principal.user.username)
        everyone = [*people, me] if include_self else people
        if cents < len(everyone):
            raise InvalidInput("amount.amount", "too small to give everyone at least one cent")
        amounts = split_shares(cents, len(everyone))
        shares: list[Share] = []
        async with self.ctx.db.session() as session:
            split = WalletSplit(
                id=self.ctx.ids.next_id(),
                requester_id=me.id,
                amount=cents,
                currency=self.ctx.policy.currency,
                note=note,
                created_at=self.ctx.clock.now(),
            )
            session.add(split)
            await session.flush()
            for person, share in zip(everyone, amounts, strict=True):
                request = None
                if person.id != me.id:
                    request = self._row(me.id, person.id, share, note, split.id)
                    session.add(request)
                    self._announce(session, request)
                shares.append(Share(person, share, request))
            await session.commit()
        return split, shares

    async def get_split(
        self, user_id: int, split_id: int
    ) -> tuple[WalletSplit, list[WalletRequest]]:
        """A split as its requester sees it; payers see their own request instead."""
        async with self.ctx.db.session(write=False) as session:
            split = await session.get(WalletSplit, split_id)
            if split is None or split.requester_id != user_id:
                raise NotFound("No such split.")
            rows = await session.scalars(
                select(WalletRequest)
                .where(WalletRequest.split_id == split_id)
                .order_by(WalletRequest.id)
            )
            return split, list(rows.all())

    # ---- one request ---------------------------------------------------------------------

    async def get(self, user_id: int, request_id: int) -> WalletRequest:
        async with self.ctx.db.session(write=False) as session:
            request = await session.get(WalletRequest, request_id)
        if request is None or user_id not in (request.requester_id, request.payer_id):
            raise NotFound("No such request.")
        return request

    async def list_for(
        self,
        user_id: int,
        *,
        direction: str | None,
        status: str | None,
        limit: int,
        before_id: int | None,
    ) -> list[WalletRequest]:
        """Requests to (incoming) or from (outgoing) this user, newest first."""
        sides = {
            "incoming": WalletRequest.payer_id == user_id,
            "outgoing": WalletRequest.requester_id == user_id,
        }
        where = sides[direction] if direction else or_(*sides.values())
        query = select(WalletRequest).where(where).order_by(WalletRequest.id.desc()).limit(limit)
        if status:
            query = query.where(WalletRequest.status == status)
        if before_id is not None:
            query = query.where(WalletRequest.id < before_id)
        async with self.ctx.db.session(write=False) as session:
            return list((await session.scalars(query)).all())

    async def accept(self, principal: Principal, request_id: int) -> WalletPayment:
        """The payer pays the request in full: the rules of any payment apply (limits,
        step-up, funds, blocks). Raises NotFound, Conflict (no longer pending), and the
        errors of ``P2P.send``."""
        request = await self.get(principal.user.id, request_id)
        if request.payer_id != principal.user.id:
            raise NotFound("No such request.")
        if request.status != "pending":
            raise Conflict(f"This request is already {request.status}.")
        if await self.ctx.blocks.blocked_either_way(request.payer_id, request.requester_id):
            raise Blocked("blocked: you cannot pay this user")
        payment = await self.p2p.open_payment(
            principal,
            payer_id=request.payer_id,
            payee_id=request.requester_id,
            amount=request.amount,
            note=request.note,
            request=request,
        )
        payment = await self.p2p.execute(payment)
        async with self.ctx.db.session() as session:
            self.ctx.bus.publish(
                session,
                PaymentRequestResolved(
                    request_id=request.id,
                    requester_id=request.requester_id,
                    payer_id=request.payer_id,
                    status="paid",
                ),
            )
            await session.commit()
        return payment

    async def decline(self, principal: Principal, request_id: int) -> WalletRequest:
        return await self._close(principal, request_id, "declined", role="payer")

    async def cancel(self, principal: Principal, request_id: int) -> WalletRequest:
        return await self._close(principal, request_id, "cancelled", role="requester")

    async def _close(
        self, principal: Principal, request_id: int, status: str, *, role: str
    ) -> WalletRequest:
        user_id = principal.user.id
        request = await self.get(user_id, request_id)
        allowed = request.payer_id if role == "payer" else request.requester_id
        if allowed != user_id:
            verb = "decline" if status == "declined" else "cancel"
            raise InvalidInput("request_id", f"only the {role} can {verb} this request")
        async with self.ctx.db.session() as session:
            changed = await session.execute(
                update(WalletRequest)
                .where(WalletRequest.id == request_id, WalletRequest.status == "pending")
                .values(status=status, resolved_at=self.ctx.clock.now())
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"This request is already {request.status}.")
            self.ctx.bus.publish(
                session,
                PaymentRequestResolved(
                    request_id=request.id,
                    requester_id=request.requester_id,
                    payer_id=request.payer_id,
                    status=status,
                ),
            )
            await session.commit()
        return await self.get(user_id, request_id)

    async def remind(self, principal: Principal, request_id: int) -> WalletRequest:
        """Nudge the payer of a pending request; at most once per reminder interval
        (429 with Retry-After otherwise)."""
        user_id = principal.user.id
        request = await self.get(user_id, request_id)
        if request.requester_id != user_id:
            raise InvalidInput("request_id", "only the requester can send a reminder")
        now = self.ctx.clock.now()
        interval = timedelta(seconds=self.ctx.policy.reminder_interval_seconds)
        async with self.ctx.db.session() as session:
            row = await session.scalar(
                select(WalletRequest).where(WalletRequest.id == request_id).with_for_update()
            )
            assert row is not None
            if row.status != "pending":
                raise Conflict(f"This request is already {row.status}.")
            last = row.reminded_at or row.created_at
            if now < last + interval:
                wait = (last + interval - now).total_seconds()
                raise RateLimited(
                    wait, "A reminder for this request was sent recently; try again later."
                )
            row.reminded_at = now
            row.reminders += 1
            self.ctx.bus.publish(
                session,
                PaymentRequestReminded(
                    request_id=row.id, requester_id=row.requester_id, payer_id=row.payer_id
                ),
            )
            await session.commit()
            return row
