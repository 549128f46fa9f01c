"""Applying transfer specs to account balances, in memory, for one batch.

Pure bookkeeping with no I/O: the pipeline loads the rows a batch touches, lets a
``Batch`` compute each spec's result against them in order, then writes the new
transfers and the changed balances in one transaction. Keeping the rules here (and
only here) is what lets the stateful test compare them with a reference model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from plaza.payments.ledger.types import (
    EXPIRY_CODE,
    MAX_AMOUNT,
    MAX_CODE_LENGTH,
    TransferResult,
    TransferSpec,
)
from plaza.payments.ledger.types import TransferStatus as S

# Ten years: far enough for any hold, near enough that timestamps cannot overflow.
MAX_TIMEOUT_SECONDS = 10 * 365 * 86_400


@dataclass(slots=True)
class Prepared:
    """A spec with what is derived from it once, on the caller's side of the queue."""

    spec: TransferSpec
    fingerprint: bytes | None  # None: the metadata is not JSON
    metadata_json: str


def prepare(spec: TransferSpec) -> Prepared:
    try:
        meta = orjson.dumps(dict(spec.metadata), option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):
        return Prepared(spec, None, "{}")
    key = repr(
        (
            spec.debit_account_id,
            spec.credit_account_id,
            spec.amount,
            spec.code,
            spec.pending,
            spec.timeout_seconds,
            spec.post_pending_id,
            spec.void_pending_id,
            spec.linked,
        )
    ).encode()
    digest = hashlib.blake2b(key + meta, digest_size=16).digest()
    return Prepared(spec, digest, meta.decode())


@dataclass(slots=True)
class AccountState:
    id: int
    currency: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    dirty: bool = False


@dataclass(slots=True)
class PendingState:
    id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    timeout_at: datetime | None
    state: str | None  # None while open, else "posted", "voided" or "expired"


# A new transfer, in the column order of ``ROW_COLUMNS``.
Row = tuple[Any, ...]
ROW_COLUMNS = (
    "id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "currency",
    "code",
    "metadata_json",
    "kind",
    "pending_id",
    "timeout_at",
    "fingerprint",
    "created_at",
)

# Undo records for a linked chain: balance deltas (so that unjournaled expiry voids
# made in the middle of a chain survive its rollback), ids, and pending states.
_Undo = tuple[Any, ...]


