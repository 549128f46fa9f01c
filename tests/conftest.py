"""Shared fixtures: a real database per test (SQLite file or PostgreSQL), optional
real Redis, the app with its lifespan running, and user factories.

Switches (environment):
- ``PLAZA_TEST_DATABASE_URL``: a ``postgresql+asyncpg://`` URL runs the suite on
  PostgreSQL; each pytest worker gets its own database, emptied between tests.
- ``PLAZA_TEST_REDIS_URL``: runs the bus and rate limits on Redis.
- ``CI=true``: a configured service that does not answer fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from plaza.app import create_app
from plaza.config import Settings
from plaza.core import migrations
from plaza.core.clock import ManualClock

PG_URL = os.environ.get("PLAZA_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PLAZA_TEST_REDIS_URL") or None
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery staple"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def postgres_admin(sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the PostgreSQL server under test."""
    engine = create_async_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this worker: an SQLite template file, or a PostgreSQL db."""
    if not PG_URL:
        path = tmp_path_factory.mktemp("template") / "plaza.db"
        url = f"sqlite+aiosqlite:///{path}"
        migrations.upgrade(url)
        yield url
        return
    base = make_url(PG_URL)
    name = f"plaza_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL at {PG_URL} is not answering: {exc!r}")
    url = base.set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_postgres(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            tables = (
                (
                    await conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            if tables:
                await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(database_template: str, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for one test."""
    if database_template.startswith("sqlite"):
        source = Path(make_url(database_template).database or "")
        target = tmp_path / "plaza.db"
        shutil.copyfile(source, target)
        return f"sqlite+aiosqlite:///{target}"
    await _empty_postgres(database_template)
    return database_template


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_prefix=f"plaza-test-{uuid.uuid4().hex[:12]}",
        secret_key="test-secret-" + uuid.uuid4().hex,
        auto_migrate=False,
        log_json=False,
    )


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def plaza(app: FastAPI) -> Any:
    """The app-scoped objects (services, bus, clock) of the running app."""
    return app.state.plaza


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


@dataclass
class Account:
    id: str
    username: str
    password: str
    token: str
    csrf_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Users:
    """Factory for accounts made through the public API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._n = 0

    async def create(self, username: str | None = None, password: str = PASSWORD) -> Account:
        self._n += 1
        username = username or f"user{self._n}_{uuid.uuid4().hex[:6]}"
        created = await self.client.post(
            "/api/v1/accounts", json={"username": username, "password": password}
        )
        assert created.status_code == 201, created.text
        return await self.sign_in(username, password)

    async def sign_in(self, username: str, password: str = PASSWORD) -> Account:
        response = await self.client.post(
            "/api/v1/sessions", json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Account(
            id=body["user"]["id"],
            username=username,
            password=password,
            token=body["token"],
            csrf_token=body["csrf_token"],
        )


@pytest.fixture
def users(client: httpx.AsyncClient) -> Users:
    return Users(client)
