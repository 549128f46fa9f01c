"""Search over posts and users: SQLite FTS5 or PostgreSQL full-text search.

The indexes are made by migration 0005: FTS5 external-content tables kept by
triggers on SQLite; GIN indexes on ``to_tsvector('simple', ...)`` on PostgreSQL,
queried with ``websearch_to_tsquery`` (which accepts any input). FTS5's own query
language would turn a stray quote or ``AND`` into a syntax error, so user input
never reaches it as syntax: it is cut into words, each quoted as a literal term.

Post results are newest first (cursor: the post id); user results are best match
first (cursor: an offset). Both honour blocks (either way) and mutes; posts of
private accounts appear only to the author and approved followers; deleted posts
never appear.
"""

from __future__ import annotations

from typing import Any

import regex  # type: ignore[import-untyped]  # no stubs are published for it
from sqlalchemy import ColumnElement, TextClause, literal_column, not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from plaza.core.db import Database
from plaza.social.models import SocialProfile
from plaza.social.models.posts import Post
from plaza.social.post_views import PostView, PostViews, Viewer, load_viewer
from plaza.social.profiles import Author, ProfileService

MAX_TERMS = 12
# Mirrors migration 0005's index expressions exactly, or PostgreSQL won't use them.
_PG_POST_TSV = "to_tsvector('simple', social_post.text)"
_PG_PROFILE_TSV = (
    "to_tsvector('simple', social_profile.username || ' ' || social_profile.display_name)"
)
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}_]+")


def terms(query: str) -> list[str]:
    """The words of a query (letters, marks, digits, underscores), at most MAX_TERMS."""
    words: list[str] = _WORD.findall(query)
    return words[:MAX_TERMS]


def fts5_query(query: str, *, prefix_last: bool = False) -> str | None:
    """A safe FTS5 MATCH expression: every word a quoted literal, all required."""
    words = terms(query)
    if not words:
        return None
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    if prefix_last:
        quoted[-1] += "*"
    return " ".join(quoted)


def _not_hidden(column: InstrumentedAttribute[int], viewer: Viewer) -> list[ColumnElement[bool]]:
    hidden = viewer.blocked | viewer.muted
    return [not_(column.in_(hidden))] if hidden else []


class SearchService:
    def __init__(self, *, db: Database, views: PostViews, profiles: ProfileService) -> None:
        self.db = db
        self.views = views
        self.profiles = profiles

    async def posts(
        self, query: str, viewer_id: int | None, *, before: int | None, limit: int
    ) -> tuple[list[PostView], int | None]:
        """Posts matching ``query``, newest first, as the viewer may see them."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            ids = await self._post_ids(session, query, viewer, before=before, limit=limit + 1)
            page = ids[:limit]
            posts = await self.views.posts_by_id(session, page)
        ordered = [posts[i] for i in page if i in posts]
        views, _ = await self.views.render(ordered, viewer, hide_sensitive=True)
        return views, (page[-1] if len(ids) > limit else None)

    async def _post_ids(
        self, session: AsyncSession, query: str, viewer: Viewer, *, before: int | None, limit: int
    ) -> list[int]:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            match = fts5_query(query)
            if match is None:
                return []
            condition: ColumnElement[bool] | TextClause = Post.id.in_(
                select(literal_column("rowid"))
                .select_from(text("social_post_fts"))
                .where(text("social_post_fts MATCH :match").bindparams(match=match))
            )
        else:
            if not terms(query):
                return []
            condition = text(f"{_PG_POST_TSV} @@ websearch_to_tsquery('simple', :q)").bindparams(
                q=query[:500]
            )
        # Private authors: only the viewer's own posts and those of accounts they follow.
        public = (
            ~select(SocialProfile.user_id)
            .where(SocialProfile.user_id == Post.author_id, SocialProfile.is_private.is_(True))
            .exists()
        )
        allowed = [public]
        if viewer.id is not None:
            allowed.append(Post.author_id.in_(viewer.following | {viewer.id}))
        statement = (
            select(Post.id)
            .where(condition, Post.deleted_at.is_(None), or_(*allowed))
            .where(*_not_hidden(Post.author_id, viewer))
            .order_by(Post.id.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(Post.id < before)
        return list((await session.scalars(statement)).all())

    async def users(
        self, query: str, viewer_id: int | None, *, offset: int, limit: int
    ) -> tuple[list[Author], int | None]:
        """Users whose username or display name matches ``query`` (the last word as a
        prefix, for typing), best match first; anyone blocked either way is left out.
        Private accounts are found (their profile is public, their posts are not)."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            ids = await self._user_ids(session, query, viewer, offset=offset, limit=limit + 1)
        page = ids[:limit]
        authors = await self.profiles.authors(page)
        found = [authors[i] for i in page if i in authors]
        return found, (offset + limit if len(ids) > limit else None)

    async def _user_ids(
        self, session: AsyncSession, query: str, viewer: Viewer, *, offset: int, limit: int
    ) -> list[int]:
        words = terms(query)
        if not words:
            return []
        exact = SocialProfile.username_key == "".join(words).lower()
        if session.get_bind().dialect.name == "sqlite":
            match = fts5_query(query, prefix_last=True)
            fts = (
                select(literal_column("rowid").label("user_id"), literal_column("rank"))
                .select_from(text("social_profile_fts"))
                .where(text("social_profile_fts MATCH :match").bindparams(match=match))
                .subquery()
            )
            statement = select(SocialProfile.user_id).join(
                fts, fts.c.user_id == SocialProfile.user_id
            )
            order: list[Any] = [exact.desc(), fts.c.rank, SocialProfile.user_id]
        else:
            tsquery = (
                " & ".join("'" + w.replace("'", "''").replace("\\", "") + "'" for w in words) + ":*"
            )
            matches = text(f"{_PG_PROFILE_TSV} @@ to_tsquery('simple', :tsq)").bindparams(
                tsq=tsquery
            )
            rank = text(f"ts_rank({_PG_PROFILE_TSV}, to_tsquery('simple', :tsq)) DESC").bindparams(
                tsq=tsquery
            )
            statement = select(SocialProfile.user_id).where(matches)
            order = [exact.desc(), rank, SocialProfile.user_id]
        hidden = viewer.blocked
        if hidden:
            statement = statement.where(not_(SocialProfile.user_id.in_(hidden)))
        statement = statement.order_by(*order).offset(offset).limit(limit)
        return list((await session.scalars(statement)).all())
