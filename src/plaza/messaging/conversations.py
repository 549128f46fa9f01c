"""Conversations: starting them (direct or group), the inbox and requests lists, group
administration (rename, add, remove, leave), accepting requests and delete-for-me.

Only participants see a conversation: everyone else gets the same 404 as for an id
that never existed. A former member (left or removed) may still read it up to when
they left, and may change nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Forbidden, InvalidInput, NotFound
from plaza.core.ratelimit import enforce
from plaza.messaging.context import Context
from plaza.messaging.delivery import (
    Locked,
    announce_conversation,
    load_locked,
    post_system,
)
from plaza.messaging.events import ConversationCreated
from plaza.messaging.models import Conversation, Member
from plaza.messaging.policy import Landing, MessagingPreferences, PolicyRefused, landing
from plaza.messaging.store import (
    CURRENT,
    activity,
    dialect_insert,
    unread_counts,
    viewer_of,
)
from plaza.messaging.views import JSON, conversation_views
from plaza.premium import Entitlement

Box = Literal["inbox", "requests"]
MAX_REQUESTS_LISTED = 1000
NAME_MAX = 100


@dataclass(frozen=True)
class Started:
    conversation: JSON
    created: bool


def clean_name(name: str | None) -> str | None:
    """A group's name: at most 100 characters, no control characters; blank is none."""
    if name is None:
        return None
    if len(name) > NAME_MAX:
        raise InvalidInput("name", f"must be at most {NAME_MAX} characters")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name):
        raise InvalidInput("name", "must not contain control characters")
    return name.strip() or None


