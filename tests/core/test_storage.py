"""Storage: SQLite settings in force, UTC timestamps on both databases, and
concurrent writers on SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import StatementError

from plaza.core.db import Database
from tests.core.conftest import AppFactory, probe


async def _pragma(engine: Any, name: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(f"PRAGMA {name}"))).scalar()


async def test_sqlite_pragmas_are_in_force_on_app_connections(plaza: Any) -> None:
    if not plaza.db.is_sqlite:
        pytest.skip("SQLite only")
    for engine in (plaza.db.engine, plaza.db.read_engine):
        assert await _pragma(engine, "journal_mode") == "wal"
        assert await _pragma(engine, "synchronous") == 2  # FULL
        assert await _pragma(engine, "foreign_keys") == 1
        assert await _pragma(engine, "busy_timeout") > 0


async def test_sqlite_writers_begin_immediate(db: Database) -> None:
    """A write transaction holds the write lock from its first statement, so a second
    writer queues instead of failing later on a lock upgrade."""
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    async with db.session() as first:
        await first.execute(select(probe.c.id))  # a read only, yet the lock is held
        fast = Database(db.url, busy_timeout_ms=50)
        try:
            async with fast.session() as second:
                with pytest.raises(Exception, match="locked"):
                    await second.execute(select(probe.c.id))
            async with fast.session(write=False) as reader:  # readers are not blocked
                assert (await reader.execute(select(probe.c.id))).all() == []
        finally:
            await fast.dispose()


@pytest.mark.parametrize(
    "written",
    [
        datetime(2026, 11, 26, 12, 0, 0, 123_456, tzinfo=UTC),
        datetime(2026, 11, 26, 17, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
    ],
)
async def test_utc_datetime_round_trips_aware_utc(db: Database, written: datetime) -> None:
    async with db.session() as session:
        await session.execute(insert(probe).values(id=1, at=written))
        await session.commit()
    async with db.session(write=False) as session:
        read = (await session.execute(select(probe.c.at))).scalar_one()
    assert read == written
    assert read.tzinfo is not None
    assert read.utcoffset() == timedelta(0)


async def test_utc_datetime_compares_in_sql_across_offsets(db: Database) -> None:
    base = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    async with db.session() as session:
        for i in range(5):
            await session.execute(insert(probe).values(id=i, at=base + timedelta(minutes=i)))
        await session.commit()
    # 14:02 at +02:00 is 12:02 UTC: rows 3 and 4 are later.
    cutoff = datetime(2026, 6, 1, 14, 2, tzinfo=timezone(timedelta(hours=2)))
    async with db.session(write=False) as session:
        later = (await session.execute(select(probe.c.id).where(probe.c.at > cutoff))).scalars()
        assert sorted(later) == [3, 4]


async def test_naive_datetimes_are_refused(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(StatementError, match="naive"):
            await session.execute(insert(probe).values(id=1, at=datetime(2026, 1, 1)))


async def test_concurrent_writers_do_not_fail(db: Database) -> None:
    async def write(i: int) -> None:
        async with db.session() as session:
            await session.execute(insert(probe).values(id=i, note="first"))
            await asyncio.sleep(0.005)  # hold the transaction open across an await
            await session.execute(probe.update().where(probe.c.id == i).values(note="second"))
            await session.commit()

    async def read() -> int:
        async with db.session(write=False) as session:
            return len((await session.execute(select(probe.c.id))).all())

    await asyncio.gather(*(write(i) for i in range(20)), *(read() for _ in range(10)))
    async with db.session(write=False) as session:
        notes = (await session.execute(select(probe.c.note))).scalars().all()
    assert notes == ["second"] * 20


async def test_twenty_concurrent_sign_ups_all_succeed(make_app: AppFactory) -> None:
    async with make_app(signups_per_ip_per_hour=100) as (_app, client):

        async def sign_up(i: int) -> httpx.Response:
            return await client.post(
                "/api/v1/accounts",
                json={"username": f"racer{i}", "password": "correct horse battery staple"},
            )

        responses = await asyncio.gather(*(sign_up(i) for i in range(20)))
        assert [r.status_code for r in responses] == [201] * 20, [
            r.text for r in responses if r.status_code != 201
        ]
        ids = {r.json()["id"] for r in responses}
        assert len(ids) == 20
