"""First page of the home timeline on one uvicorn worker, over a generated dataset.

The database is one made by ``bench.social_dataset`` (100k users, 1M posts, power-law
follows); pass its URL. This starts Plaza under uvicorn (1 worker, uvloop, httptools,
as ``bench.me_read``), signs in ``--readers`` random users through the API, and drives
``GET /api/v1/timelines/home?limit=20`` with ``wrk`` (a Lua script rotating the readers'
bearer tokens), over one connection (latency) and several (throughput). Baselines in
the same run:
- ``healthz``: ``GET /healthz`` on the same server and connections: the HTTP and
  framework floor;
- ``bare SQL``: the two fan-out-on-read statements (posts and reposts of the followees,
  newest 21) run with the raw driver from this process for the same readers, one at a
  time: the database floor of one page.
With ``--redis URL`` it also runs Plaza with ``PLAZA_TIMELINE_FANOUT=write``.

    .venv/bin/python -m bench.social_timeline --url sqlite+aiosqlite:////tmp/social.db \
        [--readers 200] [--seconds 10] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench._common import (
    PASSWORD,
    Backend,
    Server,
    WrkResult,
    _ms,
    cores,
    exit_on_sigterm,
    free_port,
    pinned,
    plaza_env,
    table,
    uvicorn_argv,
    wrk,
)
from bench._system import machine

GOAL_P99_MS = 25.0


def sign_in(base: str, usernames: list[str]) -> list[str]:
    tokens = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for name in usernames:
            r = c.post("/api/v1/sessions", json={"username": name, "password": PASSWORD})
            r.raise_for_status()
            tokens.append(str(r.json()["token"]))
    return tokens


def lua_rotating(tokens: list[str], path: str, method: str = "GET", body: str = "") -> Path:
    """A wrk script sending ``method path`` with each request's token taken in turn."""
    listed = ",".join(f'"{t}"' for t in tokens)
    script = f"""
tokens = {{{listed}}}
counter = 0
request = function()
  counter = counter + 1
  local headers = {{}}
  headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  headers["Content-Type"] = "application/json"
  local body = nil
  if "{method}" == "POST" then body = string.format('{body}', counter) end
  return wrk.format("{method}", "{path}", headers, body)
end
"""
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    handle.write(script)
    handle.close()
    return Path(handle.name)


def run_wrk(url: str, script: Path | None, conns: int, seconds: int, cpus: str | None) -> WrkResult:
    """``wrk`` over ``conns`` connections (one thread), with the Lua script if given."""
    if script is None:
        return wrk(url, threads=1, connections=conns, seconds=seconds, headers={}, cpus=cpus)
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(
        pinned(cpus, argv), capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> WrkResult:
    def find(pattern: str) -> str:
        found = re.search(pattern, out)
        if found is None:
            raise RuntimeError(f"unexpected wrk output:\n{out}")
        return found.group(1)

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(
        rps=float(find(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=_ms(find(r"\s50%\s+(\S+)")),
        p99_ms=_ms(find(r"\s99%\s+(\S+)")),
        requests=int(find(r"(\d+) requests in")),
        errors=int(non2xx.group(1)) if non2xx else 0,
    )


_POSTS_SQL = (
    "SELECT id, author_id FROM social_post WHERE author_id IN ({ids}) AND deleted_at IS NULL "
    "ORDER BY id DESC LIMIT 21"
)
_REPOSTS_SQL = (
    "SELECT id, post_id, user_id FROM social_repost WHERE user_id IN ({ids}) "
    "ORDER BY id DESC LIMIT 21"
)


async def bare_sql(url: str, user_ids: list[int]) -> tuple[float, float]:
    """p50/p99 ms of the follow lookup + the two timeline statements, raw driver."""
    timings: list[float] = []
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1])
        for _ in range(3):
            for uid in user_ids:
                t = time.perf_counter()
                rows = conn.execute(
                    "SELECT followee_id FROM social_follow WHERE follower_id = ?", (uid,)
                ).fetchall()
                ids = ",".join(str(r[0]) for r in rows) + f",{uid}"
                conn.execute(_POSTS_SQL.format(ids=ids)).fetchall()
                conn.execute(_REPOSTS_SQL.format(ids=ids)).fetchall()
                timings.append((time.perf_counter() - t) * 1000)
        conn.close()
    else:
        pg = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        for _ in range(3):
            for uid in user_ids:
                t = time.perf_counter()
                rows = await pg.fetch(
                    "SELECT followee_id FROM social_follow WHERE follower_id = $1", uid
                )
                ids = [r[0] for r in rows] + [uid]
                await pg.fetch(_POSTS_SQL.format(ids="SELECT unnest($1::bigint[])"), ids)
                await pg.fetch(_REPOSTS_SQL.format(ids="SELECT unnest($1::bigint[])"), ids)
                timings.append((time.perf_counter() - t) * 1000)
        await pg.close()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def reader_sample(url: str, readers: int, seed: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1])
        rows = conn.execute(
            "SELECT user_id, username, following_count FROM social_profile"
        ).fetchall()
        conn.close()
    else:

        async def fetch() -> list[Any]:
            pg = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                return list(
                    await pg.fetch("SELECT user_id, username, following_count FROM social_profile")
                )
            finally:
                await pg.close()

        rows = asyncio.run(fetch())
    chosen = rng.sample(list(rows), readers)
    return [r[1] for r in chosen], [int(r[0]) for r in chosen]


