"""The pipeline's statements, on the database driver itself.

A batch runs a handful of statements over thousands of rows. Through SQLAlchemy each
row would pay for parameter processing and result objects in Python; here the rows go
to the driver as tuples: ``executemany`` on SQLite (one trip to aiosqlite's thread),
one ``unnest`` statement per table on PostgreSQL (one network round trip). The
statements run on the SQLAlchemy connection's own driver connection, so they belong to
the transaction SQLAlchemy opened (BEGIN IMMEDIATE on SQLite).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from plaza.payments.ledger.engine import AccountState, PendingState, Row
from plaza.payments.ledger.types import EXPIRY_CODE, MAX_AMOUNT

_CHUNK = 5000  # ids per statement, well under both databases' parameter limits
# SQLite statements take a list of ids where they say "IN (?)" (see ``_Sqlite._fetch``).
_SQ_PENDINGS = (
    "SELECT id, debit_account_id, credit_account_id, amount, currency, timeout_at "
    "FROM ledger_transfer WHERE kind = 'pending' AND id IN (?)"
)
_SQ_ACCOUNTS = (
    "SELECT id, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
    "debits_posted, credits_posted, debits_pending, credits_pending "
    "FROM ledger_account WHERE id IN (?)"
)
_SQ_RESOLUTIONS = "SELECT pending_id, kind, code FROM ledger_transfer WHERE pending_id IN (?)"
_SQ_KNOWN = "SELECT id, fingerprint FROM ledger_transfer WHERE id IN (?)"
_SQ_INSERT = (
    "INSERT INTO ledger_transfer (id, debit_account_id, credit_account_id, amount, currency, "
    "code, metadata_json, kind, pending_id, timeout_at, fingerprint, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQ_UPDATE = (
    "UPDATE ledger_account SET debits_posted = ?, credits_posted = ?, "
    "debits_pending = ?, credits_pending = ? WHERE id = ?"
)
_PG_PENDINGS = (
    "SELECT id, debit_account_id, credit_account_id, amount, currency, timeout_at "
    "FROM ledger_transfer WHERE kind = 'pending' AND id = ANY($1::bigint[])"
)
_PG_ACCOUNTS = (
    "SELECT id, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
    "debits_posted, credits_posted, debits_pending, credits_pending "
    "FROM ledger_account WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE"
)
_PG_RESOLUTIONS = (
    "SELECT pending_id, kind, code FROM ledger_transfer WHERE pending_id = ANY($1::bigint[])"
)
_PG_KNOWN = "SELECT id, fingerprint FROM ledger_transfer WHERE id = ANY($1::bigint[])"
_PG_INSERT = (
    "INSERT INTO ledger_transfer (id, debit_account_id, credit_account_id, amount, currency, "
    "code, metadata_json, kind, pending_id, timeout_at, fingerprint, created_at) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], "
    "$5::varchar[], $6::varchar[], $7::text[], $8::varchar[], $9::bigint[], "
    "$10::timestamptz[], $11::bytea[], $12::timestamptz[])"
)
_PG_UPDATE = (
    "UPDATE ledger_account AS a SET debits_posted = v.dp, credits_posted = v.cp, "
    "debits_pending = v.dpe, credits_pending = v.cpe "
    "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) "
    "AS v(id, dp, cp, dpe, cpe) WHERE a.id = v.id"
)


def chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    """Distinct valid ids, ascending, in statement-sized chunks."""
    valid = sorted({i for i in ids if 0 < i <= MAX_AMOUNT})
    for start in range(0, len(valid), _CHUNK):
        yield valid[start : start + _CHUNK]


def resolution_state(kind: str, code: str) -> str:
    if kind == "post_pending":
        return "posted"
    return "expired" if code == EXPIRY_CODE else "voided"


class BatchStore(Protocol):
    async def pendings(self, ids: Iterable[int]) -> dict[int, PendingState]: ...

    async def lock_accounts(self, ids: Iterable[int]) -> dict[int, AccountState]: ...

    async def resolve(self, pendings: dict[int, PendingState]) -> None: ...

    async def known(self, ids: Iterable[int]) -> dict[int, bytes]: ...

    async def insert(self, rows: Sequence[Row]) -> None: ...

    async def update(self, accounts: Sequence[AccountState]) -> None: ...


async def batch_store(conn: AsyncConnection) -> BatchStore:
    """The store for ``conn``, whose transaction is begun here if it is not yet."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "postgresql":
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter opens its transaction at the first statement.
            await conn.exec_driver_sql("SELECT 1")
        return _Postgres(driver)
    if not driver.in_transaction:
        raise RuntimeError("the ledger batch must run inside a write transaction")
    return _Sqlite(driver)


