"""The double-entry ledger: accounts, immutable transfers (posted, pending, linked),
balances, and the group-commit pipeline that writes them. See ``service.Ledger``."""

from plaza.payments.ledger.models import LedgerAccount, LedgerTransfer
from plaza.payments.ledger.service import SYSTEM_CODE, WALLET_CODE, Ledger
from plaza.payments.ledger.types import (
    CURRENCIES,
    EXPIRY_CODE,
    AccountInfo,
    Balance,
    LedgerUnavailable,
    TransferKind,
    TransferRecord,
    TransferResult,
    TransferSpec,
    TransferStatus,
    VerifyReport,
    currency_exponent,
)

__all__ = [
    "CURRENCIES",
    "EXPIRY_CODE",
    "SYSTEM_CODE",
    "WALLET_CODE",
    "AccountInfo",
    "Balance",
    "Ledger",
    "LedgerAccount",
    "LedgerTransfer",
    "LedgerUnavailable",
    "TransferKind",
    "TransferRecord",
    "TransferResult",
    "TransferSpec",
    "TransferStatus",
    "VerifyReport",
    "currency_exponent",
]
