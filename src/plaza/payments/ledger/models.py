"""Ledger tables: accounts (with their stored balances) and immutable transfers.

Transfers are only ever inserted. Account rows change only in their four balance
counters, which ``plaza ledger verify`` recomputes from the transfers.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class LedgerAccount(Base):
    """An account. ``owner_id`` is a user id without a foreign key on purpose: financial
    records outlive the account that made them (deleting a user must not delete money)."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        UniqueConstraint("owner_id", "code", "currency"),
        UniqueConstraint("name", "currency"),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 "
            "AND debits_pending >= 0 AND credits_pending >= 0",
            name="balances_not_negative",
        ),
        # The flags, enforced by the database too: a bug in the pipeline fails the whole
        # batch instead of letting a wallet go negative.
        CheckConstraint(
            "NOT debits_must_not_exceed_credits "
            "OR debits_posted + debits_pending <= credits_posted",
            name="debits_within_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits "
            "OR credits_posted + credits_pending <= debits_posted",
            name="credits_within_debits",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(100))
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerTransfer(Base):
    """One immutable transfer. ``kind`` is posted, pending, post_pending or void_pending;
    the last two name the pending transfer they resolve in ``pending_id`` (unique: a
    pending transfer resolves at most once). ``fingerprint`` hashes the spec as
    submitted, so that a resubmitted id is told apart as identical or different."""

    __tablename__ = "ledger_transfer"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
        CheckConstraint(
            "kind IN ('posted', 'pending', 'post_pending', 'void_pending')", name="kind_known"
        ),
        CheckConstraint(
            "(pending_id IS NULL) = (kind IN ('posted', 'pending'))", name="pending_id_for_kind"
        ),
        # Partial indexes: most transfers are neither pending nor resolutions, and indexing
        # their NULLs costs every insert (measured: about half of an insert on SQLite).
        Index(
            "uq_ledger_transfer_pending_id",
            "pending_id",
            unique=True,
            sqlite_where=text("pending_id IS NOT NULL"),
            postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index("ix_ledger_transfer_debit", "debit_account_id", "id"),
        Index("ix_ledger_transfer_credit", "credit_account_id", "id"),
        Index(
            "ix_ledger_transfer_timeout",
            "timeout_at",
            sqlite_where=text("kind = 'pending'"),
            postgresql_where=text("kind = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    debit_account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_account.id"))
    credit_account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_account.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(64))
    metadata_json: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    pending_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_transfer.id"))
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Core tables for the hot path (no ORM objects per row).
account_table = cast(Table, LedgerAccount.__table__)
transfer_table = cast(Table, LedgerTransfer.__table__)
