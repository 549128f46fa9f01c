"""Posts: publishing (replies, quotes, media, labels, mentions), editing, deleting,
likes, reposts and bookmarks.

Each public method is one unit of work that commits before it returns. Everything
that only reads (visibility of a parent, who a mention names, entitlements) is
checked before the write transaction opens, so that SQLite's write lock is held
only for the writes; the rules are checked again inside where a race would matter
(the parent being deleted meanwhile).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import Forbidden, InvalidInput, NotFound
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter, enforce
from plaza.media import MediaInfo, MediaService
from plaza.premium import Entitlement, Entitlements
from plaza.safety import SafetyService, SensitiveMedia
from plaza.social import text as post_text
from plaza.social.events import PostDeleted, PostPublished
from plaza.social.models import SocialProfile
from plaza.social.models.posts import Bookmark, Like, Post, PostEdit, Repost
from plaza.social.notifications import Notifications
from plaza.social.post_views import (
    EMPTY_ENTITIES,
    PostView,
    PostViews,
    Viewer,
    can_see,
    load_viewer,
    private_ids,
)
from plaza.social.profiles import ProfileService, insert_ignoring_conflicts

MAX_IMAGES = 4
MAX_VIDEOS = 1


@dataclass(frozen=True)
class PostPolicy:
    create_rate: Rate
    edit_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class NewPost:
    text: str
    media_ids: Sequence[int] = ()
    reply_to: int | None = None
    quote_of: int | None = None
    labels: Sequence[str] = ()


# Called after a commit that added a timeline entry (fan-out on write, if configured):
# (item id, kind "post" | "repost", post id, actor id).
Fanout = Callable[[int, str, int, int], Awaitable[None]]


class PostService:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        clock: Clock,
        ids: SnowflakeGenerator,
        limiter: RateLimiter,
        profiles: ProfileService,
        notifications: Notifications,
        media: MediaService,
        safety: SafetyService,
        entitlements: Entitlements,
        views: PostViews,
        policy: PostPolicy,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.ids = ids
        self.limiter = limiter
        self.profiles = profiles
        self.notifications = notifications
        self.media = media
        self.safety = safety
        self.entitlements = entitlements
        self.views = views
        self.policy = policy
        self.fanout: Fanout | None = None
        safety.register_subject("post", self.resolve_for_report)

    # ---- reading --------------------------------------------------------------------

    async def _visible_post(
        self, session: AsyncSession, viewer: Viewer, post_id: int, *, allow_deleted: bool = False
    ) -> Post:
        """The post if it exists, is not deleted and ``viewer`` may see it; else NotFound."""
        post = await session.get(Post, post_id)
        if post is None or (post.deleted_at is not None and not allow_deleted):
            raise NotFound("No such post.")
        private = await private_ids(session, [post.author_id])
        if not can_see(viewer, post.author_id, private):
            raise NotFound("No such post.")
        return post

    async def get(self, post_id: int, viewer_id: int | None) -> PostView:
        """One post as the viewer sees it; NotFound if deleted or not visible to them."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            post = await self._visible_post(session, viewer, post_id)
        views, _ = await self.views.render([post], viewer)
        if not views:
            raise NotFound("No such post.")
        return views[0]

    async def resolve_for_report(self, viewer_id: int, subject_id: int) -> int | None:
        """Safety's subject resolver: the author's id when the viewer may see the post."""
        try:
            async with self.db.session(write=False) as session:
                viewer = await load_viewer(session, viewer_id)
                post = await self._visible_post(session, viewer, subject_id)
        except NotFound:
            return None
        return post.author_id

    async def edits(self, post_id: int, viewer_id: int | None) -> list[PostEdit]:
        """Earlier versions of a post the viewer may see, newest first."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, viewer_id)
            await self._visible_post(session, viewer, post_id)
            rows = await session.scalars(
                select(PostEdit).where(PostEdit.post_id == post_id).order_by(PostEdit.id.desc())
            )
            return list(rows.all())

    # ---- publishing -----------------------------------------------------------------

    async def _check_length(self, author_id: int, parsed: post_text.ParsedText) -> None:
        if parsed.weighted_length <= post_text.MAX_LENGTH:
            return
        if parsed.weighted_length > post_text.LONG_MAX_LENGTH:
            raise InvalidInput("text", f"must be at most {post_text.LONG_MAX_LENGTH} characters")
        if not await self.entitlements.has(author_id, Entitlement.LONG_POSTS):
            raise InvalidInput(
                "text",
                f"must be at most {post_text.MAX_LENGTH} characters "
                f"(longer posts come with Premium)",
            )

    async def _mentioned_ids(self, session: AsyncSession, parsed: post_text.ParsedText) -> set[int]:
        keys = {m.value.lower() for m in parsed.mentions}
        if not keys:
            return set()
        rows = await session.scalars(
            select(SocialProfile.user_id).where(SocialProfile.username_key.in_(keys))
        )
        return set(rows.all())

    async def create(self, author_id: int, new: NewPost) -> PostView:
        """Publish a post, reply or quote. Raises InvalidInput (text too long or empty,
        bad media), NotFound (a parent or quoted post that is deleted or not visible
        to the author, across a block either way) and RateLimited."""
        await enforce(
            self.limiter,
            f"post:create:{author_id}",
            self.policy.create_rate,
            "You are posting too fast; try again in a moment.",
        )
        parsed = post_text.parse(new.text)
        if not parsed.text.strip() and not new.media_ids:
            raise InvalidInput("text", "must not be empty")
        await self._check_length(author_id, parsed)
        media_ids = list(new.media_ids)
        if len(media_ids) != len(set(media_ids)):
            raise InvalidInput("media_ids", "lists a media item twice")
        if len(media_ids) > MAX_IMAGES:
            raise InvalidInput("media_ids", f"at most {MAX_IMAGES} images or one video")
        parent = quoted = None
        mentioned: set[int] = set()
        viewer = Viewer(author_id)
        # Reads only when there is something to look up: a plain post is the hot path.
        if new.reply_to or new.quote_of or parsed.mentions:
            async with self.db.session(write=False) as session:
                viewer = await load_viewer(session, author_id)
                if new.reply_to:
                    parent = await self._visible_post(session, viewer, new.reply_to)
                if new.quote_of:
                    quoted = await self._visible_post(session, viewer, new.quote_of)
                mentioned = await self._mentioned_ids(session, parsed)
        post_id = self.ids.next_id()
        now = self.clock.now()
        async with self.db.session() as session:
            post = Post(
                id=post_id,
                author_id=author_id,
                text=parsed.text,
                entities=parsed.entities(),
                reply_to_id=parent.id if parent else None,
                conversation_id=parent.conversation_id if parent else post_id,
                quote_of_id=quoted.id if quoted else None,
                media_ids=media_ids,
                has_media=bool(media_ids),
                created_at=now,
                like_count=0,
                repost_count=0,
                reply_count=0,
                quote_count=0,
            )
            session.add(post)
            await session.flush()
            infos: list[MediaInfo] = []
            if media_ids:
                infos = await self.media.attach(
                    session,
                    owner_id=author_id,
                    media_ids=media_ids,
                    subject="post",
                    subject_id=post_id,
                )
                _check_media_mix(infos)
            labels = await self.safety.label_new_content(
                session,
                subject="post",
                subject_id=post_id,
                text=parsed.text,
                author_id=author_id,
                author_labels=list(new.labels),
                media_kinds=[i.kind for i in infos],
                fresh=True,
            )
            if parent is not None:
                await self._bump(session, parent.id, Post.reply_count, +1)
                await self.notifications.notify(
                    session,
                    recipient_id=parent.author_id,
                    actor_id=author_id,
                    kind="reply",
                    post_id=post_id,
                )
            if quoted is not None:
                await self._bump(session, quoted.id, Post.quote_count, +1)
                await self.notifications.notify(
                    session,
                    recipient_id=quoted.author_id,
                    actor_id=author_id,
                    kind="quote",
                    post_id=post_id,
                )
            already = {parent.author_id if parent else None, quoted.author_id if quoted else None}
            for user_id in mentioned - already:
                await self.notifications.notify(
                    session,
                    recipient_id=user_id,
                    actor_id=author_id,
                    kind="mention",
                    post_id=post_id,
                )
            await self.profiles.adjust_counts(session, author_id, posts=+1)
            # adjust_counts made sure the row exists; read now, it saves a session later.
            profile = await self.profiles.ensure(session, author_id)
            self.bus.publish(
                session,
                PostPublished(
                    post_id=post_id,
                    author_id=author_id,
                    reply_to=post.reply_to_id,
                    quote_of=post.quote_of_id,
                    created_at=now,
                ),
            )
            await session.commit()
        if self.fanout is not None:
            await self.fanout(post_id, "post", post_id, author_id)
        if quoted is not None:
            views, _ = await self.views.render([post], viewer)
            return views[0]
        # Nothing to look up for a new post but its author: no one has liked, reposted
        # or bookmarked it yet, and its labels and media came back from the writes.
        sensitive = self.safety.is_sensitive(labels)
        warn = bool(sensitive and infos) and (
            await self.safety.sensitive_media_preference(author_id) == SensitiveMedia.WARN
        )
        author = (await self.profiles.authors_of([profile]))[author_id]
        return PostView(
            post=post,
            author=author,
            media=infos,
            labels=labels,
            sensitive=sensitive,
            media_warning=warn,
            signed_in=True,
        )

    async def _bump(
        self, session: AsyncSession, post_id: int, column: InstrumentedAttribute[int], delta: int
    ) -> None:
        """Add ``delta`` to one counter of a post, in the database (concurrent bumps add)."""
        await session.execute(
            update(Post)
            .where(Post.id == post_id)
            .values({column: column + delta})
            .execution_options(synchronize_session=False)
        )

    async def _writable_own(self, session: AsyncSession, user_id: int, post_id: int) -> Post:
        post = await session.get(Post, post_id, with_for_update=True, populate_existing=True)
        if post is None or post.deleted_at is not None:
            raise NotFound("No such post.")
        if post.author_id != user_id:
            viewer = await load_viewer(session, user_id)
            if not can_see(viewer, post.author_id, await private_ids(session, [post.author_id])):
                raise NotFound("No such post.")
            raise Forbidden("Only the author may change or delete a post.")
        return post

    async def edit(self, user_id: int, post_id: int, new_text: str) -> PostView:
        """Change the text of one's own post within the edit window; needs the
        EDIT_POSTS entitlement. The version it replaces is kept (``edits``)."""
        if not await self.entitlements.has(user_id, Entitlement.EDIT_POSTS):
            raise Forbidden("Editing posts comes with Premium (edit_posts).")
        parsed = post_text.parse(new_text)
        await self._check_length(user_id, parsed)
        # The author's own labels carry over to the new text, including those another
        # source ties or outranks (and so are not among the effective labels).
        author_labels = [str(c) for c in await self.safety.author_labels("post", post_id)]
        now = self.clock.now()
        async with self.db.session() as session:
            post = await self._writable_own(session, user_id, post_id)
            if not parsed.text.strip() and not post.media_ids:
                raise InvalidInput("text", "must not be empty")
            if now - post.created_at > self.policy.edit_window:
                raise Forbidden("Posts can be edited only within an hour of publishing.")
            old_mentions = {m["username"].lower() for m in post.entities.get("mentions", [])}
            session.add(
                PostEdit(
                    id=self.ids.next_id(),
                    post_id=post.id,
                    text=post.text,
                    entities=post.entities,
                    written_at=post.edited_at or post.created_at,
                    replaced_at=now,
                )
            )
            post.text = parsed.text
            post.entities = parsed.entities()
            post.edited_at = now
            await session.flush()
            # New words may change the labels; the media (and so their kinds) stay.
            infos = await self.media.describe(post.media_ids) if post.media_ids else {}
            await self.safety.label_new_content(
                session,
                subject="post",
                subject_id=post.id,
                text=parsed.text,
                author_id=user_id,
                author_labels=author_labels,
                media_kinds=[i.kind for i in infos.values()],
            )
            fresh = {m for m in await self._mentioned_ids(session, parsed)}
            old = await session.scalars(
                select(SocialProfile.user_id).where(SocialProfile.username_key.in_(old_mentions))
            )
            for recipient in fresh - set(old.all()):
                await self.notifications.notify(
                    session,
                    recipient_id=recipient,
                    actor_id=user_id,
                    kind="mention",
                    post_id=post.id,
                )
            await session.commit()
        return await self.get(post_id, user_id)

    async def delete(self, user_id: int, post_id: int) -> None:
        """Soft-delete one's own post: it leaves every timeline and search, its text,
        media, edits, reposts and notifications go, replies stay (their parent shows
        as deleted), and the counters it added to are taken back."""
        now = self.clock.now()
        async with self.db.session() as session:
            post = await self._writable_own(session, user_id, post_id)
            post.deleted_at = now
            post.text = ""
            post.entities = EMPTY_ENTITIES
            post.media_ids = []
            post.has_media = False
            await session.flush()
            await session.execute(delete(Repost).where(Repost.post_id == post_id))
            await session.execute(delete(PostEdit).where(PostEdit.post_id == post_id))
            await session.execute(delete(Bookmark).where(Bookmark.post_id == post_id))
            if post.reply_to_id is not None:
                await self._bump(session, post.reply_to_id, Post.reply_count, -1)
            if post.quote_of_id is not None:
                await self._bump(session, post.quote_of_id, Post.quote_count, -1)
            await self.media.release(session, subject="post", subject_id=post_id)
            await self.notifications.forget_post(session, post_id)
            await self.safety.forget(session, subject="post", subject_id=post_id)
            await self.profiles.adjust_counts(session, user_id, posts=-1)
            self.bus.publish(session, PostDeleted(post_id=post_id, author_id=user_id))
            await session.commit()

    # ---- likes, reposts, bookmarks ----------------------------------------------------

    async def _target(self, user_id: int, post_id: int) -> Post:
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, user_id)
            return await self._visible_post(session, viewer, post_id)

    async def like(self, user_id: int, post_id: int) -> None:
        """Like a visible post (idempotent); the author is notified once."""
        post = await self._target(user_id, post_id)
        async with self.db.session() as session:
            added = await session.execute(
                insert_ignoring_conflicts(
                    session, Like, user_id=user_id, post_id=post_id, created_at=self.clock.now()
                )
            )
            if added.rowcount:  # type: ignore[attr-defined]
                await self._bump(session, post_id, Post.like_count, +1)
                await self.notifications.notify(
                    session,
                    recipient_id=post.author_id,
                    actor_id=user_id,
                    kind="like",
                    post_id=post_id,
                )
            await session.commit()

    async def unlike(self, user_id: int, post_id: int) -> None:
        await self._take_back(user_id, post_id, Like, Post.like_count)

    async def _take_back(
        self,
        user_id: int,
        post_id: int,
        mark: type[Like] | type[Repost],
        counter: InstrumentedAttribute[int],
    ) -> None:
        """Remove the user's like or repost of a visible post (idempotent), and take it
        off the post's count in the same transaction."""
        await self._target(user_id, post_id)
        async with self.db.session() as session:
            removed = await session.execute(
                delete(mark).where(mark.user_id == user_id, mark.post_id == post_id)
            )
            if removed.rowcount:  # type: ignore[attr-defined]
                await self._bump(session, post_id, counter, -1)
            await session.commit()

    async def repost(self, user_id: int, post_id: int) -> None:
        """Repost a visible post (once per user; idempotent). A private account's posts
        stay with its followers: they cannot be reposted, except by the author."""
        post = await self._target(user_id, post_id)
        if post.author_id != user_id:
            async with self.db.session(write=False) as session:
                if await private_ids(session, [post.author_id]):
                    raise Forbidden("Posts of a private account cannot be reposted.")
        repost_id = self.ids.next_id()
        async with self.db.session() as session:
            added = await session.execute(
                insert_ignoring_conflicts(
                    session,
                    Repost,
                    id=repost_id,
                    user_id=user_id,
                    post_id=post_id,
                    created_at=self.clock.now(),
                )
            )
            if not added.rowcount:  # type: ignore[attr-defined]
                return
            await self._bump(session, post_id, Post.repost_count, +1)
            await self.notifications.notify(
                session,
                recipient_id=post.author_id,
                actor_id=user_id,
                kind="repost",
                post_id=post_id,
            )
            await session.commit()
        if self.fanout is not None:
            await self.fanout(repost_id, "repost", post_id, user_id)

    async def unrepost(self, user_id: int, post_id: int) -> None:
        await self._take_back(user_id, post_id, Repost, Post.repost_count)

    async def bookmark(self, user_id: int, post_id: int) -> None:
        """Bookmark a visible post; bookmarks are private and counted nowhere."""
        await self._target(user_id, post_id)
        async with self.db.session() as session:
            await session.execute(
                insert_ignoring_conflicts(
                    session,
                    Bookmark,
                    id=self.ids.next_id(),
                    user_id=user_id,
                    post_id=post_id,
                    created_at=self.clock.now(),
                )
            )
            await session.commit()

    async def unbookmark(self, user_id: int, post_id: int) -> None:
        async with self.db.session() as session:
            await session.execute(
                delete(Bookmark).where(Bookmark.user_id == user_id, Bookmark.post_id == post_id)
            )
            await session.commit()

    async def bookmarks(
        self, user_id: int, *, before: int | None, limit: int
    ) -> tuple[list[PostView], int | None]:
        """The user's bookmarks, newest bookmark first; posts no longer visible to
        them (blocked since, gone private) are left out."""
        async with self.db.session(write=False) as session:
            viewer = await load_viewer(session, user_id)
            query = (
                select(Bookmark.id, Bookmark.post_id)
                .where(Bookmark.user_id == user_id)
                .order_by(Bookmark.id.desc())
                .limit(limit + 1)
            )
            if before is not None:
                query = query.where(Bookmark.id < before)
            rows = (await session.execute(query)).all()
            page = rows[:limit]
            posts = await self.views.posts_by_id(session, {r.post_id for r in page})
        ordered = [
            posts[r.post_id]
            for r in page
            if r.post_id in posts and posts[r.post_id].deleted_at is None
        ]
        views, _ = await self.views.render(ordered, viewer)
        return views, (page[-1].id if len(rows) > limit else None)


def _check_media_mix(infos: Sequence[MediaInfo]) -> None:
    videos = sum(1 for i in infos if i.kind == "video")
    if videos and len(infos) > videos:
        raise InvalidInput("media_ids", "images and a video cannot be mixed in one post")
    if videos > MAX_VIDEOS:
        raise InvalidInput("media_ids", f"at most {MAX_VIDEOS} video per post")
