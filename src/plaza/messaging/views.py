"""Messages and conversations as a given viewer sees them: JSON-ready dicts (ids as
strings) in the shapes of the pinned API, used both for HTTP answers and stream events.

Rendering a page takes a fixed number of queries whatever its length (people, media,
reactions, replied-to messages), not one per message.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.media import MediaInfo
from plaza.messaging.context import Context
from plaza.messaging.interfaces import Person
from plaza.messaging.models import Conversation, Member, Message, Preference, Reaction
from plaza.messaging.store import (
    hidden_among,
    latest_visible,
    members_of,
    sees,
    unread_counts,
)

JSON = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def person_dict(user_id: int, person: Person | None) -> JSON:
    if person is None:  # an account deleted meanwhile
        return {"id": str(user_id), "username": "", "display_name": "", "verified": False}
    return {
        "id": str(person.id),
        "username": person.username,
        "display_name": person.display_name,
        "verified": person.verified,
    }


def media_dict(info: MediaInfo) -> JSON:
    """A media item as posts show it."""
    return {
        "id": str(info.id),
        "kind": info.kind,
        "url": info.url,
        "thumbnail_url": info.thumbnail_url,
        "width": info.width,
        "height": info.height,
        "duration_ms": info.duration_ms,
        "alt_text": info.alt_text,
        "content_type": info.content_type,
    }


def reply_dict(target: Message | None, reply_to_id: int, *, visible: bool) -> JSON:
    """What a reply shows of the message it answers: its text, unless that message was
    deleted or is not visible to this viewer (then ``""``)."""
    if target is None:
        return {"id": str(reply_to_id), "sender_id": None, "text": ""}
    shown = visible and target.deleted_at is None
    return {
        "id": str(target.id),
        "sender_id": str(target.sender_id),
        "text": target.text if shown else "",
    }


def system_dict(system: Mapping[str, Any] | None) -> JSON | None:
    if system is None:
        return None
    out: JSON = {
        "event": system["event"],
        "actor_id": str(system["actor_id"]),
        "user_ids": [str(u) for u in system.get("user_ids", [])],
    }
    if "name" in system:
        out["name"] = system["name"]
    return out


def call_dict(call: Mapping[str, Any] | None) -> JSON | None:
    if call is None:
        return None
    return {
        "id": str(call["id"]),
        "media": str(call["media"]),
        "state": str(call["state"]),
        "missed": bool(call["missed"]),
        "duration_seconds": int(call["duration_seconds"]),
        "started_at": call.get("started_at"),
    }


def payment_dict(payment: Mapping[str, Any] | None) -> JSON | None:
    if payment is None:
        return None
    return {
        "id": str(payment["id"]),
        "amount": {"amount": int(payment["amount"]), "currency": str(payment["currency"])},
    }


def message_dict(
    message: Message,
    *,
    sender: Person | None,
    media: Sequence[MediaInfo] = (),
    reactions: Sequence[JSON] = (),
    reply: JSON | None = None,
) -> JSON:
    deleted = message.deleted_at is not None
    return {
        "id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "sender": person_dict(message.sender_id, sender),
        "client_id": message.client_id,
        "kind": message.kind,
        "text": "" if deleted else message.text,
        "reply_to": reply,
        "media": [] if deleted else [media_dict(m) for m in media],
        "reactions": [] if deleted else list(reactions),
        "created_at": ts(message.created_at),
        "edited_at": ts(message.edited_at),
        "deleted": deleted,
        "payment": payment_dict(message.payment),
        # A call line keeps its facts in the ``system`` column (see the model).
        "system": system_dict(message.system) if message.kind == "system" else None,
        "call": call_dict(message.system) if message.kind == "call" else None,
    }


async def reaction_summaries(
    session: AsyncSession, message_ids: Collection[int], viewer_ids: Collection[int]
) -> dict[int, dict[int, list[JSON]]]:
    """For each message, for each viewer: ``[{"emoji", "count", "me"}]`` in the order
    the emoji were first used. One query for all messages (and one more when several
    viewers' ``me`` differ)."""
    out: dict[int, dict[int, list[JSON]]] = {}
    if not message_ids:
        return out
    rows = (
        await session.execute(
            select(
                Reaction.message_id,
                Reaction.emoji,
                func.count(),
                func.min(Reaction.seq),
            )
            .where(Reaction.message_id.in_(list(message_ids)))
            .group_by(Reaction.message_id, Reaction.emoji)
        )
    ).all()
    if not rows:
        return out
    mine = set()
    if viewer_ids:
        mine = {
            (int(m), int(u), e)
            for m, u, e in (
                await session.execute(
                    select(Reaction.message_id, Reaction.user_id, Reaction.emoji).where(
                        Reaction.message_id.in_(list(message_ids)),
                        Reaction.user_id.in_(list(viewer_ids)),
                    )
                )
            ).all()
        }
    ordered = sorted(rows, key=lambda r: (r[3], r[1]))
    for viewer_id in viewer_ids:
        for message_id, emoji, count, _first in ordered:
            out.setdefault(int(message_id), {}).setdefault(viewer_id, []).append(
                {"emoji": emoji, "count": int(count), "me": (message_id, viewer_id, emoji) in mine}
            )
    return out


async def render_messages(
    ctx: Context,
    session: AsyncSession,
    messages: Sequence[Message],
    viewer: Member | Mapping[int, Member],
    *,
    blocked: Collection[int] = (),
    groups: Collection[int] = (),
) -> list[JSON]:
    """The messages as the viewer sees them (the caller has checked they may).
    ``viewer`` is the viewer's membership, or one per conversation id for messages of
    several conversations (the last messages of a list). ``blocked`` are the people
    blocked either way with the viewer, and ``groups`` the conversations among these
    that are groups: there a reply does not show what those people wrote."""
    if not messages:
        return []
    by_conversation = (
        {viewer.conversation_id: viewer} if isinstance(viewer, Member) else dict(viewer)
    )
    viewer_id = next(iter(by_conversation.values())).user_id
    people = await ctx.persons(m.sender_id for m in messages)
    media_ids = {i for m in messages if m.deleted_at is None for i in m.media_ids}
    media = await ctx.media.describe(media_ids) if media_ids else {}
    reactions = await reaction_summaries(
        session, [m.id for m in messages if m.deleted_at is None], [viewer_id]
    )
    replies = await replied_to(session, messages, viewer_id)
    out = []
    for m in messages:
        reply = None
        if m.reply_to_id is not None:
            target, hidden = replies.get(m.reply_to_id, (None, True))
            if target is not None and target.conversation_id != m.conversation_id:
                target = None
            member = by_conversation[m.conversation_id]
            visible = (
                target is not None
                and sees(member, target.id)
                and not hidden
                and not (
                    m.conversation_id in groups
                    and target.kind != "system"
                    and target.sender_id in blocked
                )
            )
            reply = reply_dict(target, m.reply_to_id, visible=visible)
        out.append(
            message_dict(
                m,
                sender=people.get(m.sender_id),
                media=[media[i] for i in m.media_ids if i in media],
                reactions=reactions.get(m.id, {}).get(viewer_id, []),
                reply=reply,
            )
        )
    return out


async def replied_to(
    session: AsyncSession, messages: Iterable[Message], viewer_id: int
) -> dict[int, tuple[Message, bool]]:
    """The messages that ``messages`` reply to, each with whether the viewer deleted it
    for themselves."""
    ids = {m.reply_to_id for m in messages if m.reply_to_id is not None}
    if not ids:
        return {}
    targets = (await session.scalars(select(Message).where(Message.id.in_(list(ids))))).all()
    hidden = await hidden_among(session, viewer_id, [t.id for t in targets])
    return {t.id: (t, t.id in hidden) for t in targets}


async def receipts_off(session: AsyncSession, user_ids: Collection[int]) -> set[int]:
    """Who of ``user_ids`` switched read receipts off."""
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(Preference.user_id).where(
            Preference.user_id.in_(list(user_ids)), Preference.read_receipts.is_(False)
        )
    )
    return set(rows.all())


