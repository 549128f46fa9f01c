"""Profiles: social's own row per user (name, bio, pictures, flags, counters).

Social never reads identity's tables. Each user's ``social_profile`` row is created
when identity announces ``UserRegistered`` and, for accounts that predate social or
whose event has not been handled yet, on first use from ``IdentityService``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import InvalidInput, NotFound
from plaza.core.events import EventBus
from plaza.identity import IdentityService, UserRegistered
from plaza.media import MediaService
from plaza.premium import Entitlement, Entitlements
from plaza.social.models import Block, Follow, FollowRequest, SocialProfile

DISPLAY_NAME_MAX = 50
BIO_MAX = 160
WEBSITE_MAX = 200
# "javascript:...", "mailto:..." (but not "example.org:8080", a host and port).
_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")
AVATAR_SUBJECT = "profile_avatar"
BANNER_SUBJECT = "profile_banner"


def insert_ignoring_conflicts(session: AsyncSession, model: type[Any], **values: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for this session's database; a concurrent
    writer that inserted the same unique row first wins, and nobody fails."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).values(**values).on_conflict_do_nothing()


@dataclass(frozen=True)
class ProfileChanges:
    """What a PATCH of one's profile sets; ``fields`` names the ones the client sent
    (so that ``avatar_media_id: null`` removes the avatar and absence leaves it)."""

    fields: frozenset[str]
    display_name: str | None = None
    bio: str | None = None
    website: str | None = None
    avatar_media_id: int | None = None
    banner_media_id: int | None = None
    is_private: bool | None = None
    is_creator: bool | None = None


@dataclass(frozen=True)
class Author:
    """How a user appears next to what they did (posts, lists, notifications)."""

    id: int
    username: str
    display_name: str
    avatar_url: str | None
    verified: bool


def clean_text(value: str, field: str, max_length: int, *, multiline: bool = False) -> str:
    """Normalise (NFC), strip, and refuse control characters and over-long text."""
    value = unicodedata.normalize("NFC", value).strip()
    allowed = {"\n"} if multiline else set()
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise InvalidInput(field, "must not contain control characters")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    return value


def clean_website(value: str) -> str:
    """An http(s) URL, or "" to clear it. Other schemes (javascript:, data:) are refused
    because the profile page renders the website as a link."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > WEBSITE_MAX:
        raise InvalidInput("website", f"must be at most {WEBSITE_MAX} characters")
    if "://" not in value:
        if _OTHER_SCHEME.match(value):
            raise InvalidInput("website", "must be an http or https address")
        value = "https://" + value
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidInput("website", "is not a web address") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput("website", "must be an http or https address")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput("website", "must not contain spaces")
    return value


