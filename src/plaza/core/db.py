"""Async SQLAlchemy storage: engines, sessions, the declarative base and column types.

SQLite is the default and runs in WAL mode with ``synchronous=FULL``, foreign keys
and a busy timeout. Writers on SQLite open their transaction with ``BEGIN IMMEDIATE``
so that two writers queue on the busy timeout instead of failing on a lock upgrade;
readers use a separate engine with deferred transactions, which WAL lets run beside
a writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Executable, MetaData, Row, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no timezone type; without this, values would come back naive there
    and aware on PostgreSQL, and comparisons would differ between the two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        if value.tzinfo is not UTC:  # most values are UTC already: skip the conversion
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of an SQLite database file, so a fresh checkout just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """The engines and session factories of one process."""

    def __init__(self, url: str, *, pool_size: int = 10, busy_timeout_ms: int = 10_000) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            ensure_sqlite_directory(url)
            self.engine = _sqlite_engine(url, busy_timeout_ms, immediate=True)
            self.read_engine = _sqlite_engine(url, busy_timeout_ms, immediate=False)
        else:
            # No pre-ping: it costs round trips on every checkout. A connection broken
            # by a database restart fails one request and the pool is invalidated.
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
            )
            self.read_engine = self.engine
        # The same pool, with options set once rather than per call (cloning a connection
        # with new options costs more than the query it wraps).
        self._autocommit_reads = self.read_engine.execution_options(
            **({"plaza_no_begin": True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"})
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Uncommitted work is rolled back on exit."""
        factory = self.sessions if write else self.read_sessions
        async with factory() as session:
            yield session

    async def fetch_one(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Row[Any] | None:
        """Run one read-only statement outside any transaction and return its first row.

        For hot, single-statement reads (the session lookup of every request): it skips
        BEGIN/ROLLBACK, which on SQLite are thread hops and on PostgreSQL round trips.
        A read of several statements that must agree needs ``session(write=False)``.
        """
        async with self._autocommit_reads.connect() as connection:
            result = await connection.execute(statement, params or {})
            return result.first()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def _sqlite_engine(url: str, busy_timeout_ms: int, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # With the driver's own transactions off, statements outside BEGIN autocommit;
        # fetch_one relies on that for single-statement reads.
        if not connection.get_execution_options().get("plaza_no_begin"):
            connection.exec_driver_sql(begin)

    return engine
