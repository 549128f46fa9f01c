"""Post creation throughput on one uvicorn worker, with concurrent clients.

For each database (SQLite, PostgreSQL) this starts Plaza on a fresh database under
uvicorn (1 worker, uvloop, httptools), signs up ``--users`` accounts through the API,
and drives ``POST /api/v1/posts`` with ``wrk`` (a Lua script rotating the accounts'
bearer tokens; each body is a different text with a hashtag, so the FTS index, the
safety classifier and the entity parser all work). Post creation is rate-limited per
user; the bench raises the limit (``PLAZA_POSTS_PER_HOUR``). Baselines in the same run:
- ``GET /healthz`` on the same server and connections (the HTTP floor);
- ``bare INSERT``: the raw driver inserting the same row, one transaction per row,
  from one connection in this process (the database's commit floor; SQLite runs with
  ``synchronous=FULL`` as Plaza does).

    .venv/bin/python -m bench.social_posts [--seconds 10] [--connections 16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import UTC, datetime

import asyncpg

from bench._common import (
    Server,
    backend,
    cores,
    exit_on_sigterm,
    free_port,
    pinned,
    plaza_env,
    sign_up_and_in,
    table,
    uvicorn_argv,
)
from bench._system import machine
from bench.social_timeline import lua_rotating, run_wrk

GOAL_RPS = 1500
_BODY = '{"text": "bench post number %d about #plaza and https://example.com"}'
_INSERT = (
    "INSERT INTO social_post (id, author_id, text, entities, reply_to_id, conversation_id, "
    "quote_of_id, media_ids, has_media, created_at, edited_at, deleted_at, like_count, "
    "repost_count, reply_count, quote_count) VALUES "
)


def bare_insert_sqlite(path: str, author_id: int, seconds: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        n += 1
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            _INSERT + "(?,?,?,?,NULL,?,NULL,'[]',0,?,NULL,NULL,0,0,0,0)",
            (10**15 + n, author_id, f"bare {n} #plaza", "{}", 10**15 + n, datetime.now(UTC)),
        )
        conn.execute("COMMIT")
    conn.close()
    return n / (time.perf_counter() - started)


async def bare_insert_pg(dsn: str, author_id: int, seconds: float) -> float:
    conn = await asyncpg.connect(dsn)
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        n += 1
        await conn.execute(
            _INSERT + "($1,$2,$3,'{}',NULL,$1,NULL,'[]',false,$4,NULL,NULL,0,0,0,0)",
            10**15 + n,
            author_id,
            f"bare {n} #plaza",
            datetime.now(UTC),
        )
    await conn.close()
    return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="16,64")
    args = parser.parse_args(argv)
    conns = [int(c) for c in args.connections.split(",")]
    print(machine(), flush=True)
    server_cpu, wrk_cpu = ("0", "1") if cores() >= 2 else (None, None)
    rows: list[list[object]] = []
    headers = ["db", "what", "conns", "per s", "p50 ms", "p99 ms", "errors"]
    for name in args.backends.split(","):
        with backend(name) as b:
            port = free_port()
            env = plaza_env(b, PLAZA_POSTS_PER_HOUR="100000000")
            argv_ = uvicorn_argv("plaza.app:app_from_environment", port, factory=True)
            with Server(pinned(server_cpu, argv_), env, port, "/healthz") as server:
                tokens = [
                    sign_up_and_in(server.base, f"poster{i}_{port}") for i in range(args.users)
                ]
                script = lua_rotating(tokens, "/api/v1/posts", method="POST", body=_BODY)
                for n in conns:
                    made = run_wrk(server.base, script, n, args.seconds, wrk_cpu)
                    health = run_wrk(server.base + "/healthz", None, n, args.seconds, wrk_cpu)
                    rows.append(
                        [name, "POST /api/v1/posts", n, made.rps, made.p50_ms, made.p99_ms,
                         made.errors]
                    )  # fmt: skip
                    rows.append(
                        [name, "GET /healthz", n, health.rps, health.p50_ms, health.p99_ms,
                         health.errors]
                    )  # fmt: skip
                    print(table(headers, rows[-2:]), flush=True)
            # The server is stopped: the bare baseline has the database to itself.
            author = _any_user(b.raw, name)
            if name == "sqlite":
                rate = bare_insert_sqlite(b.raw, author, 5)
            else:
                rate = asyncio.run(bare_insert_pg(b.raw, author, 5))
            rows.append([name, "bare INSERT (1 connection, 1 row per tx)", 1, rate, "", "", 0])
    print()
    print(table(headers, rows))
    print(f"goal: ≥ {GOAL_RPS} posts/s")


def _any_user(raw: str, name: str) -> int:
    if name == "sqlite":
        conn = sqlite3.connect(raw)
        (uid,) = conn.execute("SELECT id FROM identity_user LIMIT 1").fetchone()
        conn.close()
        return int(uid)

    async def fetch() -> int:
        pg = await asyncpg.connect(raw)
        try:
            return int(await pg.fetchval("SELECT id FROM identity_user LIMIT 1"))
        finally:
            await pg.close()

    return asyncio.run(fetch())


if __name__ == "__main__":
    main()
