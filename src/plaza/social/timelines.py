"""Timelines: home, profile tabs and threads.

Home is built by **fan-out on read** by default: the newest posts and reposts of the
people the viewer follows (and the viewer's own), read through the indexes
``social_post (author_id, id)`` and ``social_repost (user_id, id)`` and merged by
Snowflake id. Large deployments can turn on **fan-out on write**
(``PLAZA_TIMELINE_FANOUT=write``): each new post or repost is pushed into a Redis
list per follower (``TimelineCache``), except for authors with more than
``PLAZA_TIMELINE_CELEBRITY_THRESHOLD`` followers, whose entries are merged in at read
time from the database, as X does. Either way everything read is filtered at read
time (deleted, blocked, muted, unfollowed, private), so the cache never has to be
corrected when those change; it is only trimmed to a fixed length.

Cursors are the Snowflake id of the last entry (a post id, or a repost id for a
repost), so a page stays stable while new entries arrive at the head.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal

from redis.asyncio import Redis
from sqlalchemy import (
    BigInteger,
    Boolean,
    FromClause,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.db import Database, UTCDateTime
from plaza.core.errors import NotFound
from plaza.core.ids import id_timestamp, min_id_at
from plaza.social.models import Follow, SocialProfile
from plaza.social.models.posts import Post, Repost
from plaza.social.post_views import (
    Item,
    ItemView,
    PostView,
    PostViews,
    Viewer,
    can_see,
    dialect_name,
    load_viewer,
    one_of,
    private_ids,
)
from plaza.social.profiles import ProfileService

Tab = Literal["posts", "replies", "media"]
MAX_ANCESTORS = 100
_SQLITE_POST_COLUMNS = SimpleNamespace(
    id=literal_column("id", BigInteger),
    author_id=literal_column("author_id", BigInteger),
    created_at=literal_column("created_at", UTCDateTime()),
    deleted_at=literal_column("deleted_at", UTCDateTime()),
    reply_to_id=literal_column("reply_to_id", BigInteger),
    has_media=literal_column("has_media", Boolean),
)
# A many-author read looks this far back first, then widens (see _candidates), and reads
# without a floor once the window would pass LAST_WINDOW.
FIRST_WINDOW = timedelta(hours=1)
LAST_WINDOW = timedelta(days=60)
WINDOW_PROBES = 3
# Lua: for each follower's list that exists (is "warm"), add the entry and trim the
# list to its length. Lists of followers who have not read their timeline lately are
# left cold and rebuilt from the database on their next read.
_PUSH_LUA = """
local member = ARGV[1]
local keep = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', key, 0, member)
    redis.call('ZREMRANGEBYRANK', key, 0, -keep - 2)
  end