class Batch:
    """One batch's view of the ledger: the accounts, known transfer ids and pending
    transfers it touches. ``apply`` runs one request (a caller's list of specs)."""

    def __init__(
        self,
        now: datetime,
        accounts: dict[int, AccountState],
        known: dict[int, bytes],
        pendings: dict[int, PendingState],
        new_id: Callable[[], int],
    ) -> None:
        self.now = now
        self.accounts = accounts
        self.known = known
        self.pendings = pendings
        self.new_id = new_id
        self.rows: list[Row] = []

    # -- requests --------------------------------------------------------------------

    def apply(self, specs: Sequence[Prepared]) -> list[TransferResult]:
        results: list[TransferResult] = []
        i, n = 0, len(specs)
        while i < n:
            j = i
            while j < n and specs[j].spec.linked:
                j += 1
            if j == n:
                # The request ends inside a chain: nothing of that chain is applied.
                results.extend(TransferResult(p.spec.id, S.LINKED_EVENT_FAILED) for p in specs[i:])
                results[-1] = TransferResult(specs[-1].spec.id, S.LINKED_EVENT_CHAIN_OPEN)
                break
            if i == j:
                results.append(TransferResult(specs[i].spec.id, self._apply_one(specs[i], None)))
            else:
                results.extend(self._apply_chain(specs[i : j + 1]))
            i = j + 1
        return results

    def expire(self, pending_id: int) -> bool:
        """Void a pending transfer whose timeout has passed; False if it is not one."""
        pending = self.pendings.get(pending_id)
        if pending is None or pending.state is not None or not self._timed_out(pending):
            return False
        self._expire(pending)
        return True

    # -- one chain -------------------------------------------------------------------

    def _apply_chain(self, chain: Sequence[Prepared]) -> list[TransferResult]:
        journal: list[_Undo] = []
        rows: list[Row] = []
        statuses: list[S] = []
        for prepared in chain:
            status = self._apply_one(prepared, journal, rows)
            statuses.append(status)
            if status not in (S.OK, S.EXISTS):
                break
        complete = len(statuses) == len(chain)
        if complete and all(s is S.OK for s in statuses):
            self.rows.extend(rows)
            return [TransferResult(p.spec.id, S.OK) for p in chain]
        if complete and all(s is S.EXISTS for s in statuses):
            # A retried chain that was applied before, whole.
            return [TransferResult(p.spec.id, S.EXISTS) for p in chain]
        # The culprit is the first hard failure, or (in a mix of new and existing ids,
        # which no earlier all-or-nothing chain can have produced) the first existing one.
        hard = [k for k, s in enumerate(statuses) if s not in (S.OK, S.EXISTS)]
        culprit = hard[0] if hard else statuses.index(S.EXISTS)
        self._undo(journal)
        results = [TransferResult(p.spec.id, S.LINKED_EVENT_FAILED) for p in chain]
        results[culprit] = TransferResult(chain[culprit].spec.id, statuses[culprit])
        return results

    def _undo(self, journal: list[_Undo]) -> None:
        for entry in reversed(journal):
            match entry:
                case ("balance", AccountState() as a, int(dp), int(cp), int(dpe), int(cpe)):
                    a.debits_posted -= dp
                    a.credits_posted -= cp
                    a.debits_pending -= dpe
                    a.credits_pending -= cpe
                case ("id", int(transfer_id)):
                    del self.known[transfer_id]
                case ("new_pending", int(transfer_id)):
                    del self.pendings[transfer_id]
                case ("resolved", PendingState() as pending):
                    pending.state = None

    # -- one spec --------------------------------------------------------------------

    def _apply_one(
        self,
        prepared: Prepared,
        journal: list[_Undo] | None,
        rows: list[Row] | None = None,
    ) -> S:
        spec = prepared.spec
        if not 0 < spec.id <= MAX_AMOUNT:
            return S.INVALID_ID
        if prepared.fingerprint is None:
            return S.INVALID_METADATA
        known = self.known.get(spec.id)
        if known is not None:
            return S.EXISTS if known == prepared.fingerprint else S.EXISTS_WITH_DIFFERENT_FIELDS
        if not spec.code or len(spec.code) > MAX_CODE_LENGTH or spec.code == EXPIRY_CODE:
            return S.INVALID_CODE
        resolves = spec.post_pending_id is not None or spec.void_pending_id is not None
        if (spec.post_pending_id is not None and spec.void_pending_id is not None) or (
            resolves and spec.pending
        ):
            return S.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if resolves:
            return self._resolve(prepared, journal, rows)
        if spec.timeout_seconds is not None and (
            not spec.pending or not 0 <= spec.timeout_seconds <= MAX_TIMEOUT_SECONDS
        ):
            return S.INVALID_TIMEOUT
        amount = spec.amount
        if not 0 < amount <= MAX_AMOUNT:
            return S.INVALID_AMOUNT
        if spec.debit_account_id == spec.credit_account_id:
            return S.SAME_ACCOUNT
        dr = self.accounts.get(spec.debit_account_id)
        cr = self.accounts.get(spec.credit_account_id)
        if dr is None or cr is None:
            return S.ACCOUNT_NOT_FOUND
        if dr.currency != cr.currency:
            return S.CURRENCY_MISMATCH
        if spec.pending:
            if dr.debits_pending + amount > MAX_AMOUNT or cr.credits_pending + amount > MAX_AMOUNT:
                return S.OVERFLOWS
        elif dr.debits_posted + amount > MAX_AMOUNT or cr.credits_posted + amount > MAX_AMOUNT:
            return S.OVERFLOWS
        if (
            dr.debits_must_not_exceed_credits
            and dr.debits_posted + dr.debits_pending + amount > dr.credits_posted
        ):
            return S.INSUFFICIENT_FUNDS
        if (
            cr.credits_must_not_exceed_debits
            and cr.credits_posted + cr.credits_pending + amount > cr.debits_posted
        ):
            return S.EXCEEDS_CREDITS
        timeout_at = None
        if spec.pending:
            dr.debits_pending += amount
            cr.credits_pending += amount
            if journal is not None:
                journal.append(("balance", dr, 0, 0, amount, 0))
                journal.append(("balance", cr, 0, 0, 0, amount))
            if spec.timeout_seconds:
                timeout_at = self.now + timedelta(seconds=spec.timeout_seconds)
            self.pendings[spec.id] = PendingState(
                spec.id, dr.id, cr.id, amount, dr.currency, timeout_at, None
            )
            if journal is not None:
                journal.append(("new_pending", spec.id))
        else:
            dr.debits_posted += amount
            cr.credits_posted += amount
            if journal is not None:
                journal.append(("balance", dr, amount, 0, 0, 0))
                journal.append(("balance", cr, 0, amount, 0, 0))
        dr.dirty = cr.dirty = True
        kind = "pending" if spec.pending else "posted"
        self._record(prepared, dr, cr, amount, kind, None, timeout_at, journal, rows)
        return S.OK

    def _resolve(
        self,
        prepared: Prepared,
        journal: list[_Undo] | None,
        rows: list[Row] | None,
    ) -> S:
        spec = prepared.spec
        posting = spec.post_pending_id is not None
        pending_id = spec.post_pending_id if posting else spec.void_pending_id
        assert pending_id is not None
        pending = self.pendings.get(pending_id)
        if pending is None:
            return S.PENDING_TRANSFER_NOT_FOUND
        if spec.debit_account_id not in (0, pending.debit_account_id) or (
            spec.credit_account_id not in (0, pending.credit_account_id)
        ):
            return S.PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS
        if spec.timeout_seconds is not None:
            return S.INVALID_TIMEOUT
        if pending.state == "posted":
            return S.PENDING_TRANSFER_ALREADY_POSTED
        if pending.state == "voided":
            return S.PENDING_TRANSFER_ALREADY_VOIDED
        if pending.state == "expired":
            return S.PENDING_TRANSFER_EXPIRED
        if self._timed_out(pending):
            # Voided on access; the void stands even if this spec's chain fails.
            self._expire(pending)
            return S.PENDING_TRANSFER_EXPIRED
        if posting:
            if spec.amount < 0:
                return S.INVALID_AMOUNT
            amount = spec.amount or pending.amount
            if amount > pending.amount:
                return S.EXCEEDS_PENDING_AMOUNT
            if (
                self.accounts[pending.debit_account_id].debits_posted + amount > MAX_AMOUNT
                or self.accounts[pending.credit_account_id].credits_posted + amount > MAX_AMOUNT
            ):
                return S.OVERFLOWS
        elif spec.amount not in (0, pending.amount):
            return S.INVALID_AMOUNT
        else:
            amount = pending.amount
        dr = self.accounts[pending.debit_account_id]
        cr = self.accounts[pending.credit_account_id]
        posted = amount if posting else 0
        self._move(dr, cr, posted, pending.amount, journal)
        pending.state = "posted" if posting else "voided"
        if journal is not None:
            journal.append(("resolved", pending))
        kind = "post_pending" if posting else "void_pending"
        self._record(prepared, dr, cr, amount, kind, pending_id, None, journal, rows)
        return S.OK

    # -- helpers ---------------------------------------------------------------------

    def _timed_out(self, pending: PendingState) -> bool:
        return pending.timeout_at is not None and pending.timeout_at <= self.now

    def _expire(self, pending: PendingState) -> None:
        dr = self.accounts[pending.debit_account_id]
        cr = self.accounts[pending.credit_account_id]
        self._move(dr, cr, 0, pending.amount, None)
        pending.state = "expired"
        fingerprint = hashlib.blake2b(b"expire:%d" % pending.id, digest_size=16).digest()
        transfer_id = self.new_id()
        self.known[transfer_id] = fingerprint
        self.rows.append(
            (
                transfer_id,
                dr.id,
                cr.id,
                pending.amount,
                dr.currency,
                EXPIRY_CODE,
                "{}",
                "void_pending",
                pending.id,
                None,
                fingerprint,
                self.now,
            )
        )

    @staticmethod
    def _move(
        dr: AccountState,
        cr: AccountState,
        posted: int,
        released: int,
        journal: list[_Undo] | None,
    ) -> None:
        """Release ``released`` from pending and post ``posted`` (≤ released)."""
        dr.debits_pending -= released
        cr.credits_pending -= released
        dr.debits_posted += posted
        cr.credits_posted += posted
        dr.dirty = cr.dirty = True
        if journal is not None:
            journal.append(("balance", dr, posted, 0, -released, 0))
            journal.append(("balance", cr, 0, posted, 0, -released))

    def _record(
        self,
        prepared: Prepared,
        dr: AccountState,
        cr: AccountState,
        amount: int,
        kind: str,
        pending_id: int | None,
        timeout_at: datetime | None,
        journal: list[_Undo] | None,
        rows: list[Row] | None,
    ) -> None:
        spec = prepared.spec
        assert prepared.fingerprint is not None
        self.known[spec.id] = prepared.fingerprint
        if journal is not None:
            journal.append(("id", spec.id))
        row = (
            spec.id,
            dr.id,
            cr.id,
            amount,
            dr.currency,
            spec.code,
            prepared.metadata_json,
            kind,
            pending_id,
            timeout_at,
            prepared.fingerprint,
            self.now,
        )
        (self.rows if rows is None else rows).append(row)
