"""Storing a message and putting it on the members' streams, in one transaction.

Every message (text, system line, payment) goes through ``post``: inside the caller's
write transaction, with the conversation locked (``load_locked``), it inserts the row
once per ``(sender, client_id)``, moves the conversation's last message, and calls
``Stream.deliver`` for every current member, so that a message the server acknowledged
is always replayable from the stream. A group's members who blocked the sender, or
whom the sender blocked, get nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import NotFound
from plaza.media import MediaInfo
from plaza.messaging.context import Context
from plaza.messaging.events import MessageSent
from plaza.messaging.interfaces import Person
from plaza.messaging.models import Conversation, Member, Message
from plaza.messaging.store import CURRENT, NOT_FOUND, dialect_insert, sees
from plaza.messaging.views import JSON, conversation_views, message_dict, reply_dict

MEDIA_SUBJECT = "message"


@dataclass
class Locked:
    """A conversation locked for writing, with all its memberships."""

    conversation: Conversation
    members: list[Member]

    def member(self, user_id: int) -> Member | None:
        for m in self.members:
            if m.user_id == user_id:
                return m
        return None

    def current(self, user_id: int) -> Member:
        """The user's membership if they are a member now; else ``NotFound``."""
        m = self.member(user_id)
        if m is None or m.state not in CURRENT:
            raise NotFound(NOT_FOUND)
        return m

    @property
    def current_ids(self) -> list[int]:
        return [m.user_id for m in self.members if m.state in CURRENT]

    @property
    def is_group(self) -> bool:
        return self.conversation.kind == "group"


async def load_locked(session: AsyncSession, conversation_id: int) -> Locked:
    """The conversation and its members, locked until commit (one statement); writers of
    one conversation queue here before minting message ids, so ids in a conversation
    commit in order and an ``after=`` catch-up never skips one that committed late.
    (On SQLite the write transaction's lock does this; FOR UPDATE is not rendered.)"""
    rows = (
        await session.execute(
            select(Conversation, Member)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id)
            .order_by(Member.joined_at, Member.user_id)
            .with_for_update(of=Conversation)
        )
    ).all()
    if not rows:
        raise NotFound(NOT_FOUND)
    return Locked(rows[0][0], [m for _c, m in rows])


def fingerprint(conversation_id: int, text: str, reply_to: int | None, media: Sequence[int]) -> str:
    """What a send looked like, to tell a retry from a different message reusing its
    client_id."""
    raw = orjson.dumps([conversation_id, text, reply_to, list(media)])
    return hashlib.sha256(raw).hexdigest()[:32]


def recipients(
    locked: Locked, sender_id: int, blocked: Collection[int], *, system: bool
) -> list[int]:
    """Who gets a message on their stream: the current members (the sender's own
    devices too), minus, in a group, anyone blocked either way with the sender."""
    ids = locked.current_ids
    if locked.is_group and not system and blocked:
        ids = [u for u in ids if u == sender_id or u not in blocked]
    return ids


