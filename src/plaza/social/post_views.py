"""Who may see which post, and posts as a given viewer sees them.

``Viewer`` is loaded once per request (one query): whom the viewer follows, blocked
(either way) and muted. ``PostViews.render`` turns post rows into ``PostView``s for
that viewer in a fixed number of queries whatever the page size: the quoted posts,
the authors' profiles and badges, the viewer's likes/reposts/bookmarks, the safety
labels and the media.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.db import Database
from plaza.media import MediaInfo, MediaService
from plaza.safety import Label, SafetyService, SensitiveMedia
from plaza.social.models import Block, Follow, Mute, SocialProfile
from plaza.social.models.posts import Bookmark, Like, Post, Repost
from plaza.social.profiles import Author, ProfileService

EMPTY_ENTITIES: dict[str, list[Any]] = {"mentions": [], "hashtags": [], "urls": []}


@dataclass(frozen=True)
class Viewer:
    """The signed-in user (or nobody) and their relations, for filtering."""

    id: int | None
    following: frozenset[int] = frozenset()
    blocked: frozenset[int] = frozenset()  # either way
    muted: frozenset[int] = frozenset()

    def hides(self, author_id: int) -> bool:
        """Blocked either way or muted: left out of timelines and search."""
        return author_id in self.blocked or author_id in self.muted


ANONYMOUS = Viewer(None)


def dialect_name(session: AsyncSession) -> str:
    """The session's database dialect; the engine it was made on, without resolving a bind
    per call (``get_bind`` costs a measurable share of a timeline read)."""
    bind = session.bind
    return bind.dialect.name if bind is not None else session.get_bind().dialect.name


def one_of(session: AsyncSession, column: Any, values: Collection[int]) -> ColumnElement[bool]:
    """``column IN values``. On PostgreSQL as ``= ANY(:array)``: one statement text
    whatever the number of values, so asyncpg prepares it once, not per list length."""
    if dialect_name(session) == "postgresql":
        return cast(
            ColumnElement[bool],
            column == any_(bindparam(None, list(values), type_=ARRAY(BigInteger))),
        )
    return cast(ColumnElement[bool], column.in_(values))


async def load_viewer(session: AsyncSession, user_id: int | None) -> Viewer:
    """The viewer's follows, blocks (both directions) and mutes, in one query."""
    if user_id is None:
        return ANONYMOUS
    rows = await session.execute(
        union_all(
            select(Follow.followee_id, literal("f")).where(Follow.follower_id == user_id),
            select(Block.blocked_id, literal("b")).where(Block.blocker_id == user_id),
            select(Block.blocker_id, literal("b")).where(Block.blocked_id == user_id),
            select(Mute.muted_id, literal("m")).where(Mute.muter_id == user_id),
        )
    )
    sets: dict[str, set[int]] = {"f": set(), "b": set(), "m": set()}
    for other, kind in rows:
        sets[kind].add(other)
    return Viewer(user_id, frozenset(sets["f"]), frozenset(sets["b"]), frozenset(sets["m"]))


async def private_ids(session: AsyncSession, user_ids: Collection[int]) -> set[int]:
    """Which of ``user_ids`` have a private account."""
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(SocialProfile.user_id).where(
            one_of(session, SocialProfile.user_id, set(user_ids)),
            SocialProfile.is_private.is_(True),
        )
    )
    return set(rows.all())


def can_see(viewer: Viewer, author_id: int, private: Collection[int]) -> bool:
    """The rule for seeing an author's posts: never across a block; a private account's
    posts only for the author and approved followers."""
    if viewer.id == author_id:
        return True
    if author_id in viewer.blocked:
        return False
    return author_id not in private or author_id in viewer.following


@dataclass
class PostView:
    """A post as one viewer sees it (the API's PostOut, before serialisation)."""

    post: Post
    author: Author
    quote: PostView | None = None
    quote_visible: bool = True
    media: list[MediaInfo] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    sensitive: bool = False
    media_warning: bool = False
    liked: bool = False
    reposted: bool = False
    bookmarked: bool = False
    signed_in: bool = False

    @property
    def deleted(self) -> bool:
        return self.post.deleted_at is not None


@dataclass(frozen=True)
class Item:
    """A timeline entry: a post, or a repost of one (``id`` is then the repost's)."""

    id: int
    kind: str  # "post" | "repost"
    post_id: int
    actor_id: int  # the author, or the reposter
    at: datetime | None = None


@dataclass(frozen=True)
class ItemView:
    id: int
    kind: str
    post: PostView
    reposted_by: Author | None
    at: datetime


