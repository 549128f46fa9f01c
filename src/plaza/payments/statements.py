"""The wallet's history, monthly statements and their CSV export.

Both read the ledger's own history of the wallet account, so they show exactly the
money that moved (posted transfers: a deposit appears once the bank settled it; money
in flight is in ``GET /api/v1/wallet/transfers``). Lines are enriched with what the
domain rows know: the counterparty and the note of a payment.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from plaza.core.errors import InvalidInput
from plaza.payments.interfaces import UserInfo
from plaza.payments.ledger import TransferRecord
from plaza.payments.models import WalletPayment, WalletRailTransfer
from plaza.payments.service import Context

# Ledger transfer codes of this domain, by the kind a user sees.
KINDS: dict[str, tuple[str, ...]] = {
    "payment": ("p2p",),
    "refund": ("refund",),
    "deposit": ("deposit",),
    "cashout": ("cashout",),
    "fee": ("cashout_fee",),
    "return": ("deposit_return", "cashout_return"),
    "dispute": ("dispute_clawback", "dispute_credit"),
    # Premium charges (the premium domain writes them; the wallet only shows them).
    "premium": ("premium",),
}
KIND_OF_CODE = {code: kind for kind, codes in KINDS.items() for code in codes}
POSTED = ("posted", "post_pending")
PAGE = 200
# Spreadsheets run cells that start with these as formulas (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Line:
    id: int
    at: datetime
    kind: str
    direction: str
    amount: int
    currency: str
    counterparty: UserInfo | None
    counterparty_id: int | None
    note: str
    payment_id: int | None
    rail_transfer_id: int | None
    # A purchase's receipt (a Premium charge), named by the transfer's metadata.
    receipt_id: int | None = None

    @property
    def signed(self) -> int:
        return self.amount if self.direction == "in" else -self.amount


@dataclass(frozen=True)
class Statement:
    month: str
    opening: int
    closing: int
    lines: list[tuple[Line, int]]  # each with the balance after it

    @property
    def total_in(self) -> int:
        return sum(line.amount for line, _ in self.lines if line.direction == "in")

    @property
    def total_out(self) -> int:
        return sum(line.amount for line, _ in self.lines if line.direction == "out")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> [first instant of the month, first instant of the next), UTC."""
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput("path.month", "must be a month as YYYY-MM") from exc
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


