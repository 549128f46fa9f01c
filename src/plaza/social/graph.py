"""The social graph: follows, follow requests, blocks and mutes.

Rules:
- a follow of a private account is a request until its owner approves it;
- a block works both ways: it removes follows and requests in both directions, no
  follow can be made either way while it lasts, and each side's profile is a 404 to
  the other;
- a mute is one-way and silent: the muted user's posts and notifications stop
  reaching the muter, and nothing changes for the muted user.

Every change to the edges between two users first locks both users' profile rows, in
id order, so that a follow racing a block (or two follows racing each other) cannot
leave a follow beside a block or counters that disagree with the rows. On SQLite,
write transactions are serial already and the lock is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import Forbidden, InvalidInput, NotFound
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter, enforce
from plaza.identity import AccountDeleted
from plaza.social.events import Blocked, Followed, Muted, Unblocked, Unfollowed, Unmuted
from plaza.social.models import Block, Follow, FollowRequest, Mute, SocialProfile
from plaza.social.notifications import Notifications
from plaza.social.profiles import (
    ProfileService,
    blocked_either_way,
    not_blocked_with,
    pending_request,
)

FollowState = Literal["following", "requested", "none"]


@dataclass(frozen=True)
class Relation:
    """How the viewer stands to another user."""

    following: bool
    followed_by: bool
    requested: bool
    blocking: bool
    blocked_by: bool
    muting: bool


@dataclass(frozen=True)
class ListPage:
    """A page of users from a graph list, newest edge first, and the next cursor."""

    profiles: list[SocialProfile]
    next_before: int | None


class SocialGraph:
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
        follow_rate: Rate,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.ids = ids
        self.limiter = limiter
        self.profiles = profiles
        self.notifications = notifications
        self.follow_rate = follow_rate
        profiles.on_made_public = self._approve_all
        bus.subscribe(AccountDeleted, self._on_account_deleted)

    # ---- queries other modules and domains use (pinned) -----------------------------

    async def blocked_either_way(self, a: int, b: int) -> bool:
        """Whether either user has blocked the other."""
        async with self.db.session(write=False) as session:
            return await blocked_either_way(session, a, b)

    async def follows(self, follower_id: int, followee_id: int) -> bool:
        """Whether ``follower_id`` follows ``followee_id`` (an approved follow)."""
        async with self.db.session(write=False) as session:
            return await _follows(session, follower_id, followee_id)

    async def blocked_ids(self, user_id: int) -> set[int]:
        """Everyone the user blocked and everyone who blocked the user."""
        async with self.db.session(write=False) as session:
            out = await session.scalars(
                select(Block.blocked_id)
                .where(Block.blocker_id == user_id)
                .union(select(Block.blocker_id).where(Block.blocked_id == user_id))
            )
            return set(out.all())

    async def following_ids(self, user_id: int) -> set[int]:
        """Everyone the user follows."""
        async with self.db.session(write=False) as session:
            out = await session.scalars(
                select(Follow.followee_id).where(Follow.follower_id == user_id)
            )
            return set(out.all())

    async def follower_ids(self, author_id: int) -> set[int]:
        """Everyone who follows ``author_id`` (for fan-out on write)."""
        async with self.db.session(write=False) as session:
            out = await session.scalars(
                select(Follow.follower_id).where(Follow.followee_id == author_id)
            )
            return set(out.all())

    async def muted_ids(self, user_id: int) -> set[int]:
        """Everyone the user muted."""
        async with self.db.session(write=False) as session:
            out = await session.scalars(select(Mute.muted_id).where(Mute.muter_id == user_id))
            return set(out.all())

    async def can_see_posts_of(self, viewer_id: int | None, author_id: int) -> bool:
        """Whether the viewer may see the author's posts: never when either blocked the
        other; otherwise when the account is public, or the viewer is the author or
        an approved follower."""
        if viewer_id == author_id:
            return True
        async with self.db.session(write=False) as session:
            return await self._can_see(session, viewer_id, author_id)

    async def _can_see(self, session: AsyncSession, viewer_id: int | None, author_id: int) -> bool:
        if viewer_id == author_id:
            return True
        is_private = await session.scalar(
            select(SocialProfile.is_private).where(SocialProfile.user_id == author_id)
        )
        if viewer_id is not None and await blocked_either_way(session, viewer_id, author_id):
            return False
        if not is_private:
            # No row yet means a user social has not met: public by default.
            return True
        return viewer_id is not None and await _follows(session, viewer_id, author_id)

    async def relation(self, viewer_id: int, other_id: int) -> Relation:
        async with self.db.session(write=False) as session:
            edges = (
                await session.execute(
                    select(Follow.follower_id).where(
                        or_(
                            and_(Follow.follower_id == viewer_id, Follow.followee_id == other_id),
                            and_(Follow.follower_id == other_id, Follow.followee_id == viewer_id),
                        )
                    )
                )
            ).scalars()
            followers = set(edges.all())
            blocks = set(
                (
                    await session.scalars(
                        select(Block.blocker_id).where(
                            or_(
                                and_(Block.blocker_id == viewer_id, Block.blocked_id == other_id),
                                and_(Block.blocker_id == other_id, Block.blocked_id == viewer_id),
                            )
                        )
                    )
                ).all()
            )
            muting = await session.scalar(
                select(Mute.id).where(Mute.muter_id == viewer_id, Mute.muted_id == other_id)
            )
            requested = await pending_request(session, viewer_id, other_id)
        return Relation(
            following=viewer_id in followers,
            followed_by=other_id in followers,
            requested=requested,
            blocking=viewer_id in blocks,
            blocked_by=other_id in blocks,
            muting=muting is not None,
        )

    # ---- follows --------------------------------------------------------------------

    async def _target(self, actor_id: int, username: str, verb: str) -> SocialProfile:
        target = await self.profiles.by_username(username)
        if target.user_id == actor_id:
            raise InvalidInput("username", f"you cannot {verb} yourself")
        return target

    async def _lock(self, session: AsyncSession, *user_ids: int) -> None:
        """Take both users' rows (creating them if needed), in id order (no deadlocks)."""
        for user_id in sorted(set(user_ids)):
            await self.profiles.ensure(session, user_id)
        await session.execute(
            select(SocialProfile.user_id)
            .where(SocialProfile.user_id.in_(user_ids))
            .order_by(SocialProfile.user_id)
            .with_for_update()
        )

    async def follow(self, actor_id: int, username: str) -> FollowState:
        """Follow ``username``, or ask to when the account is private. Idempotent:
        following again answers the current state. ``NotFound`` for an unknown user
        or one either side has blocked; rate-limited per actor."""
        await enforce(
            self.limiter,
            f"social:follow:{actor_id}",
            self.follow_rate,
            "You are following too many accounts too quickly.",
        )
        target = await self._target(actor_id, username, "follow")
        target_id = target.user_id
        async with self.db.session() as session:
            await self._lock(session, actor_id, target_id)
            if await blocked_either_way(session, actor_id, target_id):
                raise NotFound("No such user.")
            if await _follows(session, actor_id, target_id):
                return "following"
            if await pending_request(session, actor_id, target_id):
                return "requested"
            is_private = await session.scalar(
                select(SocialProfile.is_private).where(SocialProfile.user_id == target_id)
            )
            if is_private:
                session.add(
                    FollowRequest(
                        id=self.ids.next_id(),
                        requester_id=actor_id,
                        target_id=target_id,
                        created_at=self.clock.now(),
                    )
                )
                await session.flush()
                await self.notifications.notify(
                    session, recipient_id=target_id, actor_id=actor_id, kind="follow_request"
                )
                state: FollowState = "requested"
            else:
                await self._add_follow(session, actor_id, target_id)
                await self.notifications.notify(
                    session, recipient_id=target_id, actor_id=actor_id, kind="follow"
                )
                state = "following"
            await session.commit()
        return state

    async def unfollow(self, actor_id: int, username: str) -> FollowState:
        """Stop following ``username`` or withdraw a pending request. Idempotent."""
        target = await self._target(actor_id, username, "unfollow")
        async with self.db.session() as session:
            await self._lock(session, actor_id, target.user_id)
            if await blocked_either_way(session, actor_id, target.user_id):
                raise NotFound("No such user.")
            await self._remove_follow(session, actor_id, target.user_id)
            await session.execute(
                delete(FollowRequest).where(
                    FollowRequest.requester_id == actor_id,
                    FollowRequest.target_id == target.user_id,
                )
            )
            await session.commit()
        return "none"

    async def approve(self, owner_id: int, username: str) -> None:
        """Accept ``username``'s request to follow the owner; ``NotFound`` if none."""
        requester = await self._target(owner_id, username, "approve")
        async with self.db.session() as session:
            await self._lock(session, owner_id, requester.user_id)
            if not await self._take_request(session, requester.user_id, owner_id):
                raise NotFound("No follow request from that user.")
            if not await _follows(session, requester.user_id, owner_id):
                await self._add_follow(session, requester.user_id, owner_id)
            await session.commit()

    async def deny(self, owner_id: int, username: str) -> None:
        """Refuse ``username``'s request; ``NotFound`` if none. The requester is not told."""
        requester = await self._target(owner_id, username, "deny")
        async with self.db.session() as session:
            if not await self._take_request(session, requester.user_id, owner_id):
                raise NotFound("No follow request from that user.")
            await session.commit()

    async def _approve_all(self, session: AsyncSession, owner_id: int) -> int:
        """Turn every pending request to ``owner_id`` into a follow (the account went
        public); returns how many. Runs in the caller's session, with the owner's
        row locked by it."""
        requests = (
            await session.scalars(select(FollowRequest).where(FollowRequest.target_id == owner_id))
        ).all()
        for request in requests:
            await session.delete(request)
            if not await _follows(session, request.requester_id, owner_id):
                await self._add_follow(session, request.requester_id, owner_id)
        return len(requests)

    async def _take_request(self, session: AsyncSession, requester_id: int, target_id: int) -> bool:
        result = await session.execute(
            delete(FollowRequest).where(
                FollowRequest.requester_id == requester_id, FollowRequest.target_id == target_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _add_follow(self, session: AsyncSession, follower_id: int, followee_id: int) -> None:
        session.add(
            Follow(
                id=self.ids.next_id(),
                follower_id=follower_id,
                followee_id=followee_id,
                created_at=self.clock.now(),
            )
        )
        await session.flush()
        await self.profiles.adjust_counts(session, follower_id, following=1)
        await self.profiles.adjust_counts(session, followee_id, followers=1)
        self.bus.publish(session, Followed(follower_id=follower_id, followee_id=followee_id))

    async def _remove_follow(
        self, session: AsyncSession, follower_id: int, followee_id: int
    ) -> bool:
        result = await session.execute(
            delete(Follow).where(
                Follow.follower_id == follower_id, Follow.followee_id == followee_id
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        await self.profiles.adjust_counts(session, follower_id, following=-1)
        await self.profiles.adjust_counts(session, followee_id, followers=-1)
        self.bus.publish(session, Unfollowed(follower_id=follower_id, followee_id=followee_id))
        return True

    # ---- blocks and mutes -------------------------------------------------------------

    async def block(self, actor_id: int, username: str) -> None:
        """Block ``username``: follows and requests between the two end, both ways.
        Idempotent. Blocking someone who blocked you first is allowed."""
        target = await self._target(actor_id, username, "block")
        target_id = target.user_id
        async with self.db.session() as session:
            await self._lock(session, actor_id, target_id)
            existing = await session.scalar(
                select(Block.id).where(Block.blocker_id == actor_id, Block.blocked_id == target_id)
            )
            if existing is None:
                session.add(
                    Block(
                        id=self.ids.next_id(),
                        blocker_id=actor_id,
                        blocked_id=target_id,
                        created_at=self.clock.now(),
                    )
                )
                await self._remove_follow(session, actor_id, target_id)
                await self._remove_follow(session, target_id, actor_id)
                await session.execute(
                    delete(FollowRequest).where(
                        or_(
                            and_(
                                FollowRequest.requester_id == actor_id,
                                FollowRequest.target_id == target_id,
                            ),
                            and_(
                                FollowRequest.requester_id == target_id,
                                FollowRequest.target_id == actor_id,
                            ),
                        )
                    )
                )
                self.bus.publish(session, Blocked(blocker_id=actor_id, blocked_id=target_id))
            await session.commit()

    async def unblock(self, actor_id: int, username: str) -> None:
        """Lift the actor's block of ``username`` (not one the other side made). Follows
        removed by the block stay removed."""
        target = await self._target(actor_id, username, "unblock")
        async with self.db.session() as session:
            result = await session.execute(
                delete(Block).where(
                    Block.blocker_id == actor_id, Block.blocked_id == target.user_id
                )
            )
            if result.rowcount:  # type: ignore[attr-defined]
                self.bus.publish(session, Unblocked(blocker_id=actor_id, blocked_id=target.user_id))
            await session.commit()

    async def mute(self, actor_id: int, username: str) -> None:
        """Mute ``username`` (idempotent; they are not told)."""
        target = await self._target(actor_id, username, "mute")
        async with self.db.session() as session:
            await self.profiles.ensure(session, actor_id)
            existing = await session.scalar(
                select(Mute.id).where(Mute.muter_id == actor_id, Mute.muted_id == target.user_id)
            )
            if existing is None:
                session.add(
                    Mute(
                        id=self.ids.next_id(),
                        muter_id=actor_id,
                        muted_id=target.user_id,
                        created_at=self.clock.now(),
                    )
                )
                self.bus.publish(session, Muted(muter_id=actor_id, muted_id=target.user_id))
            await session.commit()

    async def unmute(self, actor_id: int, username: str) -> None:
        target = await self._target(actor_id, username, "unmute")
        async with self.db.session() as session:
            result = await session.execute(
                delete(Mute).where(Mute.muter_id == actor_id, Mute.muted_id == target.user_id)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                self.bus.publish(session, Unmuted(muter_id=actor_id, muted_id=target.user_id))
            await session.commit()

    # ---- lists --------------------------------------------------------------------

    async def followers(
        self, viewer_id: int | None, username: str, *, before: int | None, limit: int
    ) -> ListPage:
        """Who follows ``username``, newest first. Hidden (``NotFound``) when either side
        blocked the other; a private account's lists are for its approved followers.
        Users blocked either way with the viewer are left out."""
        owner = await self._list_owner(viewer_id, username)
        return await self._page(
            Follow, Follow.follower_id, Follow.followee_id == owner, viewer_id, before, limit
        )

    async def following(
        self, viewer_id: int | None, username: str, *, before: int | None, limit: int
    ) -> ListPage:
        """Whom ``username`` follows, newest first; the same rules as ``followers``."""
        owner = await self._list_owner(viewer_id, username)
        return await self._page(
            Follow, Follow.followee_id, Follow.follower_id == owner, viewer_id, before, limit
        )

    async def follow_requests(self, owner_id: int, *, before: int | None, limit: int) -> ListPage:
        """Pending requests to follow the owner, newest first."""
        return await self._page(
            FollowRequest,
            FollowRequest.requester_id,
            FollowRequest.target_id == owner_id,
            owner_id,
            before,
            limit,
        )

    async def blocks(self, owner_id: int, *, before: int | None, limit: int) -> ListPage:
        return await self._page(
            Block, Block.blocked_id, Block.blocker_id == owner_id, None, before, limit
        )

    async def mutes(self, owner_id: int, *, before: int | None, limit: int) -> ListPage:
        return await self._page(Mute, Mute.muted_id, Mute.muter_id == owner_id, None, before, limit)

    async def _list_owner(self, viewer_id: int | None, username: str) -> int:
        owner = await self.profiles.visible(username, viewer_id)
        if not await self.can_see_posts_of(viewer_id, owner.user_id):
            raise Forbidden("This account is private: only its approved followers see its lists.")
        return owner.user_id

    async def _page(
        self,
        edge: type[Follow] | type[FollowRequest] | type[Block] | type[Mute],
        user_column: InstrumentedAttribute[int],
        owner_condition: ColumnElement[bool],
        viewer_id: int | None,
        before: int | None,
        limit: int,
    ) -> ListPage:
        # Keyset on the edge's time-ordered id: new edges sort before the first page and
        # never shift a cursor.
        statement = (
            select(edge.id, SocialProfile)
            .join(SocialProfile, SocialProfile.user_id == user_column)
            .where(owner_condition)
            .order_by(edge.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            statement = statement.where(edge.id < before)
        if viewer_id is not None:
            statement = statement.where(not_blocked_with(viewer_id, user_column))
        async with self.db.session(write=False) as session:
            rows: Sequence[tuple[int, SocialProfile]] = (await session.execute(statement)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return ListPage(
            profiles=[profile for _id, profile in rows],
            next_before=rows[-1][0] if more and rows else None,
        )

    # ---- account deletion ---------------------------------------------------------------

    async def _on_account_deleted(self, event: AccountDeleted) -> None:
        # The database cascade removed the deleted user's follows without touching the
        # other sides' counters; recount the profiles whose counters now disagree.
        async with self.db.session() as session:
            await self.profiles.recount(session, None)
            await session.commit()


async def _follows(session: AsyncSession, follower_id: int, followee_id: int) -> bool:
    found = await session.scalar(
        select(Follow.id).where(
            Follow.follower_id == follower_id, Follow.followee_id == followee_id
        )
    )
    return found is not None