class PostViews:
    def __init__(
        self,
        *,
        db: Database,
        profiles: ProfileService,
        media: MediaService,
        safety: SafetyService,
    ) -> None:
        self.db = db
        self.profiles = profiles
        self.media = media
        self.safety = safety

    async def viewer(self, user_id: int | None) -> Viewer:
        async with self.db.session(write=False) as session:
            return await load_viewer(session, user_id)

    async def posts_by_id(self, session: AsyncSession, ids: Collection[int]) -> dict[int, Post]:
        if not ids:
            return {}
        rows = await session.scalars(select(Post).where(one_of(session, Post.id, set(ids))))
        return {row.id: row for row in rows.all()}

    async def render(
        self,
        posts: Sequence[Post],
        viewer: Viewer,
        *,
        hide_sensitive: bool = False,
        extra_authors: Iterable[int] = (),
        session: AsyncSession | None = None,
    ) -> tuple[list[PostView], dict[int, Author]]:
        """``posts`` (in order) as ``viewer`` sees them, with their quoted posts.

        Posts the viewer may not see are left out; so are, with ``hide_sensitive`` and
        the viewer's HIDE preference, sensitive posts with media. Deleted posts are
        rendered as such (blank, ``deleted``): callers filter them where they must
        disappear. Also returns the authors of ``extra_authors`` (reposters). Reads in
        ``session`` when given (one transaction for a whole request), else in its own."""
        if session is None:
            async with self.db.session(write=False) as own:
                return await self.render(
                    posts,
                    viewer,
                    hide_sensitive=hide_sensitive,
                    extra_authors=extra_authors,
                    session=own,
                )
        quoted_ids = {p.quote_of_id for p in posts if p.quote_of_id is not None}
        quoted = await self.posts_by_id(session, quoted_ids - {p.id for p in posts})
        quoted.update({p.id: p for p in posts if p.id in quoted_ids})
        every = {p.id: p for p in posts} | quoted
        author_ids = {p.author_id for p in every.values()} | set(extra_authors)
        # The profile rows give both the private flags and what an author shows.
        profiles = (
            (
                await session.scalars(
                    select(SocialProfile).where(one_of(session, SocialProfile.user_id, author_ids))
                )
            ).all()
            if author_ids
            else []
        )
        private = {row.user_id for row in profiles if row.is_private}
        flags = await self._viewer_flags(session, viewer.id, every.keys())
        authors = await self.profiles.authors_of(profiles)
        missing = author_ids - authors.keys()
        if missing:  # users whose profile row is not made yet (made on first use)
            authors |= await self.profiles.authors(missing)
        visible_ids = [
            pid
            for pid, p in every.items()
            if can_see(viewer, p.author_id, private) and p.author_id in authors
        ]
        labels = await self.safety.labels_for("post", visible_ids) if visible_ids else {}
        preference = await self.safety.sensitive_media_preference(viewer.id)
        media_ids = {
            m for pid in visible_ids if every[pid].deleted_at is None for m in every[pid].media_ids
        }
        media = await self.media.describe(media_ids) if media_ids else {}

        def view(p: Post) -> PostView:
            post_labels = labels.get(p.id, [])
            infos = [media[m] for m in p.media_ids if m in media] if p.deleted_at is None else []
            sensitive = self.safety.is_sensitive(post_labels)
            return PostView(
                post=p,
                author=authors[p.author_id],
                media=infos,
                labels=post_labels,
                sensitive=sensitive,
                media_warning=sensitive and bool(infos) and preference == SensitiveMedia.WARN,
                liked=(p.id, "l") in flags,
                reposted=(p.id, "r") in flags,
                bookmarked=(p.id, "b") in flags,
                signed_in=viewer.id is not None,
            )

        visible = set(visible_ids)
        out: list[PostView] = []
        for p in posts:
            if p.id not in visible:
                continue
            pv = view(p)
            if hide_sensitive and preference == SensitiveMedia.HIDE and pv.sensitive and pv.media:
                continue
            if p.quote_of_id is not None:
                q = every.get(p.quote_of_id)
                if q is not None and q.id in visible:
                    pv.quote = view(q)
                else:
                    pv.quote_visible = False
            out.append(pv)
        return out, authors

    async def _viewer_flags(
        self, session: AsyncSession, user_id: int | None, post_ids: Collection[int]
    ) -> set[tuple[int, str]]:
        if user_id is None or not post_ids:
            return set()
        ids = set(post_ids)
        rows = await session.execute(
            union_all(
                select(Like.post_id, literal("l")).where(
                    Like.user_id == user_id, one_of(session, Like.post_id, ids)
                ),
                select(Repost.post_id, literal("r")).where(
                    Repost.user_id == user_id, one_of(session, Repost.post_id, ids)
                ),
                select(Bookmark.post_id, literal("b")).where(
                    Bookmark.user_id == user_id, one_of(session, Bookmark.post_id, ids)
                ),
            )
        )
        return {(post_id, kind) for post_id, kind in rows}

    async def items(
        self,
        items: Sequence[Item],
        viewer: Viewer,
        *,
        include_hidden_authors: bool = False,
        session: AsyncSession | None = None,
    ) -> list[ItemView]:
        """Timeline entries as ``viewer`` sees them. Left out: deleted posts, posts the
        viewer may not see, posts or reposts of authors the viewer blocked/muted
        (unless ``include_hidden_authors``, for someone's own profile), sensitive
        media under HIDE, and a post already shown higher on the same page (a post
        reposted by several people appears once, at its newest entry)."""
        if session is None:
            async with self.db.session(write=False) as own:
                return await self.items(
                    items, viewer, include_hidden_authors=include_hidden_authors, session=own
                )
        posts = await self.posts_by_id(session, {i.post_id for i in items})
        rows = [
            posts[i.post_id]
            for i in items
            if i.post_id in posts and posts[i.post_id].deleted_at is None
        ]
        unique = list({p.id: p for p in rows}.values())
        reposters = {i.actor_id for i in items if i.kind == "repost"}
        views, authors = await self.render(
            unique, viewer, hide_sensitive=True, extra_authors=reposters, session=session
        )
        by_id = {v.post.id: v for v in views}
        out: list[ItemView] = []
        seen: set[int] = set()
        for item in items:
            pv = by_id.get(item.post_id)
            if pv is None or item.post_id in seen:
                continue
            if not include_hidden_authors and (
                viewer.hides(pv.post.author_id) or viewer.hides(item.actor_id)
            ):
                continue
            reposter = authors.get(item.actor_id) if item.kind == "repost" else None
            if item.kind == "repost" and reposter is None:
                continue
            seen.add(item.post_id)
            out.append(
                ItemView(
                    id=item.id,
                    kind=item.kind,
                    post=pv,
                    reposted_by=reposter,
                    at=item.at or pv.post.created_at,
                )
            )
        return out