def main(argv: list[str] | None = None) -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a database made by bench.social_dataset")
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--redis", default=None, help="also run with fan-out on write")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    conns = [int(c) for c in args.connections.split(",")]
    print(machine(), flush=True)
    usernames, user_ids = reader_sample(args.url, args.readers, args.seed)
    backend_name = "sqlite" if args.url.startswith("sqlite") else "postgres"
    rows: list[list[object]] = []
    server_cpu, wrk_cpu = ("0", "1") if cores() >= 2 else (None, None)
    modes = [("read", {})]
    if args.redis:
        modes.append(
            (
                "write",
                {
                    "PLAZA_TIMELINE_FANOUT": "write",
                    "PLAZA_REDIS_URL": args.redis,
                    "PLAZA_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
                },
            )
        )
    with tempfile.TemporaryDirectory(prefix="plaza-bench-timeline-") as tmp:
        b = Backend(backend_name, args.url, args.url, Path(tmp))
        for mode, extra in modes:
            port = free_port()
            env = plaza_env(b, PLAZA_AUTO_MIGRATE="false", **extra)
            argv_ = pinned(
                server_cpu, uvicorn_argv("plaza.app:app_from_environment", port, factory=True)
            )
            with Server(argv_, env, port, "/healthz") as server:
                tokens = sign_in(server.base, usernames)
                script = lua_rotating(tokens, "/api/v1/timelines/home?limit=20")
                # Warm-up: every reader once (and, with fan-out on write, their lists).
                with httpx.Client(base_url=server.base, timeout=60) as c:
                    for t in tokens:
                        r = c.get(
                            "/api/v1/timelines/home", headers={"Authorization": f"Bearer {t}"}
                        )
                        r.raise_for_status()
                for n in conns:
                    home: WrkResult = run_wrk(server.base, script, n, args.seconds, wrk_cpu)
                    health: WrkResult = run_wrk(
                        server.base + "/healthz", None, n, args.seconds, wrk_cpu
                    )
                    rows.append([backend_name, f"home (fan-out on {mode})", n, home.rps,
                                 home.p50_ms, home.p99_ms, home.errors])  # fmt: skip
                    rows.append([backend_name, "GET /healthz", n, health.rps, health.p50_ms,
                                 health.p99_ms, health.errors])  # fmt: skip
                    print(
                        table(
                            ["db", "endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors"],
                            rows[-2:],
                        ),
                        flush=True,
                    )
    p50, p99 = asyncio.run(bare_sql(args.url, user_ids))
    rows.append([backend_name, "bare SQL (follows + 2 statements)", 1, "", p50, p99, 0])
    print()
    print(table(["db", "endpoint", "conns", "req/s", "p50 ms", "p99 ms", "errors"], rows))
    print(f"goal: home p99 < {GOAL_P99_MS} ms on one connection")


if __name__ == "__main__":
    main()
