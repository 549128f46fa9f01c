"""HTTP idempotency keys with Stripe's semantics.

A client sends ``Idempotency-Key`` with a request that must not happen twice (moving
money, sending a message). The first request with a key claims it and runs; its
response (2xx and 4xx alike) is stored under (scope, key) and every replay gets the
same status and body back. The same key with other parameters is a 422 naming
``Idempotency-Key``; a replay while the first is still running is a 409. Server errors
and exceptions store nothing: the key is released and the request can be retried.
Keys are kept ``ttl`` (at least 24 hours) and then swept.

The claim is an ``INSERT`` guarded by the primary key (scope, key), so it holds across
processes on SQLite and PostgreSQL alike. A claim carries a lease: if the process
running the request dies, another may take the key over once the lease has passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Index, Integer, LargeBinary, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from starlette.responses import Response

from plaza.core.clock import Clock
from plaza.core.db import Base, Database, UTCDateTime
from plaza.core.errors import PROBLEM_TYPE_BASE, Conflict, DomainError, InvalidInput, RateLimited

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
Handler = Callable[[], Awaitable[tuple[int, Any]]]


class IdempotencyKey(Base):
    """A claimed key and, once the request finished, its stored response."""

    __tablename__ = "core_idempotency_key"
    __table_args__ = (Index("ix_core_idempotency_key_created_at", "created_at"),)

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)  # None while the request runs
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


_K = cast(Table, IdempotencyKey.__table__)


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests "the same parameters": method, path and the body in a
    canonical form (sorted keys), hashed."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(f"{method.upper()} {path}\n".encode() + canonical).hexdigest()


def check_key(key: str) -> None:
    """A key is 1 to 255 printable ASCII characters; anything else is a 422."""
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(HEADER, f"must be 1 to {MAX_KEY_LENGTH} characters")
    if not all(" " <= ch <= "~" for ch in key):
        raise InvalidInput(HEADER, "must be printable ASCII")


def problem_body(exc: DomainError) -> dict[str, Any]:
    """The problem document a domain error becomes (as ``core.errors`` renders it)."""
    return {
        "type": PROBLEM_TYPE_BASE + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        **exc.extra,
    }


def idempotent_response(status: int, body: Any, replayed: bool) -> Response:
    """The HTTP response for a ``run`` outcome; replays say so in a header (as Stripe's
    ``Idempotent-Replayed``)."""
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json" if status >= 400 else "application/json",
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )


class IdempotencyStore:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(hours=24),
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._db = db
        self._clock = clock
        self.ttl = ttl
        self.lease = lease

    async def run(
        self, key: str, *, scope: str, fingerprint: str, handler: Handler
    ) -> tuple[int, Any, bool]:
        """Run ``handler`` once per (scope, key) and return (status, body, replayed).

        - a replay of a finished request returns its stored status and body, replayed=True;
        - the same key with another ``fingerprint`` raises ``InvalidInput`` (422);
        - a key whose first request is still running raises ``Conflict`` (409);
        - a ``DomainError`` below 500 raised by the handler is stored and returned as its
          problem document (so replays see it too); 429s, 5xx and other exceptions
          release the key and propagate.
        """
        check_key(key)
        for _ in range(5):
            now = self._clock.now()
            if await self._claim(scope, key, fingerprint, now):
                break
            row = await self._read(scope, key)
            if row is None:
                continue  # swept or released meanwhile: claim again
            stored_fp, status, body, created_at, locked_until = row
            if created_at <= now - self.ttl:
                await self._delete(scope, key, created_at)
                continue
            if stored_fp != fingerprint:
                raise InvalidInput(HEADER, "was already used with different request parameters")
            if status is not None:
                return status, orjson.loads(body or b"null"), True
            if locked_until is not None and locked_until > now:
                raise Conflict(f"A request with this {HEADER} is still being processed.")
            if await self._take_over(scope, key, locked_until, now):
                break  # the process that held it died; its lease passed
        else:
            raise Conflict(f"A request with this {HEADER} is still being processed.")
        try:
            status, body = await handler()
        except DomainError as exc:
            if exc.status >= 500 or isinstance(exc, RateLimited):
                await self._release(scope, key)
                raise
            status, body = exc.status, problem_body(exc)
        except BaseException:
            await self._release(scope, key)
            raise
        if status >= 500:
            await self._release(scope, key)
        else:
            await self._finish(scope, key, status, body)
        return status, body, False

    async def sweep(self) -> int:
        """Delete keys older than the TTL (the periodic job); returns how many."""
        async with self._db.session() as session:
            result = await session.execute(
                delete(_K).where(_K.c.created_at <= self._clock.now() - self.ttl)
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    # -- storage ---------------------------------------------------------------------

    async def _claim(self, scope: str, key: str, fp: str, now: datetime) -> bool:
        insert = sqlite.insert if self._db.is_sqlite else postgresql.insert
        statement = (
            insert(_K)
            .values(
                scope=scope,
                key=key,
                fingerprint=fp,
                status=None,
                body=None,
                created_at=now,
                locked_until=now + self.lease,
            )
            .on_conflict_do_nothing()
        )
        async with self._db.session() as session:
            result = await session.execute(statement)
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def _read(self, scope: str, key: str) -> Any:
        async with self._db.session(write=False) as session:
            return (
                await session.execute(
                    select(
                        _K.c.fingerprint,
                        _K.c.status,
                        _K.c.body,
                        _K.c.created_at,
                        _K.c.locked_until,
                    ).where(_K.c.scope == scope, _K.c.key == key)
                )
            ).first()

    async def _take_over(
        self, scope: str, key: str, locked_until: datetime | None, now: datetime
    ) -> bool:
        async with self._db.session() as session:
            result = await session.execute(
                update(_K)
                .where(
                    _K.c.scope == scope,
                    _K.c.key == key,
                    _K.c.status.is_(None),
                    _K.c.locked_until == locked_until,
                )
                .values(locked_until=now + self.lease)
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def _delete(self, scope: str, key: str, created_at: datetime) -> None:
        async with self._db.session() as session:
            await session.execute(
                delete(_K).where(
                    _K.c.scope == scope, _K.c.key == key, _K.c.created_at == created_at
                )
            )
            await session.commit()

    async def _release(self, scope: str, key: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                delete(_K).where(_K.c.scope == scope, _K.c.key == key, _K.c.status.is_(None))
            )
            await session.commit()

    async def _finish(self, scope: str, key: str, status: int, body: Any) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(_K)
                .where(_K.c.scope == scope, _K.c.key == key)
                .values(status=status, body=orjson.dumps(body), locked_until=None)
            )
            await session.commit()