class ProfileService:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        clock: Clock,
        identity: IdentityService,
        media: MediaService,
        entitlements: Entitlements,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.identity = identity
        self.media = media
        self.entitlements = entitlements
        # The graph sets this once it exists: accepting pending requests when an
        # account goes public is a graph rule.
        self.on_made_public: Callable[[AsyncSession, int], Awaitable[int]] | None = None
        bus.subscribe(UserRegistered, self._on_user_registered)

    # ---- rows ---------------------------------------------------------------------

    async def _on_user_registered(self, event: UserRegistered) -> None:
        async with self.db.session() as session:
            await self._create(session, event.user_id)
            await session.commit()

    async def _create(self, session: AsyncSession, user_id: int) -> None:
        """Insert the user's row from identity, unless someone already did."""
        user = await self.identity.get_user(user_id)  # a read on its own connection
        await session.execute(
            insert_ignoring_conflicts(
                session,
                SocialProfile,
                user_id=user.id,
                username=user.username,
                username_key=user.username_key,
                display_name="",
                bio="",
                website="",
                is_private=False,
                is_creator=False,
                followers_count=0,
                following_count=0,
                posts_count=0,
                notifications_read_id=0,
                joined_at=user.created_at,
            )
        )

    async def ensure(self, session: AsyncSession, user_id: int) -> SocialProfile:
        """The user's profile row inside the caller's write session, created if missing.

        Raises ``NotFound`` if there is no such user."""
        row = await session.get(SocialProfile, user_id)
        if row is None:
            await self._create(session, user_id)
            row = await session.get(SocialProfile, user_id, populate_existing=True)
            assert row is not None
        return row

    async def get(self, user_id: int) -> SocialProfile:
        """The user's profile (created on first use); ``NotFound`` if no such user."""
        async with self.db.session(write=False) as session:
            row = await session.get(SocialProfile, user_id)
        if row is not None:
            return row
        async with self.db.session() as session:
            row = await self.ensure(session, user_id)
            await session.commit()
        return row

    async def by_username(self, username: str) -> SocialProfile:
        """The profile of ``username`` (any case); ``NotFound`` if there is no such user.
        Visibility is the caller's business (see ``visible``)."""
        key = username.lower()
        async with self.db.session(write=False) as session:
            row = await session.scalar(
                select(SocialProfile).where(SocialProfile.username_key == key)
            )
        if row is not None:
            return row
        user = await self.identity.find_user(username)
        if user is None:
            raise NotFound("No such user.")
        return await self.get(user.id)

    async def visible(self, username: str, viewer_id: int | None) -> SocialProfile:
        """The profile of ``username`` as ``viewer_id`` may see it: ``NotFound`` when the
        user does not exist or either of the two has blocked the other."""
        row = await self.by_username(username)
        if viewer_id is not None and viewer_id != row.user_id:
            async with self.db.session(write=False) as session:
                if await blocked_either_way(session, viewer_id, row.user_id):
                    raise NotFound("No such user.")
        return row

    # ---- counters -----------------------------------------------------------------

    async def adjust_counts(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        posts: int = 0,
        followers: int = 0,
        following: int = 0,
    ) -> None:
        """Add to the user's counters inside the caller's write session (the one that
        changes the counted rows, so that the counters commit or roll back with them).
        Increments are done by the database, so concurrent changes add up."""
        # Never below zero: two-argument max() on SQLite, GREATEST() on PostgreSQL.
        floor = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
        columns = {
            "posts_count": (SocialProfile.posts_count, posts),
            "followers_count": (SocialProfile.followers_count, followers),
            "following_count": (SocialProfile.following_count, following),
        }
        values = {name: floor(col + delta, 0) for name, (col, delta) in columns.items() if delta}
        if not values:
            return
        await self.ensure(session, user_id)
        await session.execute(
            update(SocialProfile)
            .where(SocialProfile.user_id == user_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    # ---- reading for display --------------------------------------------------------

    async def verified_ids(self, user_ids: Collection[int]) -> set[int]:
        """Who of ``user_ids`` shows the verified badge (the VERIFIED entitlement)."""
        if not user_ids:
            return set()
        return await self.entitlements.holders(user_ids, Entitlement.VERIFIED)

    async def authors(self, user_ids: Iterable[int]) -> dict[int, Author]:
        """How each user appears next to their posts and in lists. Users without a
        profile row yet are created; unknown ids are left out."""
        wanted = set(user_ids)
        if not wanted:
            return {}
        async with self.db.session(write=False) as session:
            rows = (
                await session.scalars(
                    select(SocialProfile).where(SocialProfile.user_id.in_(wanted))
                )
            ).all()
        found = {row.user_id: row for row in rows}
        for missing in wanted - found.keys():
            try:
                found[missing] = await self.get(missing)
            except NotFound:
                continue
        return await self.authors_of(found.values())

    async def authors_of(self, rows: Iterable[SocialProfile]) -> dict[int, Author]:
        rows = list(rows)
        verified = await self.verified_ids([r.user_id for r in rows])
        return {
            r.user_id: Author(
                id=r.user_id,
                username=r.username,
                display_name=r.display_name,
                avatar_url=r.avatar_url,
                verified=r.user_id in verified,
            )
            for r in rows
        }

    # ---- editing ------------------------------------------------------------------

    async def update(self, user_id: int, changes: ProfileChanges) -> tuple[SocialProfile, int]:
        """Apply the owner's changes. A new avatar or banner must be one of the owner's
        ready images; the one it replaces is released. Making an account public
        approves every pending follow request. Returns the profile and how many
        requests were approved that way."""
        sent = changes.fields
        approved = 0
        async with self.db.session() as session:
            await self.ensure(session, user_id)
            if "is_private" in sent and changes.is_private is False:
                # Going public turns requests into follows, which changes the requesters'
                # counters: lock their rows with the owner's, in id order like every
                # other graph change, so that no two transactions wait on each other.
                requesters = await session.scalars(
                    select(FollowRequest.requester_id).where(FollowRequest.target_id == user_id)
                )
                await session.execute(
                    select(SocialProfile.user_id)
                    .where(SocialProfile.user_id.in_([user_id, *requesters.all()]))
                    .order_by(SocialProfile.user_id)
                    .with_for_update()
                )
            locked = await session.get(
                SocialProfile, user_id, with_for_update=True, populate_existing=True
            )
            assert locked is not None
            row = locked
            if "display_name" in sent:
                row.display_name = clean_text(
                    changes.display_name or "", "display_name", DISPLAY_NAME_MAX
                )
            if "bio" in sent:
                row.bio = clean_text(changes.bio or "", "bio", BIO_MAX, multiline=True)
            if "website" in sent:
                row.website = clean_website(changes.website or "")
            if "is_creator" in sent and changes.is_creator is not None:
                row.is_creator = changes.is_creator
            if "avatar_media_id" in sent and changes.avatar_media_id != row.avatar_media_id:
                row.avatar_media_id, row.avatar_url = await self._picture(
                    session, user_id, changes.avatar_media_id, AVATAR_SUBJECT, "avatar_media_id"
                )
            if "banner_media_id" in sent and changes.banner_media_id != row.banner_media_id:
                row.banner_media_id, row.banner_url = await self._picture(
                    session, user_id, changes.banner_media_id, BANNER_SUBJECT, "banner_media_id"
                )
            if "is_private" in sent and changes.is_private is not None:
                going_public = row.is_private and not changes.is_private
                row.is_private = changes.is_private
                if going_public and self.on_made_public is not None:
                    await session.flush()
                    approved = await self.on_made_public(session, user_id)
                    await session.refresh(row)  # the counters changed in SQL
            await session.commit()
        return row, approved

    async def _picture(
        self,
        session: AsyncSession,
        user_id: int,
        media_id: int | None,
        subject: str,
        field: str,
    ) -> tuple[int | None, str | None]:
        # Release first: release() frees every media of the subject, the new one too
        # if it were attached already.
        await self.media.release(session, subject=subject, subject_id=user_id)
        if media_id is None:
            return None, None
        try:
            infos = await self.media.attach(
                session, owner_id=user_id, media_ids=[media_id], subject=subject, subject_id=user_id
            )
        except InvalidInput as exc:
            # Name the field the client sent, not media's own "media_ids".
            errors = exc.extra.get("errors") or [{"message": "is not usable"}]
            raise InvalidInput(field, errors[0]["message"]) from exc
        info = infos[0]
        if info.kind != "image":
            raise InvalidInput(field, "must be an image")
        return info.id, info.url

    async def recount(self, session: AsyncSession, user_ids: Collection[int] | None) -> None:
        """Recompute follower/following counters from the rows (all profiles when
        ``user_ids`` is None). Used after deletions that the database cascaded, which
        no counter update saw."""
        followers = (
            select(func.count())
            .select_from(Follow)
            .where(Follow.followee_id == SocialProfile.user_id)
            .scalar_subquery()
        )
        following = (
            select(func.count())
            .select_from(Follow)
            .where(Follow.follower_id == SocialProfile.user_id)
            .scalar_subquery()
        )
        statement = (
            update(SocialProfile)
            .where(
                (SocialProfile.followers_count != followers)
                | (SocialProfile.following_count != following)
            )
            .values(followers_count=followers, following_count=following)
            .execution_options(synchronize_session=False)
        )
        if user_ids is not None:
            statement = statement.where(SocialProfile.user_id.in_(user_ids))
        await session.execute(statement)


async def blocked_either_way(session: AsyncSession, a: int, b: int) -> bool:
    """Whether ``a`` blocked ``b`` or ``b`` blocked ``a``, read in ``session``."""
    found = await session.scalar(
        select(Block.id)
        .where(
            ((Block.blocker_id == a) & (Block.blocked_id == b))
            | ((Block.blocker_id == b) & (Block.blocked_id == a))
        )
        .limit(1)
    )
    return found is not None


async def pending_request(session: AsyncSession, requester_id: int, target_id: int) -> bool:
    found = await session.scalar(
        select(FollowRequest.id).where(
            FollowRequest.requester_id == requester_id, FollowRequest.target_id == target_id
        )
    )
    return found is not None


def not_blocked_with(
    viewer_id: int, user_column: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """SQL condition: no block between ``viewer_id`` and the user in ``user_column``."""
    return ~exists().where(
        or_(
            and_(Block.blocker_id == viewer_id, Block.blocked_id == user_column),
            and_(Block.blocker_id == user_column, Block.blocked_id == viewer_id),
        )
    )
