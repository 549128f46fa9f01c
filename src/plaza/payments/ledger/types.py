"""The ledger's vocabulary: transfer specs and results, balances, records, currencies.

The model is TigerBeetle's: accounts hold four counters (debits/credits, posted/pending);
a transfer moves an integer amount of minor units from one account's debit side to
another's credit side; nothing is ever edited, a mistake is fixed by a correcting transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from plaza.core.errors import ServiceUnavailable

# ISO 4217 codes the ledger accepts, with their minor-unit exponent (USD 2: cents).
CURRENCIES: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
}

# Amounts and balances live in signed 64-bit columns on both databases.
MAX_AMOUNT = (1 << 63) - 1
# The code of the void the ledger writes when a pending transfer times out; callers may
# not use it, so that "voided" and "expired" stay distinguishable in history.
EXPIRY_CODE = "pending_expired"
MAX_CODE_LENGTH = 64


def currency_exponent(currency: str) -> int:
    """Minor-unit exponent of an accepted ISO 4217 code (2 for USD: amounts are cents)."""
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise ValueError(f"unsupported currency {currency!r}") from None


class TransferStatus(StrEnum):
    """The outcome of one transfer spec. Only ``OK`` changed anything (``EXISTS`` means
    an identical transfer with this id was applied before)."""

    OK = "ok"
    EXISTS = "exists"
    EXISTS_WITH_DIFFERENT_FIELDS = "exists_with_different_fields"
    # The debit account has debits_must_not_exceed_credits (a wallet) and lacks the funds.
    INSUFFICIENT_FUNDS = "insufficient_funds"
    # The credit account has credits_must_not_exceed_debits and the credit would break it.
    EXCEEDS_CREDITS = "exceeds_credits"
    OVERFLOWS = "overflows"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    SAME_ACCOUNT = "same_account"
    INVALID_ID = "invalid_id"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_CODE = "invalid_code"
    INVALID_METADATA = "invalid_metadata"
    INVALID_TIMEOUT = "invalid_timeout"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = "pending_transfer_has_different_accounts"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    EXCEEDS_PENDING_AMOUNT = "exceeds_pending_amount"


@dataclass(frozen=True)
class TransferSpec:
    """One transfer to apply. ``id`` is chosen by the caller and is the idempotency key:
    resubmitting the same id with the same fields answers ``EXISTS``.

    - ``pending=True`` reserves the amount (``timeout_seconds``: voided when it passes).
    - ``post_pending_id`` / ``void_pending_id`` resolve a pending transfer; their debit
      and credit ids may be 0 (taken from the pending one), and ``amount`` 0 means the
      whole pending amount (a smaller amount posts part, the rest is released).
    - ``linked=True`` chains this spec to the next one: the chain applies all or nothing.
    """

    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    code: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    pending: bool = False
    timeout_seconds: int | None = None
    post_pending_id: int | None = None
    void_pending_id: int | None = None
    linked: bool = False


@dataclass(frozen=True)
class TransferResult:
    id: int
    status: TransferStatus


@dataclass(frozen=True)
class Balance:
    account_id: int
    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def balance(self) -> int:
        """Posted credits minus posted debits: what a wallet holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """The balance less what pending debits reserve."""
        return self.balance - self.debits_pending


TransferKind = Literal["posted", "pending", "post_pending", "void_pending"]


@dataclass(frozen=True)
class TransferRecord:
    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    code: str
    metadata: Mapping[str, Any]
    kind: TransferKind
    pending_id: int | None
    created_at: datetime
    timeout_at: datetime | None


@dataclass(frozen=True)
class AccountInfo:
    id: int
    code: str
    currency: str
    owner_id: int | None
    name: str | None
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool


@dataclass
class VerifyReport:
    """What ``Ledger.verify`` checked: ``checks`` holds (name, passed, detail)."""

    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append((name, passed, detail))


class LedgerUnavailable(ServiceUnavailable):
    """The batch holding these transfers could not be committed; nothing of it was
    applied. Retry with the same ids (they make the retry safe)."""
