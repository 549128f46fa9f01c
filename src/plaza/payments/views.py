"""Rows to response bodies, with the counterparties' usernames looked up in one go."""

from __future__ import annotations

from collections.abc import Iterable

from plaza.payments.interfaces import UserDirectory, UserInfo
from plaza.payments.limits import Usage
from plaza.payments.models import (
    WalletDispute,
    WalletFlag,
    WalletPayment,
    WalletProfile,
    WalletRailTransfer,
    WalletRequest,
)
from plaza.payments.p2p import PaymentView
from plaza.payments.requests import Share
from plaza.payments.schemas import (
    DisputeOut,
    FlagOut,
    HistoryLine,
    LimitsOut,
    MoneyOut,
    PaymentOut,
    RailTransferOut,
    RequestOut,
    ShareOut,
    SignedMoneyOut,
    SplitOut,
    StatementLine,
    StatementOut,
    UserRef,
    VerificationOut,
    WalletOut,
)
from plaza.payments.statements import Line, Statement
from plaza.payments.wallet import WalletSummary


def money(amount: int, currency: str) -> MoneyOut:
    return MoneyOut(amount=amount, currency=currency)


def signed(amount: int, currency: str) -> SignedMoneyOut:
    return SignedMoneyOut(amount=amount, currency=currency)


def ref(user_id: int | None, names: dict[int, UserInfo]) -> UserRef:
    found = names.get(user_id) if user_id is not None else None
    return UserRef(id=user_id, username=found.username if found else None)


async def names_for(users: UserDirectory, ids: Iterable[int | None]) -> dict[int, UserInfo]:
    return await users.by_ids({i for i in ids if i is not None})


def limits_out(usage: Usage, currency: str, step_up: int) -> LimitsOut:
    return LimitsOut(
        tier="verified" if usage.tier == "verified" else "unverified",
        daily_limit=money(usage.daily_limit, currency),
        daily_used=money(usage.daily_used, currency),
        weekly_limit=money(usage.weekly_limit, currency),
        weekly_used=money(usage.weekly_used, currency),
        weekly_deposit_limit=money(usage.weekly_deposit_limit, currency),
        weekly_deposits=money(usage.weekly_deposits, currency),
        step_up_threshold=money(step_up, currency),
    )


def wallet_out(summary: WalletSummary, currency: str, step_up: int) -> WalletOut:
    return WalletOut(
        balance=signed(summary.balance, currency),
        available=signed(summary.available, currency),
        incoming=money(summary.incoming, currency),
        outgoing=money(summary.outgoing, currency),
        tier="verified" if summary.usage.tier == "verified" else "unverified",
        verification=summary.verification,
        restricted=summary.restricted,
        limits=limits_out(summary.usage, currency, step_up),
    )


def payment_out(view: PaymentView, viewer_id: int, names: dict[int, UserInfo]) -> PaymentOut:
    p = view.payment
    return PaymentOut(
        id=p.id,
        kind="refund" if p.kind == "refund" else "payment",
        status=p.status,
        direction="out" if p.payer_id == viewer_id else "in",
        payer=ref(p.payer_id, names),
        payee=ref(p.payee_id, names),
        amount=money(p.amount, p.currency),
        note=p.note,
        refund_of=p.refund_of,
        refunded=money(view.refunded, p.currency) if p.kind == "payment" else None,
        request_id=p.request_id,
        conversation_id=p.conversation_id,
        disputed=view.disputed,
        created_at=p.created_at,
        completed_at=p.completed_at,
    )


async def payments_out(
    users: UserDirectory, views: list[PaymentView], viewer_id: int
) -> list[PaymentOut]:
    names = await names_for(
        users, [v.payment.payer_id for v in views] + [v.payment.payee_id for v in views]
    )
    return [payment_out(v, viewer_id, names) for v in views]


