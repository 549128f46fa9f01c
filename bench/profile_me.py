"""Where the CPU of ``GET /api/v1/me`` goes, in process (no HTTP server, no wrk).

Calls the ASGI apps directly on one event loop and reports, per request, the
main thread's CPU time (``time.thread_time``) and the number of Python function
calls (``cProfile``; a machine-independent measure of work), grouped by package:

- the bare baselines (``bench/baseline_app.py``), with and without Plaza's SQL;
- Plaza's ``/healthz`` (the middleware stack alone);
- Plaza's ``/me`` with ``IdentityService.authenticate`` stubbed out (FastAPI,
  dependency, response model: everything but the database);
- ``IdentityService.authenticate`` alone (the ORM lookup);
- Plaza's ``/me`` in full;
- SQLAlchemy alternatives for the same lookup, to size possible fixes.

    .venv/bin/python -m bench.profile_me [--backends sqlite,postgres] [-n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import functools
import importlib.util
import os
import pstats
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench._common import PASSWORD, backend, exit_on_sigterm, plaza_env, table

Case = Callable[[], Awaitable[Any]]
PACKAGES = ("sqlalchemy", "fastapi", "starlette", "pydantic", "aiosqlite", "asyncpg", "asyncio")


def _package(filename: str) -> str:
    if filename.startswith(("~", "<built-in")):
        return "C builtins"
    for name in PACKAGES:
        if f"/{name}/" in filename:
            return name
    return "plaza" if "/plaza/" in filename else "other"


async def asgi_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"GET {path} answered {status}")


async def measure(case: Case, n: int) -> tuple[float, float, str]:
    for _ in range(min(200, n)):
        await case()
    t0 = time.thread_time()
    for _ in range(n):
        await case()
    cpu_us = (time.thread_time() - t0) * 1e6 / n
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        await case()
    prof.disable()
    calls: collections.Counter[str] = collections.Counter()
    for (filename, _line, _func), (_cc, ncalls, *_rest) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        calls[_package(filename)] += ncalls
    top = ", ".join(f"{k} {v / n:.0f}" for k, v in calls.most_common(5))
    return cpu_us, sum(calls.values()) / n, top


def lookup_variants(plaza: Any, token: str, plain: AsyncEngine) -> dict[str, Case]:
    """The same session lookup written in other ways (to size fixes, not used by Plaza)."""
    from plaza.identity.models import AuthSession, Passkey, TotpFactor, User
    from plaza.identity.tokens import token_hash

    totp = select(TotpFactor.user_id).where(
        TotpFactor.user_id == User.id, TotpFactor.confirmed_at.is_not(None)
    )
    two_factor = totp.exists() | select(Passkey.id).where(Passkey.user_id == User.id).exists()
    where = (AuthSession.token_hash == bindparam("h"), AuthSession.revoked_at.is_(None))
    join = (User, User.id == AuthSession.user_id)
    orm = select(AuthSession, User, two_factor).join(*join).where(*where)
    columns = [User.id, User.username, User.email, User.created_at, User.is_admin,
               User.deletion_scheduled_for, AuthSession.id, AuthSession.expires_at,
               AuthSession.last_seen_at]  # fmt: skip
    core = select(*columns, two_factor).join(*join).where(*where)
    hashed = {"h": token_hash(token)}
    db = plaza.db

    async def orm_prebuilt() -> Any:
        async with db.session(write=False) as s:
            return (await s.execute(orm, hashed)).first()

    async def core_session() -> Any:
        async with db.session(write=False) as s:
            return (await s.execute(core, hashed)).first()

    async def core_connection() -> Any:
        async with db.read_engine.connect() as c:
            return (await c.execute(core, hashed)).first()

    async def core_plain_engine() -> Any:
        async with plain.connect() as c:
            return (await c.execute(core, hashed)).first()

    # ``plain`` has default settings: on SQLite no explicit BEGIN, on PostgreSQL no pre-ping.
    return {
        "lookup: ORM, statement built once": orm_prebuilt,
        "lookup: Core columns, ORM session": core_session,
        "lookup: Core columns, engine connection": core_connection,
        "lookup: Core, plain engine (no BEGIN / pre-ping)": core_plain_engine,
    }


async def run(args: argparse.Namespace) -> list[list[object]]:
    rows: list[list[object]] = []
    with backend(args.backend) as b:
        os.environ.update(plaza_env(b))
        from plaza.app import app_from_environment

        app = app_from_environment()
        plaza = app.state.plaza
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                body = {"username": "benchuser", "password": PASSWORD}
                (await c.post("/api/v1/accounts", json=body)).raise_for_status()
                token = (await c.post("/api/v1/sessions", json=body)).json()["token"]
            headers = [(b"host", b"t"), (b"authorization", f"Bearer {token}".encode())]
            cases: dict[str, Case] = {}
            pools: list[Any] = []
            for label, same in (("bare /me", "0"), ("bare+tx /me (Plaza's SQL)", "1")):
                os.environ.update(BENCH_DB_KIND=args.backend, BENCH_DB=b.raw,
                                  BENCH_SAME_READS=same)  # fmt: skip
                mod = _load_baseline(f"baseline_{same}")
                await mod.pool.open()
                pools.append(mod.pool)
                cases[label] = functools.partial(asgi_get, mod.app, "/api/v1/me", headers)
            principal = await plaza.identity.authenticate(token)
            real = plaza.identity.authenticate

            async def stub(_token: str, **_kw: Any) -> Any:
                return principal

            async def me_stubbed() -> None:
                plaza.identity.authenticate = stub
                try:
                    await asgi_get(app, "/api/v1/me", headers)
                finally:
                    plaza.identity.authenticate = real

            cases["plaza /healthz"] = lambda: asgi_get(app, "/healthz", headers)
            cases["plaza /me, authenticate() stubbed"] = me_stubbed
            cases["plaza authenticate() alone"] = lambda: real(token)
            cases["plaza /me"] = lambda: asgi_get(app, "/api/v1/me", headers)
            plain = create_async_engine(b.url)
            cases.update(lookup_variants(plaza, token, plain))
            try:
                for label, case in cases.items():
                    cpu_us, calls, top = await measure(case, args.n)
                    rows.append([label, round(cpu_us), round(calls), top])
            finally:
                await plain.dispose()
                for pool in pools:
                    await pool.close()
    return rows


def _load_baseline(name: str) -> Any:
    """A separate copy of bench/baseline_app.py (it reads its settings at import)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("baseline_app.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="CPU and call counts of GET /api/v1/me")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("-n", type=int, default=1000, help="requests per case")
    args = p.parse_args(argv)
    for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
        args.backend = name
        rows = asyncio.run(run(args))
        print(f"profile_me on {name}: per request, in process, {args.n} calls per case")
        print(table(["case", "main-thread CPU us", "function calls", "calls by package"], rows))
        print()


if __name__ == "__main__":
    exit_on_sigterm()
    main()
