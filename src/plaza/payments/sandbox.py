"""The bank-rail interface and the built-in sandbox rail, which behaves like ACH.

The sandbox keeps its own books (``wallet_sandbox_entry``), as a bank would, and moves
each order along with the clock: ``pending`` until ``delay`` has passed since
submission, then ``settled`` or ``failed``; a deposit marked for return is ``returned``
one more ``delay`` after settling. Instant cash-outs settle (or fail) on submission.

Test amounts and notes, like Stripe's test cards:

- amount 666 ($6.66), or ``[fail]`` in the note: the bank fails the order (R01,
  insufficient funds at the bank, for a deposit; R03, no account, for a cash-out);
- amount 1313 ($13.13), or ``[return]`` in the note: it settles, then the bank returns
  it (R10, "customer advises not authorized").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.payments.models import WalletSandboxEntry

FAIL_AMOUNT = 666
RETURN_AMOUNT = 1313
RailStatusName = Literal["pending", "settled", "failed", "returned"]


@dataclass(frozen=True)
class RailOrder:
    """An order to a bank rail; ``reference`` is ours and makes submission idempotent."""

    reference: str
    direction: Literal["deposit", "cashout"]
    amount: int
    currency: str
    instant: bool
    note: str


@dataclass(frozen=True)
class RailState:
    """What the rail says about an order."""

    reference: str
    direction: str
    amount: int
    currency: str
    status: RailStatusName
    failure_code: str | None = None
    settled_at: datetime | None = None
    returned_at: datetime | None = None


class BankRail(Protocol):
    """A way to move money between Plaza's bank account and a user's bank."""

    name: str

    async def submit(self, order: RailOrder) -> RailState:
        """Place the order; submitting the same reference again changes nothing."""
        ...

    async def poll(self, references: Sequence[str]) -> dict[str, RailState]:
        """The current state of each known order among ``references``."""
        ...

    async def records(self) -> list[RailState]:
        """Every order the rail knows (its settlement report), for reconciliation."""
        ...


def _magic(amount: int, note: str) -> str | None:
    lowered = note.lower()
    if amount == FAIL_AMOUNT or "[fail]" in lowered:
        return "fail"
    if amount == RETURN_AMOUNT or "[return]" in lowered:
        return "return"
    return None


class SandboxRail:
    """An ACH-like rail that settles after ``delay_seconds`` (0: at once)."""

    name = "sandbox"

    def __init__(self, db: Database, clock: Clock, delay_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.delay = timedelta(seconds=delay_seconds)

    async def submit(self, order: RailOrder) -> RailState:
        async with self.db.session() as session:
            entry = await session.get(WalletSandboxEntry, order.reference)
            if entry is None:
                entry = WalletSandboxEntry(
                    reference=order.reference,
                    direction=order.direction,
                    amount=order.amount,
                    currency=order.currency,
                    instant=order.instant,
                    note=order.note,
                    status="pending",
                    submitted_at=self.clock.now(),
                )
                session.add(entry)
            self._advance(entry)
            await session.commit()
            return _state(entry)

    async def poll(self, references: Sequence[str]) -> dict[str, RailState]:
        if not references:
            return {}
        async with self.db.session() as session:
            entries = (
                await session.scalars(
                    select(WalletSandboxEntry).where(
                        WalletSandboxEntry.reference.in_(list(references))
                    )
                )
            ).all()
            for entry in entries:
                self._advance(entry)
            await session.commit()
            return {e.reference: _state(e) for e in entries}

    async def records(self) -> list[RailState]:
        async with self.db.session(write=False) as session:
            entries = (await session.scalars(select(WalletSandboxEntry))).all()
            return [_state(e) for e in entries]

    def _advance(self, entry: WalletSandboxEntry) -> None:
        """Move the order along by the clock (the bank's side of the story)."""
        now = self.clock.now()
        magic = _magic(entry.amount, entry.note)
        due = entry.submitted_at if entry.instant else entry.submitted_at + self.delay
        if entry.status == "pending" and now >= due:
            if magic == "fail":
                entry.status = "failed"
                entry.failed_at = due
                entry.failure_code = "R01" if entry.direction == "deposit" else "R03"
            else:
                entry.status = "settled"
                entry.settled_at = due
        if (
            entry.status == "settled"
            and magic == "return"
            and entry.settled_at is not None
            and now >= entry.settled_at + self.delay
        ):
            entry.status = "returned"
            entry.returned_at = entry.settled_at + self.delay
            entry.failure_code = "R10"


def _state(entry: WalletSandboxEntry) -> RailState:
    status: RailStatusName = entry.status  # type: ignore[assignment]
    return RailState(
        reference=entry.reference,
        direction=entry.direction,
        amount=entry.amount,
        currency=entry.currency,
        status=status,
        failure_code=entry.failure_code,
        settled_at=entry.settled_at,
        returned_at=entry.returned_at,
    )