end
return 0
"""
# Marks a list as built even when it has no entries; sorts below every real entry.
_SENTINEL = "0" * 19 + ":s"


def _member(item: Item) -> str:
    # Zero-padded so that lexicographic order (ZREVRANGEBYLEX) is id order: sorted-set
    # scores are doubles and cannot hold a 64-bit id exactly.
    return f"{item.id:019d}:{item.kind[0]}:{item.post_id}:{item.actor_id}"


def _item(member: str) -> Item | None:
    parts = member.split(":")
    if len(parts) != 4:
        return None
    item_id = int(parts[0])
    return Item(
        id=item_id,
        kind="repost" if parts[1] == "r" else "post",
        post_id=int(parts[2]),
        actor_id=int(parts[3]),
        at=id_timestamp(item_id),
    )


class TimelineCache:
    """Per-user home timelines in Redis sorted sets (fan-out on write)."""

    def __init__(self, redis: Redis, prefix: str, *, size: int, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.size = size
        self.ttl = ttl_seconds
        self._push = redis.register_script(_PUSH_LUA)

    def key(self, user_id: int) -> str:
        return f"{self.prefix}:home:{user_id}"

    async def push(self, item: Item, user_ids: Collection[int], batch: int = 1000) -> None:
        ids = list(user_ids)
        for start in range(0, len(ids), batch):
            keys = [self.key(u) for u in ids[start : start + batch]]
            await self._push(keys=keys, args=[_member(item), self.size, self.ttl])

    async def read(self, user_id: int, before: int | None, count: int) -> list[Item] | None:
        """Up to ``count`` entries older than ``before``, newest first; None if cold."""
        key = self.key(user_id)
        upper = f"({before:019d}" if before is not None else "+"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.zrevrangebylex(key, upper, "-", start=0, num=count)
            pipe.expire(key, self.ttl)
            exists, members, _ = await pipe.execute()
        if not exists:
            return None
        items = (_item(m.decode() if isinstance(m, bytes) else m) for m in members)
        return [i for i in items if i is not None]

    async def fill(self, user_id: int, items: Sequence[Item]) -> None:
        key = self.key(user_id)
        mapping = {_member(i): 0 for i in items[: self.size]}
        mapping[_SENTINEL] = 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.zadd(key, mapping)
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def drop(self, user_id: int) -> None:
        await self.redis.delete(self.key(user_id))


@dataclass(frozen=True)
class Thread:
    ancestors: list[PostView]
    post: PostView
    replies: list[PostView]
    next_after: int | None


async def _candidates(
    session: AsyncSession,
    actor_ids: Collection[int],
    *,
    before: int | None,
    limit: int,
    reposts: bool = True,
    replies: bool = True,
    media_only: bool = False,
) -> list[Item]:
    """Up to ``limit`` newest entries (posts, and reposts if asked) by ``actor_ids``.

    One author is one backward range scan of ``(author_id, id)``. For many authors the
    database would read every post of every author and sort them (SQLite's plan for
    ``author_id IN (...) ORDER BY id DESC``), so the read is bounded by a time window
    below the cursor, widened by what the last one held (from an hour, at most three
    times, then without a floor) until it holds a full page: whatever lies in the
    window is newer than anything outside it."""
    if not actor_ids:
        return []
    actors = set(actor_ids)
    if len(actors) == 1:
        return await _window(session, actors, before, None, limit, reposts, replies, media_only)
    top = id_timestamp(before) if before is not None else datetime.now(UTC)
    width = FIRST_WINDOW
    for _ in range(WINDOW_PROBES):
        items = await _window(
            session, actors, before, min_id_at(top - width), limit, reposts, replies, media_only
        )
        if len(items) >= limit:
            return items
        # Widen to where a page should be, judging by how many entries this one held.
        width *= min(64.0, max(4.0, 2 * limit / max(len(items), 1)))
        if width > LAST_WINDOW:
            break
    return await _window(session, actors, before, None, limit, reposts, replies, media_only)


async def _window(
    session: AsyncSession,
    actors: set[int],
    before: int | None,
    floor: int | None,
    limit: int,
    reposts: bool,
    replies: bool,
    media_only: bool,
) -> list[Item]:
    only = next(iter(actors)) if len(actors) == 1 else None
    table: FromClause = Post.__table__
    c: Any = Post
    if only is None and dialect_name(session) == "sqlite":
        # With an id floor SQLite prefers scanning the primary key over the window
        # (every author's posts); one range seek per author in (author_id, id) reads
        # only the followed authors' posts. SQLAlchemy renders no SQLite index hints.
        table = text("social_post INDEXED BY ix_social_post_author_id_id")  # type: ignore[assignment]
        c = _SQLITE_POST_COLUMNS
    query = (
        select(c.id, c.author_id, c.created_at)
        .select_from(table)
        .where(
            c.author_id == only if only is not None else one_of(session, c.author_id, actors),
            c.deleted_at.is_(None),
        )
    )
    if before is not None:
        query = query.where(c.id < before)
    if floor is not None:
        query = query.where(c.id >= floor)
    if not replies:
        query = query.where(c.reply_to_id.is_(None))
    if media_only:
        query = query.where(c.has_media.is_(True))
    posts = (
        query.add_columns(c.id.label("post_id"), literal("p").label("kind"))
        .order_by(c.id.desc())
        .limit(limit)
    )
    if not reposts:
        rows = (await session.execute(posts)).all()
    else:
        rquery = select(
            Repost.id, Repost.user_id, Repost.created_at, Repost.post_id, literal("r")
        ).where(
            Repost.user_id == only if only is not None else one_of(session, Repost.user_id, actors)
        )
        if before is not None:
            rquery = rquery.where(Repost.id < before)
        if floor is not None:
            rquery = rquery.where(Repost.id >= floor)
        rquery = rquery.order_by(Repost.id.desc()).limit(limit)
        # One round trip for both: each side keeps its own ORDER BY ... LIMIT.
        both = union_all(select(posts.subquery()), select(rquery.subquery()))
        rows = sorted((await session.execute(both)).all(), key=lambda r: r[0], reverse=True)
    return [Item(r[0], "post" if r[4] == "p" else "repost", r[3], r[1], r[2]) for r in rows[:limit]]


class TimelineService:
    def __init__(
        self,
        *,
        db: Database,
        views: PostViews,
        profiles: ProfileService,
        cache: TimelineCache | None = None,
        celebrity_threshold: int = 10_000,
    ) -> None:
        self.db = db
        self.views = views
        self.profiles = profiles
        self.cache = cache
        self.celebrity_threshold = celebrity_threshold

    # ---- fan-out on write -----------------------------------------------------------

    async def fan_out(self, item_id: int, kind: str, post_id: int, actor_id: int) -> None:
        """Push a new entry into the cached home timelines of the actor's followers
        (and the actor's own). Celebrities' entries are not pushed: readers merge
        them in from the database."""
        if self.cache is None:
            return
        async with self.db.session(write=False) as session:
            followers_count = await session.scalar(
                select(SocialProfile.followers_count).where(SocialProfile.user_id == actor_id)
            )
            if (followers_count or 0) > self.celebrity_threshold:
                targets: set[int] = {actor_id}
            else:
                rows = await session.scalars(
                    select(Follow.follower_id).where(Follow.followee_id == actor_id)
                )
                targets = set(rows.all()) | {actor_id}
        await self.cache.push(Item(item_id, kind, post_id, actor_id), targets)

    async def _celebrities(self, session: AsyncSession, user_ids: Collection[int]) -> set[int]:
        if not user_ids:
            return set()
        rows = await session.scalars(
            select(SocialProfile.user_id).where(
                one_of(session, SocialProfile.user_id, set(user_ids)),
                SocialProfile.followers_count > self.celebrity_threshold,
            )
        )
        return set(rows.all())

    # ---- home -------------------------------------------------------------------------

    async def home(
        self, viewer_id: int, *, before: int | None, limit: int
    ) -> tuple[list[ItemView], int | None]:
        """The viewer's home timeline, newest first: posts and reposts of the people
        they follow and their own, without anyone blocked (either way) or muted, and
        without deleted posts. A post reposted by several people appears once per page,
        at its newest entry. Returns the entries and the next cursor (or None)."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            actors = (viewer.following - viewer.blocked - viewer.muted) | {viewer_id}
            if self.cache is None:
                items = await _candidates(session, actors, before=before, limit=limit + 1)
            else:
                items = await self._from_cache(session, viewer, actors, before, limit + 1)
            page = items[:limit]
            next_before = page[-1].id if len(items) > limit else None
            return await self.views.items(page, viewer, session=session), next_before

    async def _from_cache(
        self,
        session: AsyncSession,
        viewer: Viewer,
        actors: Collection[int],
        before: int | None,
        count: int,
    ) -> list[Item]:
        assert self.cache is not None
        assert viewer.id is not None
        celebrities = await self._celebrities(session, set(actors) - {viewer.id})
        cached = await self.cache.read(viewer.id, before, count)
        if cached is None:
            built = await _candidates(
                session, set(actors) - celebrities, before=None, limit=self.cache.size
            )
            await self.cache.fill(viewer.id, built)
            cached = [i for i in built if before is None or i.id < before][:count]
        merged = {i.id: i for i in cached if i.actor_id in actors}
        if celebrities:
            for i in await _candidates(session, celebrities, before=before, limit=count):
                merged[i.id] = i
        return sorted(merged.values(), key=lambda i: i.id, reverse=True)[:count]

    # ---- profiles -------------------------------------------------------------------

    async def profile(
        self, username: str, viewer_id: int | None, tab: Tab, *, before: int | None, limit: int
    ) -> tuple[list[ItemView], int | None]:
        """A profile tab: ``posts`` (posts and reposts, no replies), ``replies`` (posts
        with replies) or ``media``. NotFound across a block; a private account's tabs
        are empty for anyone but the owner and approved followers."""
        profile = await self.profiles.visible(username, viewer_id)
        author_id = profile.user_id
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            private = {author_id} if profile.is_private else set()
            if not can_see(viewer, author_id, private):
                return [], None
            items = await _candidates(
                session,
                [author_id],
                before=before,
                limit=limit + 1,
                reposts=tab == "posts",
                replies=tab != "posts",
                media_only=tab == "media",
            )
        page = items[:limit]
        next_before = page[-1].id if len(items) > limit else None
        return await self.views.items(page, viewer, include_hidden_authors=True), next_before

    # ---- threads --------------------------------------------------------------------

    async def thread(
        self, post_id: int, viewer_id: int | None, *, after: int | None, limit: int
    ) -> Thread:
        """A post with the chain of posts it replies to (root first; a deleted one shows
        as deleted, and the chain stops below one the viewer may not see) and a page
        of its replies, oldest first, without deleted replies or replies by people
        the viewer blocked (either way), muted or may not see."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            post = await session.get(Post, post_id)
            if post is None or post.deleted_at is not None:
                raise NotFound("No such post.")
            chain: list[Post] = []
            parent_id = post.reply_to_id
            while parent_id is not None and len(chain) < MAX_ANCESTORS:
                parent = await session.get(Post, parent_id)
                if parent is None:
                    break
                chain.append(parent)
                parent_id = parent.reply_to_id
            query = (
                select(Post)
                .where(Post.reply_to_id == post_id, Post.deleted_at.is_(None))
                .order_by(Post.id)
                .limit(limit + 1)
            )
            if after is not None:
                query = query.where(Post.id > after)
            replies = list((await session.scalars(query)).all())
            private = await private_ids(session, {p.author_id for p in [post, *chain]})
        if not can_see(viewer, post.author_id, private):
            raise NotFound("No such post.")
        visible_chain: list[Post] = []
        for parent in chain:
            if not can_see(viewer, parent.author_id, private):
                break
            visible_chain.append(parent)
        visible_chain.reverse()
        rendered, _ = await self.views.render([*visible_chain, post], viewer)
        by_id = {v.post.id: v for v in rendered}
        if post.id not in by_id:
            raise NotFound("No such post.")
        page = replies[:limit]
        shown = [r for r in page if not viewer.hides(r.author_id)]
        reply_views, _ = await self.views.render(shown, viewer, hide_sensitive=True)
        return Thread(
            ancestors=[by_id[p.id] for p in visible_chain if p.id in by_id],
            post=by_id[post.id],
            replies=reply_views,
            next_after=page[-1].id if len(replies) > limit else None,
        )