async def post(
    ctx: Context,
    session: AsyncSession,
    locked: Locked,
    *,
    sender_id: int,
    sender: Person | None,
    kind: str = "text",
    text: str = "",
    client_id: str | None = None,
    print_: str | None = None,
    reply_to: Message | None = None,
    media_ids: Sequence[int] = (),
    payment: dict[str, Any] | None = None,
    system: dict[str, Any] | None = None,
    blocked: Collection[int] = (),
    reply_hidden: Collection[int] = (),
    message_id: int | None = None,
) -> tuple[Message, JSON] | None:
    """Store and deliver one message in ``locked``'s conversation. Returns the message
    and its payload as the sender sees it, or None when ``(sender, client_id)`` exists
    already (the caller answers with that one). Media must be the sender's own ready
    media (``InvalidInput("media_ids")`` otherwise). ``message_id``, when given, was
    minted by the caller after ``load_locked``.

    Callers change member rows before this (it takes the stream counters): a receipt
    locks its member row and then the counters, so the reverse order could deadlock."""
    conversation = locked.conversation
    if message_id is None:
        message_id = ctx.ids.next_id()
    now = ctx.clock.now()
    values = {
        "id": message_id,
        "conversation_id": conversation.id,
        "sender_id": sender_id,
        "client_id": client_id,
        "fingerprint": print_,
        "kind": kind,
        "text": text,
        "reply_to_id": reply_to.id if reply_to is not None else None,
        "media_ids": list(media_ids),
        "payment": payment,
        "system": system,
        "created_at": now,
    }
    statement = dialect_insert(session, Message).values(**values)
    if client_id is not None:
        statement = statement.on_conflict_do_nothing(
            index_elements=[Message.sender_id, Message.client_id]
        )
    inserted = await session.scalar(statement.returning(Message.id))
    if inserted is None:
        return None
    message = Message(**values, edited_at=None, deleted_at=None)
    infos: list[MediaInfo] = []
    if media_ids:
        infos = await ctx.media.attach(
            session,
            owner_id=sender_id,
            media_ids=media_ids,
            subject=MEDIA_SUBJECT,
            subject_id=message_id,
        )
    conversation.last_message_id = message_id
    conversation.last_message_at = now
    await session.flush()
    to = recipients(locked, sender_id, blocked, system=kind == "system")
    base = message_dict(message, sender=sender, media=infos)
    await deliver_message(ctx, session, locked, message, base, reply_to, to, reply_hidden)
    ctx.bus.publish(
        session,
        MessageSent(
            conversation_id=conversation.id,
            message_id=message_id,
            sender_id=sender_id,
            kind=kind,
            recipient_ids=to,
        ),
    )
    if reply_to is not None:
        # The sender could see what they replied to (``messages`` checked it).
        base = {**base, "reply_to": reply_dict(reply_to, reply_to.id, visible=True)}
    return message, base


async def deliver_message(
    ctx: Context,
    session: AsyncSession,
    locked: Locked,
    message: Message,
    base: JSON,
    reply_to: Message | None,
    to: Sequence[int],
    reply_hidden: Collection[int] = (),
    *,
    type: str = "message.created",
) -> None:
    """One ``deliver`` per distinct payload: everyone gets ``base``, except that a reply
    shows the replied-to text only to members who can see that message (within their
    bounds, and not in ``reply_hidden``: blocked either way with its sender)."""
    if reply_to is None:
        await ctx.stream.deliver(session, to, type, base)
        return
    shown = {**base, "reply_to": reply_dict(reply_to, reply_to.id, visible=True)}
    blank = {**base, "reply_to": reply_dict(reply_to, reply_to.id, visible=False)}
    seeing: list[int] = []
    not_seeing: list[int] = []
    for user_id in to:
        member = locked.member(user_id)
        ok = member is not None and sees(member, reply_to.id) and user_id not in reply_hidden
        (seeing if ok else not_seeing).append(user_id)
    if seeing:
        await ctx.stream.deliver(session, seeing, type, shown)
    if not_seeing:
        await ctx.stream.deliver(session, not_seeing, type, blank)


async def post_system(
    ctx: Context,
    session: AsyncSession,
    locked: Locked,
    actor_id: int,
    event: str,
    user_ids: Sequence[int],
    *,
    name: str | None = None,
    message_id: int | None = None,
) -> None:
    """Post a system line ("alice added carol", "renamed the group") from ``actor_id``
    into ``locked``'s conversation, delivered like any message."""
    system: dict[str, Any] = {"event": event, "actor_id": actor_id, "user_ids": list(user_ids)}
    if name is not None:
        system["name"] = name
    await post(
        ctx,
        session,
        locked,
        sender_id=actor_id,
        sender=await ctx.sender(actor_id),
        kind="system",
        system=system,
        message_id=message_id,
    )


async def announce_conversation(
    ctx: Context, session: AsyncSession, locked: Locked, user_ids: Collection[int]
) -> None:
    """``conversation.updated`` with the conversation as each of ``user_ids`` sees it
    (created, renamed, members changed, accepted)."""
    for user_id in sorted(set(user_ids)):
        member = locked.member(user_id)
        if member is None:
            continue
        [view] = await conversation_views(ctx, session, user_id, [(locked.conversation, member)])
        await ctx.stream.deliver(session, [user_id], "conversation.updated", view)
