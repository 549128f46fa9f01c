"""Wallet and payment request/response bodies. Money is ``{"amount", "currency"}``:
an integer of minor units and an ISO 4217 code; a float or a string amount is a 422."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from plaza.core.schemas import IdStr, Input, Timestamp

MAX_MONEY = 10**12  # ten billion dollars in cents: beyond any wallet, within 64 bits


class Money(BaseModel):
    """An amount in minor units (cents for USD) and its currency."""

    amount: StrictInt = Field(gt=0, le=MAX_MONEY, description="Integer minor units, > 0.")
    currency: str = Field(min_length=1, max_length=8, description="ISO 4217 code, e.g. USD.")


class MoneyOut(BaseModel):
    amount: int
    currency: str


class SignedMoneyOut(BaseModel):
    """An amount that may be negative (a balance after a clawback, a statement line)."""

    amount: int
    currency: str


class UserRef(BaseModel):
    id: IdStr | None
    username: str | None


# ---- wallet -----------------------------------------------------------------------------


class LimitsOut(BaseModel):
    tier: Literal["unverified", "verified"]
    daily_limit: MoneyOut
    daily_used: MoneyOut
    weekly_limit: MoneyOut
    weekly_used: MoneyOut
    weekly_deposit_limit: MoneyOut
    weekly_deposits: MoneyOut
    step_up_threshold: MoneyOut


class WalletOut(BaseModel):
    balance: SignedMoneyOut
    available: SignedMoneyOut
    incoming: MoneyOut = Field(description="Deposits waiting for the bank to settle.")
    outgoing: MoneyOut = Field(description="Cash-outs waiting for the bank to settle.")
    tier: Literal["unverified", "verified"]
    verification: str
    restricted: str | None = None
    limits: LimitsOut


class HistoryLine(BaseModel):
    id: IdStr
    at: Timestamp
    kind: str
    direction: Literal["in", "out"]
    amount: MoneyOut
    counterparty: UserRef | None = None
    note: str = ""
    payment_id: IdStr | None = None
    rail_transfer_id: IdStr | None = None
    receipt_id: IdStr | None = None


class StatementLine(HistoryLine):
    balance_after: SignedMoneyOut


class StatementOut(BaseModel):
    month: str
    opening_balance: SignedMoneyOut
    closing_balance: SignedMoneyOut
    total_in: MoneyOut
    total_out: MoneyOut
    lines: list[StatementLine]


# ---- payments -----------------------------------------------------------------------------


class PaymentCreate(Input):
    to: str = Field(min_length=1, max_length=64, description="The payee's username.")
    amount: Money
    note: str = Field(default="", max_length=280)
    conversation_id: IdStr | None = Field(
        default=None,
        description=(
            "Pay from this direct-message conversation: both people must be in it, and "
            "the payment shows in the thread."
        ),
    )


class PaymentOut(BaseModel):
    id: IdStr
    kind: Literal["payment", "refund"]
    status: Literal["pending", "completed", "failed"]
    direction: Literal["in", "out"]
    payer: UserRef
    payee: UserRef
    amount: MoneyOut
    note: str
    refund_of: IdStr | None = None
    refunded: MoneyOut | None = Field(
        default=None, description="On a payment: how much of it was refunded so far."
    )
    request_id: IdStr | None = None
    conversation_id: IdStr | None = None
    disputed: bool = False
    created_at: Timestamp
    completed_at: Timestamp | None = None


class RefundCreate(Input):
    amount: Money | None = Field(default=None, description="Leave out for a full refund.")
    note: str = Field(default="", max_length=280)


class DisputeCreate(Input):
    reason: str = Field(min_length=1, max_length=1000)


class DisputeOut(BaseModel):
    id: IdStr
    payment_id: IdStr
    payer: UserRef
    payee: UserRef
    payment_amount: MoneyOut
    reason: str
    status: Literal["open", "resolving", "won", "lost"]
    credited: MoneyOut
    clawed_back: MoneyOut
    resolution_note: str
    created_at: Timestamp
    resolved_at: Timestamp | None = None


class DisputeResolve(Input):
    outcome: Literal["payer", "payee"] = Field(
        description="payer: the payer gets the money back; payee: the payment stands."
    )
    note: str = Field(default="", max_length=1000)


# ---- requests and splits ------------------------------------------------------------------


class RequestCreate(Input):
    from_: str = Field(alias="from", min_length=1, max_length=64, description="Who should pay.")
    amount: Money
    note: str = Field(default="", max_length=280)


class RequestOut(BaseModel):
    id: IdStr
    status: Literal["pending", "paid", "declined", "cancelled"]
    direction: Literal["incoming", "outgoing"]
    requester: UserRef
    payer: UserRef
    amount: MoneyOut
    note: str
    split_id: IdStr | None = None
    payment_id: IdStr | None = None
    reminders: int
    reminded_at: Timestamp | None = None
    created_at: Timestamp
    resolved_at: Timestamp | None = None


class SplitCreate(Input):
    participants: list[str] = Field(
        min_length=1, max_length=50, description="Usernames who share the bill."
    )
    amount: Money
    note: str = Field(default="", max_length=280)
    include_self: bool = Field(default=True, description="Whether you carry a share too.")


class ShareOut(BaseModel):
    user: UserRef
    amount: MoneyOut
    request_id: IdStr | None = None


class SplitOut(BaseModel):
    id: IdStr
    amount: MoneyOut
    note: str
    shares: list[ShareOut]
    created_at: Timestamp


# ---- bank rail ---------------------------------------------------------------------------


class DepositCreate(Input):
    amount: Money
    note: str = Field(
        default="",
        max_length=140,
        description="Shown on the bank statement; the sandbox reads [fail] and [return].",
    )


class CashoutCreate(Input):
    amount: Money
    speed: Literal["standard", "instant"] = "standard"
    note: str = Field(default="", max_length=140)


class RailTransferOut(BaseModel):
    id: IdStr
    direction: Literal["deposit", "cashout"]
    speed: Literal["standard", "instant"]
    status: Literal["created", "pending", "settled", "failed", "returned"]
    amount: MoneyOut
    fee: MoneyOut
    shortfall: MoneyOut
    failure_code: str | None = None
    rail: str
    created_at: Timestamp
    settled_at: Timestamp | None = None
    failed_at: Timestamp | None = None
    returned_at: Timestamp | None = None


class ReconciliationItem(BaseModel):
    reference: str
    direction: str
    amount: MoneyOut
    ours: str | None
    rail: str | None
    problem: str


class ReconciliationOut(BaseModel):
    rail: str
    checked: int
    matched: int
    in_flight: int
    ledger_clearing: SignedMoneyOut = Field(
        description="The bank-clearing account's balance in the ledger."
    )
    rail_net: SignedMoneyOut = Field(
        description="What the rail's settled records imply that balance should be."
    )
    balanced: bool
    mismatches: list[ReconciliationItem]


# ---- verification and review ----------------------------------------------------------------


class Address(Input):
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")


class VerificationSubmit(Input):
    legal_name: str = Field(min_length=1, max_length=200)
    date_of_birth: date
    address: Address


class VerificationOut(BaseModel):
    tier: Literal["unverified", "verified"]
    status: Literal["none", "pending", "verified", "rejected"]
    submitted_at: Timestamp | None = None
    decided_at: Timestamp | None = None


class PendingVerificationOut(BaseModel):
    """A submission for review; the details stay encrypted (decided on the user id)."""

    user: UserRef
    verification: VerificationOut


class VerificationDecision(Input):
    approve: bool


class FlagOut(BaseModel):
    id: IdStr
    user: UserRef
    kind: str
    status: Literal["open", "cleared"]
    detail: str
    created_at: Timestamp
    resolved_at: Timestamp | None = None
