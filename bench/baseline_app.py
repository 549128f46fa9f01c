"""The bare baseline for ``GET /api/v1/me``: Starlette, one raw driver, no ORM.

It does what Plaza's endpoint does at the database: find the session by the
SHA-256 of the bearer token, joined to its user, check revocation and expiry, and
answer the same JSON shape as Plaza's ``UserOut``. With ``BENCH_SAME_READS=1`` the
statement also carries Plaza's "is a second factor enrolled" EXISTS subqueries and
runs inside a read transaction (BEGIN ... ROLLBACK) as Plaza's does, so that what
is left between it and Plaza is the framework and the ORM.

Environment: ``BENCH_DB_KIND`` (``sqlite`` or ``postgres``), ``BENCH_DB`` (a file
path or an asyncpg DSN), ``BENCH_SAME_READS`` (``0``/``1``).

    uvicorn bench.baseline_app:app --loop uvloop --http httptools --workers 1
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

KIND = os.environ.get("BENCH_DB_KIND", "sqlite")
DB = os.environ.get("BENCH_DB", "./var/plaza.db")
SAME_READS = os.environ.get("BENCH_SAME_READS", "0") == "1"
IDLE = timedelta(days=14)
POOL_SIZE = 5

_TWO_FACTOR = """(
  EXISTS (SELECT 1 FROM identity_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
  OR EXISTS (SELECT 1 FROM identity_passkey k WHERE k.user_id = u.id))"""
_QUERY = f"""
SELECT u.id, u.username, u.email, u.created_at, u.is_admin, u.deletion_scheduled_for,
       s.expires_at, s.last_seen_at, {_TWO_FACTOR if SAME_READS else "FALSE"}
FROM identity_session s JOIN identity_user u ON u.id = s.user_id
WHERE s.token_hash = {{p}} AND s.revoked_at IS NULL
"""


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite stores naive UTC text
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rfc3339(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _problem(status: int, detail: str) -> Response:
    body = orjson.dumps({"type": "about:blank", "status": status, "detail": detail})
    return Response(body, status, media_type="application/problem+json")


class Pool:
    """A fixed set of connections handed out through a queue (no reset queries)."""

    def __init__(self) -> None:
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(POOL_SIZE):
            self.idle.put_nowait(await self.connect())

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    async def fetch_one(self, sql: str, arg: Any) -> tuple[Any, ...] | None:
        conn = await self.idle.get()
        try:
            if SAME_READS:
                await conn.execute("BEGIN")
            try:
                return await self.fetch(conn, sql, arg)
            finally:
                if SAME_READS:
                    await conn.execute("ROLLBACK")
        finally:
            self.idle.put_nowait(conn)

    async def connect(self) -> Any:
        raise NotImplementedError

    async def fetch(self, conn: Any, sql: str, arg: Any) -> tuple[Any, ...] | None:
        raise NotImplementedError


class SqlitePool(Pool):
    async def connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(DB, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            await conn.execute(f"PRAGMA {pragma}")
        return conn

    async def fetch(self, conn: Any, sql: str, arg: Any) -> tuple[Any, ...] | None:
        async with conn.execute(sql.format(p="?"), (arg,)) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None


class PostgresPool(Pool):
    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(DB)

    async def fetch(self, conn: Any, sql: str, arg: Any) -> tuple[Any, ...] | None:
        row = await conn.fetchrow(sql.format(p="$1"), arg)
        return tuple(row) if row is not None else None


pool: Pool = SqlitePool() if KIND == "sqlite" else PostgresPool()


async def me(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _problem(401, "Sign in first.")
    hashed = hashlib.sha256(token.strip().encode()).digest()
    now = datetime.now(UTC)
    row = await pool.fetch_one(_QUERY, hashed)
    if row is None:
        return _problem(401, "The session token is unknown, revoked or expired.")
    uid, username, email, created, admin, deletion, expires, last_seen, two_factor = row
    expires_at, last_seen_at = _utc(expires) or now, _utc(last_seen) or now
    if expires_at <= now or last_seen_at + IDLE <= now:
        return _problem(401, "The session token is unknown, revoked or expired.")
    body = {
        "id": str(uid),
        "username": username,
        "email": email,
        "created_at": _rfc3339(_utc(created)),
        "is_admin": bool(admin),
        "two_factor_enabled": bool(two_factor),
        "deletion_scheduled_for": _rfc3339(_utc(deletion)),
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    await pool.open()
    try:
        yield
    finally:
        await pool.close()


app = Starlette(routes=[Route("/api/v1/me", me), Route("/healthz", healthz)], lifespan=lifespan)
