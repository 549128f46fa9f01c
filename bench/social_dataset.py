"""Generate a social dataset straight into a migrated Plaza database, with bulk inserts.

Users (``identity_user`` + ``social_profile``), a power-law follow graph
(``social_follow``) and posts (``social_post``; the FTS triggers index them on SQLite):
- followees are drawn with probability ∝ 1 / rank^``--alpha``, so a handful of accounts
  get tens of thousands of followers (the defaults give the top few ≥ 50,000);
- how many accounts a user follows is drawn from a heavy-tailed distribution too
  (median ≈ ``--follows``);
- authors of posts are drawn with a milder power law (some people post a lot);
- ids are Snowflakes minted for times spread over the last ``--days`` days.

Every account's password is ``bench._common.PASSWORD`` (one Argon2 hash, computed once).
SQLite gets ``executemany`` in one transaction; PostgreSQL gets ``COPY``.

    .venv/bin/python -m bench.social_dataset --url sqlite+aiosqlite:////tmp/social.db \
        [--users 100000 --posts 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from bench._common import PASSWORD
from plaza.core import migrations
from plaza.core.ids import EPOCH_MS, TIMESTAMP_SHIFT
from plaza.identity import PasswordHasher

WORDS = [
    "plaza",
    "morning",
    "coffee",
    "news",
    "music",
    "code",
    "python",
    "cats",
    "dogs",
    "football",
    "election",
    "weather",
    "travel",
    "photo",
    "video",
    "launch",
    "startup",
    "design",
    "open",
    "source",
    "today",
    "tomorrow",
    "great",
    "idea",
    "thread",
    "thoughts",
    "love",
    "hate",
    "city",
    "train",
    "bike",
    "summer",
    "winter",
    "book",
    "film",
    "game",
    "art",
    "science",
]
NODE = 7


@dataclass(frozen=True)
class Dataset:
    user_ids: list[int]
    usernames: list[str]
    follows: list[tuple[int, int]]  # (follower index, followee index)
    followers: list[int]
    following: list[int]
    posts_per_user: list[int]


def _snowflake(ms: int, seq: int) -> int:
    return ((ms - EPOCH_MS) << TIMESTAMP_SHIFT) | (NODE << 12) | (seq & 0xFFF)


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _draw(rng: random.Random, cumulative: list[float]) -> int:
    return bisect.bisect_left(cumulative, rng.random() * cumulative[-1])


def build_graph(users: int, follows: int, alpha: float, seed: int) -> Dataset:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    base_ms = int(base.timestamp() * 1000)
    user_ids = [_snowflake(base_ms + i, i) for i in range(users)]
    usernames = [f"u{i}" for i in range(users)]
    # Popularity: a random permutation of ranks, so popular accounts are spread over ids.
    ranks = list(range(1, users + 1))
    rng.shuffle(ranks)
    popularity = _cumulative([1.0 / (r**alpha) for r in ranks])
    edges: set[tuple[int, int]] = set()
    for follower in range(users):
        # Log-normal out-degree: median `follows`, a long tail of heavy followers.
        want = min(users - 1, max(1, int(rng.lognormvariate(0, 1.0) * follows)))
        attempts = 0
        mine = 0
        while mine < want and attempts < want * 3:
            attempts += 1
            followee = _draw(rng, popularity)
            if followee != follower and (follower, followee) not in edges:
                edges.add((follower, followee))
                mine += 1
    follow_list = sorted(edges)
    followers = [0] * users
    following = [0] * users
    for a, b in follow_list:
        following[a] += 1
        followers[b] += 1
    return Dataset(user_ids, usernames, follow_list, followers, following, [0] * users)


def post_rows(data: Dataset, posts: int, days: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """(id, author_id, text, created_at) in id order, spread over the last ``days``."""
    rng = random.Random(seed + 1)
    users = len(data.user_ids)
    activity = _cumulative([1.0 / ((r + 1) ** 0.8) for r in range(users)])
    order = list(range(users))
    rng.shuffle(order)
    end_ms = int(datetime.now(UTC).timestamp() * 1000) - 60_000
    start_ms = end_ms - days * 86_400_000
    step = (end_ms - start_ms) / posts
    for n in range(posts):
        ms = int(start_ms + n * step)
        author = order[_draw(rng, activity)]
        data.posts_per_user[author] += 1
        text = " ".join(rng.choices(WORDS, k=rng.randint(4, 16)))
        created = datetime.fromtimestamp(ms / 1000, UTC)
        yield (_snowflake(ms, n), data.user_ids[author], text, created)


async def _password_hash() -> str:
    return await PasswordHasher(
        memory_kib=19_456, time_cost=2, parallelism=1, max_concurrent=1
    ).hash(PASSWORD)


def _user_rows(data: Dataset, pw_hash: str) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC) - timedelta(days=400)
    for uid, name in zip(data.user_ids, data.usernames, strict=True):
        yield (uid, name, name, None, pw_hash, False, now, now, None)


def _profile_rows(data: Dataset) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC) - timedelta(days=400)
    for i, (uid, name) in enumerate(zip(data.user_ids, data.usernames, strict=True)):
        yield (
            uid, name, name, f"User {i}", "", "", None, None, None, None, False, False,
            data.followers[i], data.following[i], data.posts_per_user[i], 0, now,
        )  # fmt: skip


def _follow_rows(data: Dataset) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC) - timedelta(days=30)
    base_ms = int(now.timestamp() * 1000)
    for n, (a, b) in enumerate(data.follows):
        yield (_snowflake(base_ms + n // 4096, n), data.user_ids[a], data.user_ids[b], now)


_POST_COLUMNS = (
    "id, author_id, text, entities, reply_to_id, conversation_id, quote_of_id, media_ids, "
    "has_media, created_at, edited_at, deleted_at, like_count, repost_count, reply_count, "
    "quote_count"
)
_ENTITIES = orjson.dumps({"mentions": [], "hashtags": [], "urls": []}).decode()


def _full_post(row: tuple[Any, ...]) -> tuple[Any, ...]:
    pid, author, text, created = row
    return (pid, author, text, _ENTITIES, None, pid, None, "[]", False, created, None, None,
            0, 0, 0, 0)  # fmt: skip


def _sqlite_time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in row)


def load_sqlite(path: str, data: Dataset, posts: Iterator[tuple[Any, ...]], pw: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO identity_user VALUES (?,?,?,?,?,?,?,?,?)",
        (_sqlite_row(r) for r in _user_rows(data, pw)),
    )
    conn.executemany(
        "INSERT INTO social_follow (id, follower_id, followee_id, created_at) VALUES (?,?,?,?)",
        (_sqlite_row(r) for r in _follow_rows(data)),
    )
    conn.executemany(
        f"INSERT INTO social_post ({_POST_COLUMNS}) VALUES ({','.join('?' * 16)})",
        (_sqlite_row(_full_post(r)) for r in posts),
    )
    # Profiles last: the post counts are known once every post is drawn.
    conn.executemany(
        "INSERT INTO social_profile (user_id, username, username_key, display_name, bio, "
        "website, avatar_media_id, avatar_url, banner_media_id, banner_url, is_private, "
        "is_creator, followers_count, following_count, posts_count, notifications_read_id, "
        f"joined_at) VALUES ({','.join('?' * 17)})",
        (_sqlite_row(r) for r in _profile_rows(data)),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


async def load_postgres(dsn: str, data: Dataset, posts: Iterator[tuple[Any, ...]], pw: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "identity_user",
            records=list(_user_rows(data, pw)),
            columns=[
                "id", "username", "username_key", "email", "password_hash", "is_admin",
                "created_at", "password_changed_at", "deletion_scheduled_for",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "social_follow",
            records=list(_follow_rows(data)),
            columns=["id", "follower_id", "followee_id", "created_at"],
        )
        columns = [c.strip() for c in _POST_COLUMNS.split(",")]
        batch: list[tuple[Any, ...]] = []
        for row in posts:
            batch.append(_full_post(row))
            if len(batch) == 100_000:
                await conn.copy_records_to_table("social_post", records=batch, columns=columns)
                batch = []
        if batch:
            await conn.copy_records_to_table("social_post", records=batch, columns=columns)
        await conn.copy_records_to_table(
            "social_profile",
            records=list(_profile_rows(data)),
            columns=[
                "user_id", "username", "username_key", "display_name", "bio", "website",
                "avatar_media_id", "avatar_url", "banner_media_id", "banner_url", "is_private",
                "is_creator", "followers_count", "following_count", "posts_count",
                "notifications_read_id", "joined_at",
            ],
        )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def generate(
    url: str, *, users: int, posts: int, follows: int, alpha: float, days: int, seed: int
) -> Dataset:
    """Migrate ``url`` (an empty database) and fill it. Returns the dataset's shape."""
    started = time.monotonic()
    migrations.upgrade(url)
    data = build_graph(users, follows, alpha, seed)
    print(
        f"graph: {users:,} users, {len(data.follows):,} follows, top followers "
        f"{sorted(data.followers, reverse=True)[:5]} ({time.monotonic() - started:.0f}s)",
        flush=True,
    )
    pw = asyncio.run(_password_hash())
    rows = post_rows(data, posts, days, seed)
    if url.startswith("sqlite"):
        load_sqlite(url.split("///", 1)[1], data, rows, pw)
    else:
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        asyncio.run(load_postgres(dsn, data, rows, pw))
    print(f"loaded {posts:,} posts in {time.monotonic() - started:.0f}s total", flush=True)
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of an empty database")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--follows", type=int, default=12, help="median accounts followed")
    parser.add_argument("--alpha", type=float, default=1.0, help="popularity power law")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    generate(
        args.url,
        users=args.users,
        posts=args.posts,
        follows=args.follows,
        alpha=args.alpha,
        days=args.days,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
