"""Fixtures for the core tests: a bare ``Database`` with a probe table, a real Redis
when one is configured, an empty (unmigrated) database, and an app factory for
tests that need settings other than the shared ``settings`` fixture's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import Column, Integer, MetaData, String, Table, make_url

from plaza.app import create_app
from plaza.config import Settings
from plaza.core.clock import ManualClock
from plaza.core.db import Database, UTCDateTime
from tests.conftest import IN_CI, PG_URL, REDIS_URL, postgres_admin

# A table the core tests own, so that they can write rows without depending on a domain.
probe_metadata = MetaData()
probe = Table(
    "core_test_probe",
    probe_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=True),
    Column("note", String(50), nullable=True),
)


async def eventually(check: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until ``check()`` is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A ``Database`` on this test's migrated database, with the probe table."""
    database = Database(database_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(probe_metadata.create_all)
    try:
        yield database
    finally:
        async with database.engine.begin() as conn:
            await conn.run_sync(probe_metadata.drop_all)
        await database.dispose()


@pytest.fixture
def redis_url() -> str:
    """The test Redis. Unset, the Redis tests skip: the SQLite pass of CI leaves it unset
    and the PostgreSQL + Redis pass runs them. Set but not answering fails on CI."""
    if not REDIS_URL:
        pytest.skip("PLAZA_TEST_REDIS_URL is not set (the PostgreSQL + Redis pass runs this)")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"plaza-core-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_factory(
    redis_url: str, redis_prefix: str
) -> AsyncIterator[Callable[[], Awaitable[Redis]]]:
    """Makes Redis clients (one per simulated process); removes the test's keys after."""
    clients: list[Redis] = []

    async def make() -> Redis:
        client = Redis.from_url(redis_url)
        try:
            await client.ping()
        except Exception as exc:
            await client.aclose()
            if IN_CI:
                raise
            pytest.skip(f"Redis at {redis_url} is not answering: {exc!r}")
        clients.append(client)
        return client

    yield make
    if clients:
        keys = [key async for key in clients[0].scan_iter(f"{redis_prefix}*")]
        if keys:
            await clients[0].delete(*keys)
    for client in clients:
        await client.aclose()


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (not even alembic_version)."""
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    base = make_url(PG_URL)
    name = f"plaza_empty_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


AppFactory = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def make_app(settings: Settings, clock: ManualClock) -> AppFactory:
    """``async with make_app(**overrides) as (app, client)``: an app on this test's
    database with some settings changed, lifespan running."""

    @asynccontextmanager
    async def factory(
        **overrides: Any,
    ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        application = create_app(settings.model_copy(update=overrides), clock=clock)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
                yield application, c

    return factory