class Conversations:
    def __init__(self, ctx: Context, preferences: MessagingPreferences) -> None:
        self.ctx = ctx
        self.preferences = preferences

    # ---- starting ----------------------------------------------------------------------

    async def _resolve(self, actor_id: int, usernames: Sequence[str], field: str) -> dict[int, str]:
        """The named people's ids and names (in order, once each, the actor left out).
        Unknown users and users blocked either way are a 404 that does not tell them
        apart."""
        blocked = await self.ctx.graph.blocked_ids(actor_id)
        out: dict[int, str] = {}
        for name in usernames:
            user_id = await self.ctx.people.find(name)
            if user_id is None or user_id in blocked:
                raise NotFound(f"No such user: {name}")
            if user_id != actor_id:
                out.setdefault(user_id, name)
        if not out:
            raise InvalidInput(field, "name at least one other person")
        return out

    async def _landings(
        self, actor_id: int, user_ids: Sequence[int], usernames: dict[int, str]
    ) -> dict[int, Landing]:
        out: dict[int, Landing] = {}
        for user_id in user_ids:
            try:
                out[user_id] = await landing(
                    self.preferences,
                    self.ctx.graph,
                    self.ctx.entitlements,
                    sender_id=actor_id,
                    recipient_id=user_id,
                )
            except PolicyRefused as exc:
                raise PolicyRefused(usernames.get(user_id, "this person")) from exc
        return out

    async def start(
        self, creator_id: int, participants: Sequence[str], name: str | None
    ) -> Started:
        """Start a conversation. One other participant: the direct conversation of the two
        (an existing one is returned, ``created`` False; no policy applies to it). Two or
        more: a new group of at most ``max_group_members`` with the creator as admin.

        Raises ``NotFound`` for an unknown or blocked (either way) participant,
        ``Forbidden`` naming ``dm_policy`` when someone accepts no new conversations from
        the creator, ``InvalidInput`` for an empty list or too many people, and
        ``RateLimited`` past the daily number of new conversations."""
        name = clean_name(name)
        names = await self._resolve(creator_id, participants, "participants")
        others = list(names)
        if len(others) == 1:
            return await self._start_direct(creator_id, others[0], names)
        limit = self.ctx.policy.max_group_members
        if len(others) + 1 > limit:
            raise InvalidInput("participants", f"a group holds at most {limit} members")
        landings = await self._landings(creator_id, others, names)
        await self._count_new(creator_id)
        async with self.ctx.db.session() as session:
            now = self.ctx.clock.now()
            conversation = Conversation(
                id=self.ctx.ids.next_id(),
                kind="group",
                name=name,
                created_by=creator_id,
                created_at=now,
            )
            session.add(conversation)
            members = [self._member(conversation.id, creator_id, "active", conversation.id)]
            members[0].role = "admin"
            members += [
                self._member(conversation.id, uid, landings[uid], conversation.id) for uid in others
            ]
            session.add_all(members)
            await session.flush()
            locked = Locked(conversation, members)
            await post_system(self.ctx, session, locked, creator_id, "created", others, name=name)
            await self._notify_requests(session, creator_id, members[1:])
            await announce_conversation(self.ctx, session, locked, locked.current_ids)
            self._created(session, locked)
            [view] = await conversation_views(
                self.ctx, session, creator_id, [(conversation, members[0])]
            )
            await session.commit()
        return Started(view, created=True)

    async def _start_direct(self, creator_id: int, other_id: int, names: dict[int, str]) -> Started:
        key = f"{min(creator_id, other_id)}:{max(creator_id, other_id)}"
        existing = await self._direct(key, creator_id)
        if existing is not None:
            return Started(existing, created=False)
        lands = await self._landings(creator_id, [other_id], names)
        await self._count_new(creator_id)
        async with self.ctx.db.session() as session:
            conversation_id = self.ctx.ids.next_id()
            inserted = await session.scalar(
                dialect_insert(session, Conversation)
                .values(
                    id=conversation_id,
                    kind="direct",
                    name=None,
                    created_by=creator_id,
                    created_at=self.ctx.clock.now(),
                    direct_key=key,
                )
                .on_conflict_do_nothing(index_elements=[Conversation.direct_key])
                .returning(Conversation.id)
            )
            if inserted is not None:
                conversation = await session.get(Conversation, conversation_id)
                assert conversation is not None
                # The other side sees nothing until the first message (their bound is
                # the conversation's own id); the creator sees it at once.
                members = [
                    self._member(conversation_id, creator_id, "active", 0),
                    self._member(conversation_id, other_id, lands[other_id], conversation_id),
                ]
                session.add_all(members)
                await session.flush()
                locked = Locked(conversation, members)
                await announce_conversation(self.ctx, session, locked, [creator_id])
                self._created(session, locked)
                [view] = await conversation_views(
                    self.ctx, session, creator_id, [(conversation, members[0])]
                )
                await session.commit()
                return Started(view, created=True)
        # Someone started it at the same moment; theirs stands.
        existing = await self._direct(key, creator_id)
        if existing is None:
            raise NotFound("No such conversation.")
        return Started(existing, created=False)

    async def _direct(self, key: str, viewer_id: int) -> JSON | None:
        async with self.ctx.db.session(write=False) as session:
            found = (
                await session.execute(
                    select(Conversation, Member)
                    .join(Member, Member.conversation_id == Conversation.id)
                    .where(Conversation.direct_key == key, Member.user_id == viewer_id)
                )
            ).first()
            if found is None:
                return None
            [view] = await conversation_views(self.ctx, session, viewer_id, [(found[0], found[1])])
            return view

    def _member(self, conversation_id: int, user_id: int, state: str, visible_from: int) -> Member:
        return Member(
            conversation_id=conversation_id,
            user_id=user_id,
            role="member",
            state=state,
            joined_at=self.ctx.clock.now(),
            visible_from_id=visible_from,
            visible_until_id=None,
            last_read_id=0,
            last_delivered_id=0,
        )

    def _created(self, session: AsyncSession, locked: Locked) -> None:
        conversation = locked.conversation
        self.ctx.bus.publish(
            session,
            ConversationCreated(
                conversation_id=conversation.id,
                kind=conversation.kind,
                creator_id=conversation.created_by or 0,
                member_ids=[m.user_id for m in locked.members],
            ),
        )

    async def _count_new(self, creator_id: int) -> None:
        await enforce(
            self.ctx.limiter,
            f"dm:new:{creator_id}",
            self.ctx.policy.new_conversations,
            "Too many new conversations today; try again later.",
        )

    async def _notify_requests(
        self, session: AsyncSession, actor_id: int, members: Sequence[Member]
    ) -> None:
        for m in members:
            if m.state == "request":
                await self.ctx.notifier.notify(
                    session, recipient_id=m.user_id, actor_id=actor_id, kind="message_request"
                )

    # ---- reading -----------------------------------------------------------------------

    async def get(self, viewer_id: int, conversation_id: int) -> JSON:
        """The conversation as the viewer sees it; ``NotFound`` unless they are or were
        a member."""
        async with self.ctx.db.session(write=False) as session:
            conversation, member = await viewer_of(session, conversation_id, viewer_id, write=False)
            [view] = await conversation_views(
                self.ctx, session, viewer_id, [(conversation, member)]
            )
        return view

    async def listing(
        self, viewer_id: int, box: Box, *, limit: int, cursor: str | None
    ) -> tuple[list[JSON], str | None]:
        """The viewer's inbox (accepted conversations) or Message requests, newest
        activity first; requests from senders holding PRIORITY_DMS come first. Only
        conversations with something the viewer may see are listed (a request shows
        once its first message arrives; delete-for-me hides one until the next)."""
        if box == "requests":
            return await self._requests(viewer_id, limit=limit, cursor=cursor)
        before = decode_cursor(cursor)
        query = (
            select(Conversation, Member)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(
                Member.user_id == viewer_id,
                Member.state == "active",
                activity() > Member.visible_from_id,
            )
            .order_by(activity().desc())
            .limit(limit + 1)
        )
        if before is not None:
            query = query.where(activity() < before)
        async with self.ctx.db.session(write=False) as session:
            rows = [(c, m) for c, m in (await session.execute(query)).all()]
            more = len(rows) > limit
            rows = rows[:limit]
            views = await conversation_views(self.ctx, session, viewer_id, rows)
        last = rows[-1][0] if rows else None
        next_cursor = encode_cursor(0, last.last_message_id or last.id) if more and last else None
        return views, next_cursor

    async def _requests(
        self, viewer_id: int, *, limit: int, cursor: str | None
    ) -> tuple[list[JSON], str | None]:
        after = decode_cursor_pair(cursor)
        async with self.ctx.db.session(write=False) as session:
            rows = [
                (c, m)
                for c, m in (
                    await session.execute(
                        select(Conversation, Member)
                        .join(Member, Member.conversation_id == Conversation.id)
                        .where(
                            Member.user_id == viewer_id,
                            Member.state == "request",
                            activity() > Member.visible_from_id,
                        )
                        .order_by(activity().desc())
                        .limit(MAX_REQUESTS_LISTED)
                    )
                ).all()
            ]
            senders = {c.created_by for c, _m in rows if c.created_by is not None}
            priority = await self.ctx.entitlements.holders(senders, Entitlement.PRIORITY_DMS)

            def key(row: tuple[Conversation, Member]) -> tuple[int, int]:
                c = row[0]
                return (0 if c.created_by in priority else 1, -(c.last_message_id or c.id))

            ordered = sorted(rows, key=key)
            if after is not None:
                ordered = [r for r in ordered if key(r) > after]
            page = ordered[:limit]
            views = await conversation_views(self.ctx, session, viewer_id, page)
        next_cursor = None
        if len(ordered) > limit and page:
            rank, minus = key(page[-1])
            next_cursor = encode_cursor(rank, -minus)
        return views, next_cursor

    async def unread(self, viewer_id: int) -> dict[str, int]:
        """``inbox``: inbox conversations with unread messages; ``requests``: requests
        waiting; ``messages``: unread messages across the inbox."""
        async with self.ctx.db.session(write=False) as session:
            rows = (
                await session.execute(
                    select(
                        Member.conversation_id,
                        Member.state,
                        Member.last_read_id,
                        Member.visible_from_id,
                        Conversation.kind,
                        activity(),
                    )
                    .join(Conversation, Conversation.id == Member.conversation_id)
                    .where(Member.user_id == viewer_id, Member.state.in_(CURRENT))
                )
            ).all()
            requests = sum(1 for r in rows if r[1] == "request" and r[5] > r[3])
            # Only conversations whose last message is past the read mark can hold unread.
            candidates = [r for r in rows if r[1] == "active" and r[5] > max(r[2], r[3])]
            counts: dict[int, int] = {}
            if candidates:
                blocked = await self.ctx.graph.blocked_ids(viewer_id)
                counts = await unread_counts(
                    session,
                    viewer_id,
                    [r[0] for r in candidates],
                    blocked=blocked,
                    groups={r[0] for r in candidates if r[4] == "group"},
                )
        return {
            "inbox": sum(1 for n in counts.values() if n > 0),
            "requests": requests,
            "messages": sum(counts.values()),
        }

    # ---- changing ----------------------------------------------------------------------

    async def _view(self, session: AsyncSession, locked: Locked, viewer_id: int) -> JSON:
        member = locked.member(viewer_id)
        assert member is not None
        [view] = await conversation_views(
            self.ctx, session, viewer_id, [(locked.conversation, member)]
        )
        return view

    def _admin(self, locked: Locked, actor_id: int, what: str) -> Member:
        member = locked.current(actor_id)
        check_admin(locked.conversation, member, what)
        return member

    async def rename(self, actor_id: int, conversation_id: int, name: str | None) -> JSON:
        """The group's admin renames it (null or blank clears the name); members see a
        system line. ``Forbidden`` for others and for direct conversations."""
        name = clean_name(name)
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            self._admin(locked, actor_id, "rename it")
            if locked.conversation.name != name:
                locked.conversation.name = name
                await post_system(self.ctx, session, locked, actor_id, "renamed", [], name=name)
                await announce_conversation(self.ctx, session, locked, locked.current_ids)
            view = await self._view(session, locked, actor_id)
            await session.commit()
        return view

    async def add_members(
        self, actor_id: int, conversation_id: int, usernames: Sequence[str]
    ) -> JSON:
        """The group's admin adds people. Each lands per their ``dm_policy`` (inbox or
        requests; ``Forbidden`` naming ``dm_policy`` for ``none``); unknown or blocked
        people are a 404; the group holds at most ``max_group_members``. People added
        back after leaving see only what is said from now on."""
        async with self.ctx.db.session(write=False) as session:
            conversation, me = await viewer_of(session, conversation_id, actor_id, write=True)
            check_admin(conversation, me, "add members")
            current = set(
                (
                    await session.scalars(
                        select(Member.user_id).where(
                            Member.conversation_id == conversation_id, Member.state.in_(CURRENT)
                        )
                    )
                ).all()
            )
        names = await self._resolve(actor_id, usernames, "usernames")
        wanted = list(names)
        fresh = [u for u in wanted if u not in current]
        if not fresh:
            return await self.get(actor_id, conversation_id)
        limit = self.ctx.policy.max_group_members
        if len(current) + len(fresh) > limit:
            raise InvalidInput("usernames", f"a group holds at most {limit} members")
        landings = await self._landings(actor_id, fresh, names)
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            self._admin(locked, actor_id, "add members")
            fresh = [u for u in fresh if u not in locked.current_ids]
            if len(locked.current_ids) + len(fresh) > limit:
                raise InvalidInput("usernames", f"a group holds at most {limit} members")
            bound = self.ctx.ids.next_id()
            added: list[Member] = []
            for user_id in fresh:
                member = locked.member(user_id)
                if member is None:
                    member = self._member(conversation_id, user_id, landings[user_id], bound)
                    session.add(member)
                    locked.members.append(member)
                else:
                    member.role = "member"
                    member.state = landings[user_id]
                    member.joined_at = self.ctx.clock.now()
                    member.visible_from_id = bound
                    member.visible_until_id = None
                    member.last_read_id = 0
                    member.last_delivered_id = 0
                added.append(member)
            await session.flush()
            if added:
                await post_system(self.ctx, session, locked, actor_id, "added", fresh)
                await self._notify_requests(session, actor_id, added)
                await announce_conversation(self.ctx, session, locked, locked.current_ids)
            view = await self._view(session, locked, actor_id)
            await session.commit()
        return view

    async def remove_member(self, actor_id: int, conversation_id: int, username: str) -> None:
        """The group's admin removes a member, or anyone removes themselves (leaves). The
        one who goes keeps read access up to that moment. When the admin leaves, the
        longest-standing member becomes admin. A direct conversation cannot be left
        (``Forbidden``; delete it instead)."""
        target_id = await self.ctx.people.find(username)
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            actor = locked.current(actor_id)
            if target_id == actor_id:
                if not locked.is_group:
                    raise Forbidden("a direct conversation cannot be left; delete it instead")
                target, event = actor, "left"
            else:
                self._admin(locked, actor_id, "remove members")
                found = locked.member(target_id) if target_id is not None else None
                if found is None or found.state not in CURRENT:
                    raise NotFound("No such member.")
                target, event = found, "removed"
            # Membership rows change before the stream delivery: on PostgreSQL a receipt
            # locks its member row, then the stream counters, so taking member rows after
            # the counters could deadlock with it.
            line_id = self.ctx.ids.next_id()
            target.visible_until_id = line_id
            if target.role == "admin":
                target.role = "member"
                heirs = [m for m in locked.members if m.state in CURRENT and m is not target]
                if heirs and not any(m.role == "admin" for m in heirs):
                    heirs[0].role = "admin"
            await session.flush()
            await post_system(
                self.ctx,
                session,
                locked,
                actor_id,
                event,
                [target.user_id],
                message_id=line_id,
            )
            target.state = event  # its row is ours already
            await session.flush()
            await announce_conversation(
                self.ctx, session, locked, [*locked.current_ids, target.user_id]
            )
            await session.commit()

    async def accept(self, viewer_id: int, conversation_id: int) -> JSON:
        """Accept a message request: the conversation moves to the inbox and the others
        start seeing the viewer's read receipts. Accepting twice changes nothing."""
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            member = locked.current(viewer_id)
            if member.state == "request":
                member.state = "active"
                await session.flush()
                await announce_conversation(self.ctx, session, locked, locked.current_ids)
            view = await self._view(session, locked, viewer_id)
            await session.commit()
        return view

    async def delete_for_me(self, viewer_id: int, conversation_id: int) -> None:
        """Hide everything so far from the viewer (a request: decline it). The viewer
        stays a member: a later message shows the conversation again, with only the
        new messages."""
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            member = locked.current(viewer_id)
            conversation = locked.conversation
            bound = max(member.visible_from_id, conversation.last_message_id or conversation.id)
            member.visible_from_id = bound
            member.last_read_id = max(member.last_read_id, bound)
            await session.flush()
            await self.ctx.stream.deliver(
                session,
                [viewer_id],
                "conversation.updated",
                {"id": str(conversation_id), "deleted": True},
            )
            await session.commit()


def check_admin(conversation: Conversation, member: Member, what: str) -> None:
    if conversation.kind != "group":
        raise Forbidden(f"this is a direct conversation: only a group's admin can {what}")
    if member.role != "admin":
        raise Forbidden(f"only the group's admin can {what}")


def encode_cursor(rank: int, before: int) -> str:
    raw = orjson.dumps({"r": rank, "b": str(before)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor_pair(cursor: str | None) -> tuple[int, int] | None:
    """(rank, -activity) of the last row of the previous page; a bad cursor is a 422."""
    if cursor is None:
        return None
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        rank, before = int(raw["r"]), int(raw["b"])
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidInput("query.cursor", "not a cursor this server issued") from exc
    if rank not in (0, 1, 2) or not 0 <= before < 2**63:
        raise InvalidInput("query.cursor", "not a cursor this server issued")
    return rank, -before


def decode_cursor(cursor: str | None) -> int | None:
    pair = decode_cursor_pair(cursor)
    return None if pair is None else -pair[1]