class Statements:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def history(
        self,
        user_id: int,
        *,
        kind: str | None,
        direction: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        before_id: int | None,
    ) -> tuple[list[Line], int | None]:
        """Posted movements of the wallet, newest first, and the cursor of the next page."""
        wallet = await self.ctx.wallet(user_id)
        codes = KINDS[kind] if kind else tuple(KIND_OF_CODE)
        found: list[TransferRecord] = []
        cursor = before_id
        more = True
        while len(found) <= limit and more:
            batch = await self.ctx.ledger.history(
                wallet, before_id=cursor, limit=PAGE, codes=codes, since=since, until=until
            )
            more = len(batch) == PAGE
            for record in batch:
                cursor = record.id
                if record.kind not in POSTED:
                    continue
                if direction and _direction(record, wallet) != direction:
                    continue
                found.append(record)
        page = found[:limit]
        lines = await self._lines(wallet, user_id, page)
        next_cursor = page[-1].id if len(found) > limit else None
        return lines, next_cursor

    async def statement(self, user_id: int, month: str) -> Statement:
        """Opening and closing balance of the month (UTC) and every posted line in it,
        oldest first, each with the balance after it."""
        start, end = month_bounds(month)
        wallet = await self.ctx.wallet(user_id)
        balance = (await self.ctx.ledger.balance(wallet)).balance
        later = await self._all(wallet, since=end, until=None)
        closing = balance - sum(_signed(r, wallet) for r in later)
        during = await self._all(wallet, since=start, until=end)
        opening = closing - sum(_signed(r, wallet) for r in during)
        lines = await self._lines(wallet, user_id, list(reversed(during)))
        running = opening
        rows: list[tuple[Line, int]] = []
        for line in lines:
            running += line.signed
            rows.append((line, running))
        return Statement(month=month, opening=opening, closing=closing, lines=rows)

    async def _all(
        self, wallet: int, *, since: datetime, until: datetime | None
    ) -> list[TransferRecord]:
        records: list[TransferRecord] = []
        cursor: int | None = None
        while True:
            batch = await self.ctx.ledger.history(
                wallet, before_id=cursor, limit=PAGE, since=since, until=until
            )
            records.extend(r for r in batch if r.kind in POSTED)
            if len(batch) < PAGE:
                return records
            cursor = batch[-1].id

    async def _lines(self, wallet: int, user_id: int, records: list[TransferRecord]) -> list[Line]:
        payment_ids = {_meta_id(r, "payment_id") for r in records} - {None}
        rail_ids = {_meta_id(r, "rail_transfer_id") for r in records} - {None}
        payments: dict[int, WalletPayment] = {}
        rails: dict[int, WalletRailTransfer] = {}
        async with self.ctx.db.session(write=False) as session:
            if payment_ids:
                rows = await session.scalars(
                    select(WalletPayment).where(WalletPayment.id.in_(payment_ids))
                )
                payments = {p.id: p for p in rows.all()}
            if rail_ids:
                found = await session.scalars(
                    select(WalletRailTransfer).where(WalletRailTransfer.id.in_(rail_ids))
                )
                rails = {r.id: r for r in found.all()}
        others: dict[int, int] = {}
        for record in records:
            payment = payments.get(_meta_id(record, "payment_id") or 0)
            if payment is not None and user_id in (payment.payer_id, payment.payee_id):
                other = payment.payee_id if payment.payer_id == user_id else payment.payer_id
                others[record.id] = other
        names = await self.ctx.users.by_ids(set(others.values()))
        lines = []
        for record in records:
            payment = payments.get(_meta_id(record, "payment_id") or 0)
            rail = rails.get(_meta_id(record, "rail_transfer_id") or 0)
            other_id = others.get(record.id)
            note = ""
            if payment is not None and other_id is not None:
                note = payment.note
            elif rail is not None and rail.user_id == user_id:
                note = rail.note
            elif _meta_id(record, "receipt_id") is not None:
                note = str(record.metadata.get("description", ""))
            lines.append(
                Line(
                    id=record.id,
                    at=record.created_at,
                    kind=KIND_OF_CODE.get(record.code, record.code),
                    direction=_direction(record, wallet),
                    amount=record.amount,
                    currency=record.currency,
                    counterparty=names.get(other_id) if other_id is not None else None,
                    counterparty_id=other_id,
                    note=note,
                    payment_id=payment.id if payment is not None and other_id else None,
                    rail_transfer_id=rail.id if rail is not None else None,
                    receipt_id=_meta_id(record, "receipt_id"),
                )
            )
        return lines


def _direction(record: TransferRecord, wallet: int) -> str:
    return "in" if record.credit_account_id == wallet else "out"


def _signed(record: TransferRecord, wallet: int) -> int:
    return record.amount if record.credit_account_id == wallet else -record.amount


def _meta_id(record: TransferRecord, key: str) -> int | None:
    value = record.metadata.get(key)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _cell(value: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _decimal(amount: int, exponent: int = 2) -> str:
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{cents:0{exponent}d}" if exponent else f"{sign}{whole}"


def statement_csv(statement: Statement, currency: str) -> str:
    """The statement as CSV (RFC 4180 quoting; text cells defused against formulas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["date", "id", "kind", "direction", "counterparty", "note", "amount", "balance", "currency"]
    )
    rows: Iterable[list[str]] = (
        [
            line.at.isoformat().replace("+00:00", "Z"),
            str(line.id),
            _cell(line.kind),
            line.direction,
            _cell(line.counterparty.username) if line.counterparty else "",
            _cell(line.note),
            _decimal(line.signed),
            _decimal(after),
            currency,
        ]
        for line, after in statement.lines
    )
    start, _ = month_bounds(statement.month)
    writer.writerow(
        [
            start.date().isoformat(),
            "",
            "opening_balance",
            "",
            "",
            "",
            "",
            _decimal(statement.opening),
            currency,
        ]
    )
    writer.writerows(rows)
    writer.writerow(
        ["", "", "closing_balance", "", "", "", "", _decimal(statement.closing), currency]
    )
    return out.getvalue()
