"""What every payments feature shares: its dependencies, policy, errors and helpers.

The features live beside this module (``p2p``, ``requests``, ``rail``, ``limits``,
``kyc``, ``disputes``, ``statements``); ``Payments`` builds them once.

Money moves in the ledger, which commits in its own transactions. So each feature
follows TigerBeetle's pattern: create the domain row (with the ledger transfer ids it
will use) and commit; submit the transfers; record the outcome. A crash in between
leaves a row in an intermediate state, and ``Payments.recover`` (a periodic job)
resubmits the same ids (``exists`` counts as success) and finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plaza.config import Settings
from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import DomainError, InvalidInput, NotFound
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.identity import IdentityService, Principal, ServerKeys
from plaza.payments.interfaces import (
    BlockChecker,
    ConversationMembership,
    UserDirectory,
    UserInfo,
)
from plaza.payments.ledger import Ledger, TransferResult, TransferSpec, TransferStatus
from plaza.payments.schemas import Money

# Ledger system accounts this domain uses (one per currency).
BANK_CLEARING = "bank_clearing"
FEES = "fees"
DISPUTES = "disputes"
RETURNS_RECEIVABLE = "returns_receivable"

DONE = frozenset({TransferStatus.OK, TransferStatus.EXISTS})


class InsufficientFunds(DomainError):
    """Fixed in API.md: a payment the wallet cannot cover is a 422."""

    status, slug, title = 422, "insufficient-funds", "Insufficient funds"

    def __init__(self, detail: str = "The wallet's available balance does not cover this.") -> None:
        super().__init__(
            detail, errors=[{"field": "amount.amount", "message": "exceeds the available balance"}]
        )


class LimitExceeded(DomainError):
    status, slug, title = 403, "limit-exceeded", "Limit exceeded"


class Blocked(DomainError):
    status, slug, title = 403, "blocked", "Blocked"


class HeldForReview(DomainError):
    status, slug, title = 403, "held-for-review", "Held for review"


class WalletRestricted(DomainError):
    status, slug, title = 403, "wallet-restricted", "Wallet restricted"


class LedgerRefused(DomainError):
    """The ledger refused a transfer for a reason the caller could not have prevented."""

    status, slug, title = 503, "ledger-refused", "Payment could not be applied"


@dataclass(frozen=True)
class Policy:
    """The payments settings, read once from ``Settings``."""

    currency: str
    step_up_threshold: int
    unverified_daily: int
    unverified_weekly: int
    verified_daily: int
    verified_weekly: int
    unverified_weekly_deposits: int
    verified_weekly_deposits: int
    structuring_threshold: int
    structuring_margin_percent: int
    structuring_count: int
    instant_fee_bps: int
    instant_fee_min: int
    instant_fee_max: int
    kyc_auto_approve: bool
    reminder_interval_seconds: int
    recovery_grace_seconds: int
    sandbox_delay_seconds: float

    @classmethod
    def from_settings(cls, s: Settings) -> Policy:
        return cls(
            currency=s.payments_currency,
            step_up_threshold=s.payments_step_up_threshold,
            unverified_daily=s.payments_unverified_daily_limit,
            unverified_weekly=s.payments_unverified_weekly_limit,
            verified_daily=s.payments_verified_daily_limit,
            verified_weekly=s.payments_verified_weekly_limit,
            unverified_weekly_deposits=s.payments_unverified_weekly_deposit_limit,
            verified_weekly_deposits=s.payments_verified_weekly_deposit_limit,
            structuring_threshold=s.payments_structuring_threshold,
            structuring_margin_percent=s.payments_structuring_margin_percent,
            structuring_count=s.payments_structuring_count,
            instant_fee_bps=s.payments_instant_fee_bps,
            instant_fee_min=s.payments_instant_fee_min,
            instant_fee_max=s.payments_instant_fee_max,
            kyc_auto_approve=s.payments_kyc_auto_approve,
            reminder_interval_seconds=s.payments_reminder_interval_seconds,
            recovery_grace_seconds=s.payments_recovery_grace_seconds,
            sandbox_delay_seconds=s.sandbox_rail_delay_seconds,
        )

    def instant_fee(self, amount: int) -> int:
        fee = (amount * self.instant_fee_bps + 9_999) // 10_000  # rounded up to the cent
        return max(self.instant_fee_min, min(self.instant_fee_max, fee))


class IdentityDirectory:
    """``UserDirectory`` over the identity service."""

    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity

    async def by_username(self, username: str) -> UserInfo | None:
        user = await self.identity.find_user(username)
        return UserInfo(user.id, user.username) if user else None

    async def by_ids(self, ids: set[int]) -> dict[int, UserInfo]:
        found: dict[int, UserInfo] = {}
        for user_id in ids:
            try:
                user = await self.identity.get_user(user_id)
            except NotFound:
                continue  # a deleted account: shown without a name
            found[user_id] = UserInfo(user.id, user.username)
        return found


class Context:
    """The dependencies every payments feature takes, and helpers over them."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        bus: EventBus,
        clock: Clock,
        ids: SnowflakeGenerator,
        keys: ServerKeys,
        identity: IdentityService,
        users: UserDirectory,
        blocks: BlockChecker,
        conversations: ConversationMembership,
        policy: Policy,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.bus = bus
        self.clock = clock
        self.ids = ids
        self.keys = keys
        self.identity = identity
        self.users = users
        self.blocks = blocks
        self.conversations = conversations
        self.policy = policy
        self._system: dict[str, int] = {}

    def amount(self, money: Money) -> int:
        """The amount in minor units; the currency must be the wallet currency."""
        if money.currency != self.policy.currency:
            raise InvalidInput(
                "amount.currency", f"unsupported currency; wallets hold {self.policy.currency}"
            )
        return money.amount

    def money(self, amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": self.policy.currency}

    async def wallet(self, user_id: int) -> int:
        return await self.ledger.wallet_of(user_id, self.policy.currency)

    async def system(self, name: str) -> int:
        if name not in self._system:
            self._system[name] = await self.ledger.system_account(name, self.policy.currency)
        return self._system[name]

    async def user_named(self, username: str, field: str) -> UserInfo:
        """The account with this username (case-insensitive), else 404 naming ``field``."""
        found = await self.users.by_username(username.strip().lstrip("@"))
        if found is None:
            raise NotFound(f"{field}: no user named {username!r}.")
        return found

    async def submit(self, specs: Sequence[TransferSpec]) -> list[TransferResult]:
        return await self.ledger.submit(list(specs))

    def require_step_up(self, principal: Principal) -> None:
        self.identity.require_step_up(principal)


def all_done(results: Sequence[TransferResult]) -> bool:
    return all(r.status in DONE for r in results)


def first_failure(results: Sequence[TransferResult]) -> TransferStatus | None:
    """The status that failed a chain (not the ``linked_event_failed`` of its partners)."""
    for r in results:
        if r.status not in DONE and r.status != TransferStatus.LINKED_EVENT_FAILED:
            return r.status
    for r in results:
        if r.status not in DONE:
            return r.status
    return None