def conversation_dict(
    conversation: Conversation,
    viewer: Member,
    members: Sequence[Member],
    people: Mapping[int, Person],
    *,
    private_receipts: Collection[int],
    unread: int,
    last_message: JSON | None,
) -> JSON:
    member_list = []
    read: JSON = {}
    delivered: JSON = {}
    former = viewer.state not in ("active", "request")
    for m in members:
        entry = person_dict(m.user_id, people.get(m.user_id))
        entry["role"] = m.role
        entry["state"] = m.state
        member_list.append(entry)
        # Until a member accepts (a request), their reads stay private; so do the reads
        # of those who switched receipts off. Former members see no marks: they would
        # tell what happened after they left.
        if m.state == "active" and not former:
            if m.last_read_id and m.user_id not in private_receipts:
                read[str(m.user_id)] = str(m.last_read_id)
            if m.last_delivered_id:
                delivered[str(m.user_id)] = str(m.last_delivered_id)
    return {
        "id": str(conversation.id),
        "kind": conversation.kind,
        "name": conversation.name,
        "created_at": ts(conversation.created_at),
        "members": member_list,
        "box": "requests" if viewer.state == "request" else "inbox",
        "state": viewer.state,
        "unread_count": unread,
        "last_message": last_message,
        "last_message_at": ts(last_message_at(conversation, last_message)),
        "read_receipts": read,
        "delivered": delivered,
    }


