"""Payments: the wallet, peer-to-peer payments, requests, bank rails and disputes,
on top of the double-entry ledger in ``plaza.payments.ledger``.

Other domains use only what this module exports.
"""

from plaza.payments.api import build_router
from plaza.payments.events import (
    DisputeOpened,
    DisputeResolved,
    PaymentCompleted,
    PaymentFlagged,
    PaymentRequested,
    PaymentRequestReminded,
    PaymentRequestResolved,
    RailTransferUpdated,
)
from plaza.payments.interfaces import (
    BlockChecker,
    ConversationMembership,
    UserDirectory,
    UserInfo,
)
from plaza.payments.ledger import (
    CURRENCIES,
    EXPIRY_CODE,
    SYSTEM_CODE,
    WALLET_CODE,
    AccountInfo,
    Balance,
    Ledger,
    LedgerAccount,
    LedgerTransfer,
    LedgerUnavailable,
    TransferKind,
    TransferRecord,
    TransferResult,
    TransferSpec,
    TransferStatus,
    VerifyReport,
    currency_exponent,
)
from plaza.payments.sandbox import BankRail, RailOrder, RailState, SandboxRail
from plaza.payments.service import Context, IdentityDirectory, Policy
from plaza.payments.wallet import Payments

__all__ = [
    "CURRENCIES",
    "EXPIRY_CODE",
    "SYSTEM_CODE",
    "WALLET_CODE",
    "AccountInfo",
    "Balance",
    "BankRail",
    "BlockChecker",
    "Context",
    "ConversationMembership",
    "DisputeOpened",
    "DisputeResolved",
    "IdentityDirectory",
    "Ledger",
    "LedgerAccount",
    "LedgerTransfer",
    "LedgerUnavailable",
    "PaymentCompleted",
    "PaymentFlagged",
    "PaymentRequestReminded",
    "PaymentRequestResolved",
    "PaymentRequested",
    "Payments",
    "Policy",
    "RailOrder",
    "RailState",
    "RailTransferUpdated",
    "SandboxRail",
    "TransferKind",
    "TransferRecord",
    "TransferResult",
    "TransferSpec",
    "TransferStatus",
    "UserDirectory",
    "UserInfo",
    "VerifyReport",
    "build_router",
    "currency_exponent",
]
