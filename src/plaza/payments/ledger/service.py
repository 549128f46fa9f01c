"""``Ledger``: the double-entry ledger's one entry point.

Writes of transfers go through the group-commit pipeline (``submit``); accounts are
opened idempotently; reads use read sessions and never wait for the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import Conflict, InvalidInput, NotFound
from plaza.payments.ledger.engine import prepare
from plaza.payments.ledger.models import account_table as A
from plaza.payments.ledger.models import transfer_table as T
from plaza.payments.ledger.pipeline import Pipeline, run_batch
from plaza.payments.ledger.types import (
    CURRENCIES,
    EXPIRY_CODE,
    MAX_AMOUNT,
    AccountInfo,
    Balance,
    TransferRecord,
    TransferResult,
    TransferSpec,
    VerifyReport,
)
from plaza.payments.ledger.verify import verify_ledger

WALLET_CODE = "wallet"
SYSTEM_CODE = "system"
_AccountKey = tuple[Any, ...]


class Ledger:
    """Accounts, transfers and balances (TigerBeetle's model, on SQL).

    Do not call ``submit``, ``open_account``, ``wallet_of`` or ``system_account`` while
    holding a write session of your own: on SQLite each of them needs the database's
    one write lock, which your session already holds (a deadlock until the busy
    timeout). To apply transfers inside your own transaction use ``submit_in``.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        new_id: Callable[[], int],
        *,
        max_batch: int = 4096,
    ) -> None:
        self._db = db
        self._clock = clock
        self._new_id = new_id
        self.pipeline = Pipeline(db, clock, new_id, max_batch=max_batch)
        # Accounts are never deleted and their identity never changes: cache the ids.
        self._account_ids: dict[_AccountKey, tuple[int, tuple[bool, bool]]] = {}

    async def start(self) -> None:
        await self.pipeline.start()

    async def stop(self) -> None:
        await self.pipeline.stop()

    # -- accounts --------------------------------------------------------------------

    async def open_account(
        self,
        *,
        code: str,
        currency: str,
        owner_id: int | None = None,
        name: str | None = None,
        debits_must_not_exceed_credits: bool = False,
        credits_must_not_exceed_debits: bool = False,
    ) -> int:
        """Open an account, or return the one already open for (owner_id, code, currency)
        or, with a ``name``, for (name, currency). Raises ``InvalidInput`` for an unknown
        currency and ``Conflict`` when the existing account has other flags."""
        if currency not in CURRENCIES:
            raise InvalidInput("currency", f"{currency!r} is not a supported currency")
        if not code or len(code) > 64:
            raise InvalidInput("code", "must be 1 to 64 characters")
        if name is not None and not 0 < len(name) <= 100:
            raise InvalidInput("name", "must be 1 to 100 characters")
        if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
            raise InvalidInput("flags", "an account cannot have both balance flags")
        flags = (debits_must_not_exceed_credits, credits_must_not_exceed_debits)
        key: _AccountKey | None
        if name is not None:
            key = ("name", name, currency)
            where = [A.c.name == name, A.c.currency == currency]
        elif owner_id is not None:
            key = ("owner", owner_id, code, currency)
            where = [A.c.owner_id == owner_id, A.c.code == code, A.c.currency == currency]
        else:
            key = None
            where = []
        if key is not None and key in self._account_ids:
            cached_id, cached_flags = self._account_ids[key]
            if cached_flags != flags:
                raise Conflict("That account is already open with other balance flags.")
            return cached_id
        new_id = self._new_id()
        values = {
            "id": new_id,
            "code": code,
            "currency": currency,
            "owner_id": owner_id,
            "name": name,
            "debits_must_not_exceed_credits": flags[0],
            "credits_must_not_exceed_debits": flags[1],
            "debits_posted": 0,
            "credits_posted": 0,
            "debits_pending": 0,
            "credits_pending": 0,
            "created_at": self._clock.now(),
        }
        async with self._db.session() as session:
            if key is None:
                await session.execute(insert(A).values(values))
                await session.commit()
                return new_id
            dialect_insert = postgresql.insert if not self._db.is_sqlite else sqlite.insert
            await session.execute(dialect_insert(A).values(values).on_conflict_do_nothing())
            row = (
                await session.execute(
                    select(
                        A.c.id,
                        A.c.debits_must_not_exceed_credits,
                        A.c.credits_must_not_exceed_debits,
                    ).where(*where)
                )
            ).one()
            await session.commit()
        stored = (bool(row[1]), bool(row[2]))
        self._account_ids[key] = (int(row.id), stored)
        if stored != flags:
            raise Conflict("That account is already open with other balance flags.")
        return int(row.id)

    async def wallet_of(self, user_id: int, currency: str = "USD") -> int:
        """The user's wallet in ``currency`` (opened on first use); it never goes negative."""
        return await self.open_account(
            code=WALLET_CODE,
            currency=currency,
            owner_id=user_id,
            debits_must_not_exceed_credits=True,
        )

    async def system_account(self, name: str, currency: str = "USD") -> int:
        """A named system account (bank clearing, fees, ...), opened on first use; it may
        go negative (a clearing account's balance is what the bank owes us)."""
        return await self.open_account(code=SYSTEM_CODE, currency=currency, name=name)

    async def accounts(self, account_ids: Collection[int]) -> dict[int, AccountInfo]:
        ids = _valid(account_ids)
        if not ids:
            return {}
        async with self._db.session(write=False) as session:
            rows = await session.execute(
                select(
                    A.c.id,
                    A.c.code,
                    A.c.currency,
                    A.c.owner_id,
                    A.c.name,
                    A.c.debits_must_not_exceed_credits,
                    A.c.credits_must_not_exceed_debits,
                ).where(A.c.id.in_(ids))
            )
            return {
                r.id: AccountInfo(
                    r.id, r.code, r.currency, r.owner_id, r.name, bool(r[5]), bool(r[6])
                )
                for r in rows
            }

    # -- transfers -------------------------------------------------------------------

    async def submit(self, transfers: Sequence[TransferSpec]) -> list[TransferResult]:
        """Apply ``transfers`` in order through the group-commit pipeline; one result per
        spec. Results are final and durable when returned. Raises ``LedgerUnavailable``
        (nothing applied) when the batch could not be committed: retry with the same
        ids, and read ``EXISTS`` on the retry as "applied"."""
        if not transfers:
            return []
        return await self.pipeline.submit([prepare(t) for t in transfers])

    async def submit_in(
        self, session: AsyncSession, transfers: Sequence[TransferSpec]
    ) -> list[TransferResult]:
        """Apply ``transfers`` inside the caller's open write session, for when a domain
        row and its transfers must commit together. The results hold only if the caller
        commits; the caller owns the transaction (and on PostgreSQL the row locks taken
        on the accounts until then)."""
        if not transfers:
            return []
        conn = await session.connection()
        results = await run_batch(
            conn, [[prepare(t) for t in transfers]], now=self._clock.now(), new_id=self._new_id
        )
        return results[0]

    async def expire_pending(self, limit: int = 1000) -> int:
        """Void pending transfers whose timeout has passed (the periodic job); returns
        how many it voided."""
        now = self._clock.now()
        resolved = T.alias("resolved")
        async with self._db.session(write=False) as session:
            due = (
                (
                    await session.execute(
                        select(T.c.id)
                        .where(
                            T.c.kind == "pending",
                            T.c.timeout_at.is_not(None),
                            T.c.timeout_at <= now,
                            ~select(resolved.c.id).where(resolved.c.pending_id == T.c.id).exists(),
                        )
                        .order_by(T.c.timeout_at)
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        if not due:
            return 0
        await self.pipeline.submit([], expiries=list(due))
        # Count what is now expired (some may have been resolved meanwhile).
        async with self._db.session(write=False) as session:
            rows = await session.execute(
                select(T.c.pending_id).where(T.c.pending_id.in_(list(due)), T.c.code == EXPIRY_CODE)
            )
            return len(rows.all())

    # -- reads -----------------------------------------------------------------------

    async def balance(self, account_id: int) -> Balance:
        """The account's balances; ``NotFound`` if there is no such account."""
        found = await self.balances([account_id])
        if account_id not in found:
            raise NotFound("No such account.")
        return found[account_id]

    async def balances(self, account_ids: Collection[int]) -> dict[int, Balance]:
        """Balances of the accounts that exist among ``account_ids``."""
        ids = _valid(account_ids)
        if not ids:
            return {}
        async with self._db.session(write=False) as session:
            rows = await session.execute(
                select(
                    A.c.id,
                    A.c.currency,
                    A.c.debits_posted,
                    A.c.credits_posted,
                    A.c.debits_pending,
                    A.c.credits_pending,
                ).where(A.c.id.in_(ids))
            )
            return {r.id: Balance(*r) for r in rows}

    async def lookup(self, transfer_ids: Collection[int]) -> dict[int, TransferRecord]:
        ids = _valid(transfer_ids)
        if not ids:
            return {}
        async with self._db.session(write=False) as session:
            rows = await session.execute(select(T).where(T.c.id.in_(ids)))
            return {r.id: _record(r) for r in rows}

    async def resolution_of(self, pending_ids: Collection[int]) -> dict[int, TransferRecord]:
        """The post or void transfer of each resolved pending transfer among the ids."""
        ids = _valid(pending_ids)
        if not ids:
            return {}
        async with self._db.session(write=False) as session:
            rows = await session.execute(select(T).where(T.c.pending_id.in_(ids)))
            return {r.pending_id: _record(r) for r in rows}

    async def history(
        self,
        account_id: int,
        *,
        before_id: int | None,
        limit: int,
        codes: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[TransferRecord]:
        """The account's transfers, newest id first: ids below ``before_id`` (a cursor),
        with a code in ``codes``, created in [since, until)."""
        query = select(T).where(
            or_(T.c.debit_account_id == account_id, T.c.credit_account_id == account_id)
        )
        if before_id is not None:
            query = query.where(T.c.id < before_id)
        if codes is not None:
            query = query.where(T.c.code.in_(list(codes)))
        if since is not None:
            query = query.where(T.c.created_at >= since)
        if until is not None:
            query = query.where(T.c.created_at < until)
        query = query.order_by(T.c.id.desc()).limit(max(0, limit))
        async with self._db.session(write=False) as session:
            return [_record(r) for r in await session.execute(query)]

    async def verify(self) -> VerifyReport:
        """Check every invariant from the stored history (see ``verify.verify_ledger``)."""
        return await verify_ledger(self._db, self._clock.now())


def _valid(ids: Collection[int]) -> list[int]:
    return [i for i in set(ids) if 0 < i <= MAX_AMOUNT]


def _record(r: Row[Any]) -> TransferRecord:
    return TransferRecord(
        id=r.id,
        debit_account_id=r.debit_account_id,
        credit_account_id=r.credit_account_id,
        amount=r.amount,
        currency=r.currency,
        code=r.code,
        metadata=orjson.loads(r.metadata_json),
        kind=r.kind,
        pending_id=r.pending_id,
        created_at=r.created_at,
        timeout_at=r.timeout_at,
    )
