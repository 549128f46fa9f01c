"""Notifications: likes, replies, reposts, quotes, follows, follow requests, mentions,
message requests (from messaging), missed calls (from calls) and Premium billing news
(a failed renewal, an ended subscription).

``notify`` runs inside the write session of whatever caused it (a like, a follow), so
a notification exists exactly when its cause does. Blocks and mutes are applied
twice: when the notification is made (none is stored) and when the list is read (a
block or mute made later hides what was stored before).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import ColumnElement, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.social.events import NotificationCreated
from plaza.social.models import Mute, Notification, SocialProfile
from plaza.social.profiles import (
    Author,
    ProfileService,
    blocked_either_way,
    insert_ignoring_conflicts,
    not_blocked_with,
)

NotificationKind = Literal[
    "like",
    "reply",
    "repost",
    "quote",
    "follow",
    "follow_request",
    "mention",
    "message_request",
    "missed_call",
    "premium_payment_failed",
    "premium_expired",
]
KINDS: frozenset[str] = frozenset(get_args(NotificationKind))
# Kinds that appear once per actor (and post): liking, unliking and liking again
# does not notify twice.
_DEDUPED_PER_POST = frozenset({"like", "repost"})
_DEDUPED_PER_ACTOR = frozenset({"follow", "follow_request", "message_request"})
# News about the recipient's own account (Premium billing): the actor is the recipient,
# since it comes from Plaza rather than from another person.
_ABOUT_ONESELF = frozenset({"premium_payment_failed", "premium_expired"})


@dataclass(frozen=True)
class NotificationItem:
    id: int
    kind: str
    actor: Author
    post_id: int | None
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class NotificationPage:
    items: list[NotificationItem]
    next_before: int | None


class Notifications:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        clock: Clock,
        ids: SnowflakeGenerator,
        profiles: ProfileService,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.ids = ids
        self.profiles = profiles

    async def notify(
        self,
        session: AsyncSession,
        *,
        recipient_id: int,
        actor_id: int,
        kind: str,
        post_id: int | None = None,
    ) -> int | None:
        """Store a notification for ``recipient_id`` in the caller's write session and
        announce ``NotificationCreated`` once that session commits. Returns its id, or
        None when none is due: the actor is the recipient, either blocked the other,
        the recipient muted the actor, or the same actor already liked/reposted the
        same post (or followed) and was notified for it."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        if recipient_id == actor_id:
            return None
        if await blocked_either_way(session, recipient_id, actor_id):
            return None
        muted = await session.scalar(
            select(Mute.id).where(Mute.muter_id == recipient_id, Mute.muted_id == actor_id)
        )
        if muted is not None:
            return None
        # The list shows the actor from their profile row; make sure it exists.
        await self.profiles.ensure(session, actor_id)
        dedupe_key = None
        if kind in _DEDUPED_PER_POST:
            dedupe_key = f"{kind}:{actor_id}:{post_id}"
        elif kind in _DEDUPED_PER_ACTOR:
            dedupe_key = f"{kind}:{actor_id}"
        notification_id = self.ids.next_id()
        values = {
            "id": notification_id,
            "recipient_id": recipient_id,
            "actor_id": actor_id,
            "kind": kind,
            "post_id": post_id,
            "dedupe_key": dedupe_key,
            "created_at": self.clock.now(),
        }
        if dedupe_key is None:
            session.add(Notification(**values))
            await session.flush()
        else:
            result = await session.execute(
                insert_ignoring_conflicts(session, Notification, **values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
        self.bus.publish(
            session,
            NotificationCreated(
                id=notification_id,
                recipient_id=recipient_id,
                actor_id=actor_id,
                kind=kind,
                post_id=post_id,
            ),
        )
        return notification_id

    async def notify_own_account(
        self, session: AsyncSession, recipient_ids: Collection[int], kind: str
    ) -> None:
        """Store news from Plaza about each recipient's own account (a failed Premium
        renewal, an ended subscription) in the caller's write session, in bulk; the
        actor is the recipient. Each is announced once the session commits."""
        if kind not in _ABOUT_ONESELF:
            raise ValueError(f"{kind!r} is not news about one's own account")
        ids = sorted(set(recipient_ids))
        if not ids:
            return
        have = set(
            await session.scalars(
                select(SocialProfile.user_id).where(SocialProfile.user_id.in_(ids))
            )
        )
        for user_id in ids:
            if user_id not in have:  # the list shows the actor from their profile row
                await self.profiles.ensure(session, user_id)
        now = self.clock.now()
        rows = [
            {
                "id": self.ids.next_id(),
                "recipient_id": user_id,
                "actor_id": user_id,
                "kind": kind,
                "post_id": None,
                "dedupe_key": None,
                "created_at": now,
            }
            for user_id in ids
        ]
        await session.execute(insert(Notification), rows)
        for row in rows:
            self.bus.publish(
                session,
                NotificationCreated(
                    id=row["id"],
                    recipient_id=row["recipient_id"],
                    actor_id=row["actor_id"],
                    kind=kind,
                    post_id=None,
                ),
            )

    async def forget_post(self, session: AsyncSession, post_id: int) -> None:
        """The post was deleted: drop every notification about it, in the caller's
        write session."""
        await session.execute(delete(Notification).where(Notification.post_id == post_id))

    def _visible(self, user_id: int) -> ColumnElement[bool]:
        """Notifications of ``user_id`` from actors not blocked either way nor muted."""
        return (
            (Notification.recipient_id == user_id)
            & not_blocked_with(user_id, Notification.actor_id)
            & ~exists().where(Mute.muter_id == user_id, Mute.muted_id == Notification.actor_id)
        )

    async def list(self, user_id: int, *, before: int | None, limit: int) -> NotificationPage:
        """The user's notifications, newest first."""
        statement = (
            select(Notification, SocialProfile)
            .join(SocialProfile, SocialProfile.user_id == Notification.actor_id)
            .where(self._visible(user_id))
            .order_by(Notification.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            statement = statement.where(Notification.id < before)
        async with self.db.session(write=False) as session:
            rows = (await session.execute(statement)).all()
            read_up_to = await self._watermark(session, user_id)
        more = len(rows) > limit
        rows = rows[:limit]
        authors = await self.profiles.authors_of(profile for _n, profile in rows)
        items = [
            NotificationItem(
                id=n.id,
                kind=n.kind,
                actor=authors[n.actor_id],
                post_id=n.post_id,
                created_at=n.created_at,
                read=n.id <= read_up_to,
            )
            for n, _profile in rows
        ]
        return NotificationPage(items=items, next_before=rows[-1][0].id if more else None)

    async def unread_count(self, user_id: int) -> int:
        async with self.db.session(write=False) as session:
            read_up_to = await self._watermark(session, user_id)
            count = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(self._visible(user_id), Notification.id > read_up_to)
            )
        return int(count or 0)

    async def mark_read(self, user_id: int, up_to: int | None = None) -> None:
        """Mark the user's notifications read, all of them or those up to ``up_to``
        (the newest one the client showed, so that one arriving meanwhile stays
        unread). The mark never moves back."""
        async with self.db.session() as session:
            if up_to is None:
                up_to = await session.scalar(
                    select(func.max(Notification.id)).where(Notification.recipient_id == user_id)
                )
                if up_to is None:
                    return
            await self.profiles.ensure(session, user_id)
            await session.execute(
                update(SocialProfile)
                .where(
                    SocialProfile.user_id == user_id,
                    SocialProfile.notifications_read_id < up_to,
                )
                .values(notifications_read_id=up_to)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    @staticmethod
    async def _watermark(session: AsyncSession, user_id: int) -> int:
        value = await session.scalar(
            select(SocialProfile.notifications_read_id).where(SocialProfile.user_id == user_id)
        )
        return int(value or 0)
