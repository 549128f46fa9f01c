"""Wallet tables: the domain rows around ledger transfers.

Money itself lives in the ledger (``plaza.payments.ledger``); these rows say *why* it
moved (a payment, a request, a deposit) and carry the ledger transfer ids, minted when
the row is created, so that a retry or the recovery job resubmits the very same
transfers and the ledger answers ``exists`` instead of moving money twice.

Payments, requests and rail transfers keep user ids without foreign keys: financial
records outlive a deleted account (a counterparty still needs their history). What
identifies a person (the verification details) does cascade with the account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class WalletPayment(Base):
    """A peer-to-peer payment or a refund of one (``kind``), payer to payee."""

    __tablename__ = "wallet_payment"
    __table_args__ = (
        Index("ix_wallet_payment_payer_id_id", "payer_id", "id"),
        Index("ix_wallet_payment_payee_id_id", "payee_id", "id"),
        Index("ix_wallet_payment_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))  # payment | refund
    payer_id: Mapped[int] = mapped_column(BigInteger)
    payee_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(280), default="")
    status: Mapped[str] = mapped_column(String(16))  # pending | completed | failed
    transfer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    refund_of: Mapped[int | None] = mapped_column(BigInteger, index=True)
    request_id: Mapped[int | None] = mapped_column(BigInteger)
    # Set on a payment sent from a direct-message conversation; the thread shows it.
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    failure: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WalletSplit(Base):
    """A bill split among several people: one request per share."""

    __tablename__ = "wallet_split"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requester_id: Mapped[int] = mapped_column(BigInteger, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(280), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WalletRequest(Base):
    """A request for money: the payer accepts (pays) or declines; the requester cancels."""

    __tablename__ = "wallet_request"
    __table_args__ = (
        Index("ix_wallet_request_requester_id_id", "requester_id", "id"),
        Index("ix_wallet_request_payer_id_id", "payer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requester_id: Mapped[int] = mapped_column(BigInteger)
    payer_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(280), default="")
    status: Mapped[str] = mapped_column(String(16))  # pending | paid | declined | cancelled
    split_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payment_id: Mapped[int | None] = mapped_column(BigInteger)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WalletRailTransfer(Base):
    """Money between a wallet and the user's bank through a bank rail.

    Deposits hold a *pending* ledger transfer (bank clearing -> wallet) until the rail
    settles, so the money shows as incoming but cannot be spent; settlement posts it,
    failure voids it, and a return after settlement claws it back. Cash-outs hold the
    money the same way in the other direction (instant ones post at once, with a fee).
    """

    __tablename__ = "wallet_rail_transfer"
    __table_args__ = (
        Index("ix_wallet_rail_transfer_user_id_id", "user_id", "id"),
        Index("ix_wallet_rail_transfer_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(16))  # deposit | cashout
    speed: Mapped[str] = mapped_column(String(16))  # standard | instant
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(140), default="")
    # created -> pending -> settled [-> returning -> returned] | failed
    status: Mapped[str] = mapped_column(String(16))
    rail: Mapped[str] = mapped_column(String(32))
    hold_transfer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    settle_transfer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    void_transfer_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    fee_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    fee_settle_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    fee_void_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    return_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    shortfall_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WalletSandboxEntry(Base):
    """The sandbox rail's own books: what the simulated bank did with each order.

    Kept apart from ``WalletRailTransfer`` on purpose, as a real bank's records are:
    the reconciliation report compares the two.
    """

    __tablename__ = "wallet_sandbox_entry"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    instant: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(140), default="")
    status: Mapped[str] = mapped_column(String(16))  # pending | settled | failed | returned
    failure_code: Mapped[str | None] = mapped_column(String(32))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WalletProfile(Base):
    """A user's wallet tier and verification. The personal details are one AES-GCM
    blob (server keys), bound to the user id, so a database dump alone reveals none."""

    __tablename__ = "wallet_profile"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True
    )
    # none | pending | verified | rejected
    verification: Mapped[str] = mapped_column(String(16), default="none")
    details_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary(4096))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when a bank return could not be clawed back in full: no sending or cash-out
    # until an administrator lifts it.
    restricted_reason: Mapped[str | None] = mapped_column(String(200))


class WalletFlag(Base):
    """A pattern that needs a human look (structuring); an open flag holds payments."""

    __tablename__ = "wallet_flag"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # open | cleared
    detail: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)


class WalletDispute(Base):
    """A payer's dispute of a payment, resolved by an administrator."""

    __tablename__ = "wallet_dispute"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payment_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    payer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    payee_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16))  # open | resolving | won | lost
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # credited back to the payer
    clawed_back: Mapped[int] = mapped_column(BigInteger, default=0)  # of which from the payee
    clawback_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    credit_transfer_id: Mapped[int | None] = mapped_column(BigInteger)
    resolution_note: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)