def last_message_at(conversation: Conversation, last: JSON | None) -> datetime | None:
    if last is None:
        return None
    if str(conversation.last_message_id) == last["id"]:
        return conversation.last_message_at
    return datetime.fromisoformat(last["created_at"].replace("Z", "+00:00"))


async def conversation_views(
    ctx: Context,
    session: AsyncSession,
    viewer_id: int,
    rows: Sequence[tuple[Conversation, Member]],
    *,
    blocked: Collection[int] | None = None,
) -> list[JSON]:
    """Conversations as ``viewer_id`` sees them, in the given order. A fixed number of
    queries, plus one per conversation whose last message the viewer may not see."""
    if not rows:
        return []
    ids = [c.id for c, _m in rows]
    members = await members_of(session, ids)
    by_conversation: dict[int, list[Member]] = {}
    for m in members:
        by_conversation.setdefault(m.conversation_id, []).append(m)
    people = await ctx.persons(m.user_id for m in members)
    private = await receipts_off(session, {m.user_id for m in members})
    if blocked is None:
        blocked = await ctx.graph.blocked_ids(viewer_id)
    groups = {c.id for c, _m in rows if c.kind == "group"}
    unread = await unread_counts(session, viewer_id, ids, blocked=blocked, groups=groups)
    last_ids = [c.last_message_id for c, _m in rows if c.last_message_id is not None]
    candidates = {
        m.id: m
        for m in (await session.scalars(select(Message).where(Message.id.in_(last_ids)))).all()
    }
    hidden = await hidden_among(session, viewer_id, list(candidates))
    lasts: dict[int, Message] = {}
    for conversation, member in rows:
        found = candidates.get(conversation.last_message_id or -1)
        if found is not None and (
            sees(member, found.id)
            and found.id not in hidden
            and not (
                conversation.kind == "group"
                and found.kind != "system"
                and found.sender_id in blocked
            )
        ):
            lasts[conversation.id] = found
            continue
        if conversation.last_message_id is None:
            continue
        older = await latest_visible(
            session, member, blocked=blocked, is_group=conversation.kind == "group"
        )
        if older is not None:
            lasts[conversation.id] = older
    viewers = {c.id: m for c, m in rows}
    ordered = list(lasts.values())
    rendered = dict(
        zip(
            [m.conversation_id for m in ordered],
            await render_messages(ctx, session, ordered, viewers, blocked=blocked, groups=groups),
            strict=True,
        )
    )
    out = []
    for conversation, member in rows:
        out.append(
            conversation_dict(
                conversation,
                member,
                by_conversation.get(conversation.id, []),
                people,
                private_receipts=private,
                unread=unread.get(conversation.id, 0),
                last_message=rendered.get(conversation.id),
            )
        )
    return out