class _Sqlite:
    def __init__(self, driver: Any) -> None:
        self._db = driver

    async def _fetch(self, sql: str, ids: list[int]) -> Iterable[Any]:
        marks = ",".join("?" * len(ids))
        rows: Iterable[Any] = await self._db.execute_fetchall(
            sql.replace("IN (?)", f"IN ({marks})"), ids
        )
        return rows

    async def pendings(self, ids: Iterable[int]) -> dict[int, PendingState]:
        found: dict[int, PendingState] = {}
        for chunk in chunks(ids):
            for r in await self._fetch(_SQ_PENDINGS, chunk):
                timeout = datetime.fromisoformat(r[5]).replace(tzinfo=UTC) if r[5] else None
                found[r[0]] = PendingState(r[0], r[1], r[2], r[3], r[4], timeout, None)
        return found

    async def lock_accounts(self, ids: Iterable[int]) -> dict[int, AccountState]:
        # BEGIN IMMEDIATE already holds the database's write lock: no row locks needed.
        accounts: dict[int, AccountState] = {}
        for chunk in chunks(ids):
            for r in await self._fetch(_SQ_ACCOUNTS, chunk):
                accounts[r[0]] = AccountState(
                    r[0], r[1], bool(r[2]), bool(r[3]), r[4], r[5], r[6], r[7]
                )
        return accounts

    async def resolve(self, pendings: dict[int, PendingState]) -> None:
        for chunk in chunks(pendings):
            for pending_id, kind, code in await self._fetch(_SQ_RESOLUTIONS, chunk):
                pendings[pending_id].state = resolution_state(kind, code)

    async def known(self, ids: Iterable[int]) -> dict[int, bytes]:
        known: dict[int, bytes] = {}
        for chunk in chunks(ids):
            known.update((r[0], bytes(r[1])) for r in await self._fetch(_SQ_KNOWN, chunk))
        return known

    async def insert(self, rows: Sequence[Row]) -> None:
        # Timestamps as SQLAlchemy stores them on SQLite (naive UTC text; see UTCDateTime).
        text = {r[11] for r in rows}
        stamps = {t: _sqlite_time(t) for t in text}
        await self._db.executemany(
            _SQ_INSERT,
            [(*r[:9], _sqlite_time(r[9]) if r[9] else None, r[10], stamps[r[11]]) for r in rows],
        )

    async def update(self, accounts: Sequence[AccountState]) -> None:
        await self._db.executemany(
            _SQ_UPDATE,
            [
                (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending, a.id)
                for a in accounts
            ],
        )


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _Postgres:
    def __init__(self, driver: Any) -> None:
        self._db = driver

    async def pendings(self, ids: Iterable[int]) -> dict[int, PendingState]:
        found: dict[int, PendingState] = {}
        for chunk in chunks(ids):
            for r in await self._db.fetch(_PG_PENDINGS, chunk):
                found[r[0]] = PendingState(r[0], r[1], r[2], r[3], r[4], r[5], None)
        return found

    async def lock_accounts(self, ids: Iterable[int]) -> dict[int, AccountState]:
        # Chunks ascend and each locks in id order, so every process takes its row locks
        # in one global order: batches of two processes never deadlock on accounts.
        accounts: dict[int, AccountState] = {}
        for chunk in chunks(ids):
            for r in await self._db.fetch(_PG_ACCOUNTS, chunk):
                accounts[r[0]] = AccountState(*r)
        return accounts

    async def resolve(self, pendings: dict[int, PendingState]) -> None:
        for chunk in chunks(pendings):
            for pending_id, kind, code in await self._db.fetch(_PG_RESOLUTIONS, chunk):
                pendings[pending_id].state = resolution_state(kind, code)

    async def known(self, ids: Iterable[int]) -> dict[int, bytes]:
        known: dict[int, bytes] = {}
        for chunk in chunks(ids):
            rows = await self._db.fetch(_PG_KNOWN, chunk)
            known.update((r[0], bytes(r[1])) for r in rows)
        return known

    async def insert(self, rows: Sequence[Row]) -> None:
        columns = list(zip(*rows, strict=True))
        await self._db.execute(
            _PG_INSERT,
            *columns,
        )

    async def update(self, accounts: Sequence[AccountState]) -> None:
        await self._db.execute(
            _PG_UPDATE,
            [a.id for a in accounts],
            [a.debits_posted for a in accounts],
            [a.credits_posted for a in accounts],
            [a.debits_pending for a in accounts],
            [a.credits_pending for a in accounts],
        )