def request_out(r: WalletRequest, viewer_id: int, names: dict[int, UserInfo]) -> RequestOut:
    return RequestOut(
        id=r.id,
        status=r.status,
        direction="incoming" if r.payer_id == viewer_id else "outgoing",
        requester=ref(r.requester_id, names),
        payer=ref(r.payer_id, names),
        amount=money(r.amount, r.currency),
        note=r.note,
        split_id=r.split_id,
        payment_id=r.payment_id,
        reminders=r.reminders,
        reminded_at=r.reminded_at,
        created_at=r.created_at,
        resolved_at=r.resolved_at,
    )


async def requests_out(
    users: UserDirectory, rows: list[WalletRequest], viewer_id: int
) -> list[RequestOut]:
    names = await names_for(users, [r.payer_id for r in rows] + [r.requester_id for r in rows])
    return [request_out(r, viewer_id, names) for r in rows]


def split_out(
    split_id: int, amount: int, currency: str, note: str, created_at: object, shares: list[Share]
) -> SplitOut:
    return SplitOut.model_validate(
        {
            "id": split_id,
            "amount": money(amount, currency),
            "note": note,
            "created_at": created_at,
            "shares": [
                ShareOut(
                    user=UserRef(id=s.user.id, username=s.user.username),
                    amount=money(s.amount, currency),
                    request_id=s.request.id if s.request else None,
                )
                for s in shares
            ],
        }
    )


def rail_out(row: WalletRailTransfer) -> RailTransferOut:
    return RailTransferOut(
        id=row.id,
        direction=row.direction,
        speed=row.speed,
        status=row.status if row.status != "returning" else "settled",
        amount=money(row.amount, row.currency),
        fee=money(row.fee, row.currency),
        shortfall=money(row.shortfall, row.currency),
        failure_code=row.failure_code,
        rail=row.rail,
        created_at=row.created_at,
        settled_at=row.settled_at,
        failed_at=row.failed_at,
        returned_at=row.returned_at,
    )


def line_out(line: Line) -> HistoryLine:
    return HistoryLine(
        id=line.id,
        at=line.at,
        kind=line.kind,
        direction="in" if line.direction == "in" else "out",
        amount=money(line.amount, line.currency),
        counterparty=(
            UserRef(
                id=line.counterparty_id,
                username=line.counterparty.username if line.counterparty else None,
            )
            if line.counterparty_id is not None
            else None
        ),
        note=line.note,
        payment_id=line.payment_id,
        rail_transfer_id=line.rail_transfer_id,
        receipt_id=line.receipt_id,
    )


def statement_out(statement: Statement, currency: str) -> StatementOut:
    return StatementOut(
        month=statement.month,
        opening_balance=signed(statement.opening, currency),
        closing_balance=signed(statement.closing, currency),
        total_in=money(statement.total_in, currency),
        total_out=money(statement.total_out, currency),
        lines=[
            StatementLine(**line_out(line).model_dump(), balance_after=signed(after, currency))
            for line, after in statement.lines
        ],
    )


def verification_out(profile: WalletProfile) -> VerificationOut:
    return VerificationOut(
        tier="verified" if profile.verification == "verified" else "unverified",
        status=profile.verification,
        submitted_at=profile.submitted_at,
        decided_at=profile.decided_at,
    )


def dispute_out(d: WalletDispute, p: WalletPayment, names: dict[int, UserInfo]) -> DisputeOut:
    return DisputeOut(
        id=d.id,
        payment_id=d.payment_id,
        payer=ref(d.payer_id, names),
        payee=ref(d.payee_id, names),
        payment_amount=money(p.amount, p.currency),
        reason=d.reason,
        status=d.status,
        credited=money(d.amount if d.status == "won" else 0, p.currency),
        clawed_back=money(d.clawed_back if d.status == "won" else 0, p.currency),
        resolution_note=d.resolution_note,
        created_at=d.created_at,
        resolved_at=d.resolved_at,
    )


def flag_out(f: WalletFlag, names: dict[int, UserInfo]) -> FlagOut:
    return FlagOut(
        id=f.id,
        user=ref(f.user_id, names),
        kind=f.kind,
        status=f.status,
        detail=f.detail,
        created_at=f.created_at,
        resolved_at=f.resolved_at,
    )
