"""Queries shared by the messaging modules: memberships, visibility, unread counts.

Everything takes the caller's session, so that a write transaction reads its own
writes (on SQLite a separate reader would not see them before commit).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import NotFound
from plaza.messaging.models import Conversation, Hidden, Member, Message

CURRENT = ("active", "request")
FORMER = ("left", "removed")
NOT_FOUND = "No such conversation."


def dialect_insert(session: AsyncSession, model: type[Any]) -> Any:
    """``INSERT`` of the session's dialect, with ``on_conflict_*`` available."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def lock_conversation(session: AsyncSession, conversation_id: int) -> None:
    """Serialise writers of one conversation until commit, before they mint message ids,
    so that message ids in a conversation commit in id order (an ``after=`` catch-up
    never skips a message that commits late). On SQLite the write transaction already
    holds the database lock: opening it is enough."""
    if is_postgres(session):
        await session.execute(
            select(Conversation.id).where(Conversation.id == conversation_id).with_for_update()
        )
    else:
        await session.connection()


async def membership(session: AsyncSession, conversation_id: int, user_id: int) -> Member | None:
    return await session.get(Member, (conversation_id, user_id))


async def viewer_of(
    session: AsyncSession, conversation_id: int, user_id: int, *, write: bool
) -> tuple[Conversation, Member]:
    """The conversation and the viewer's membership, or ``NotFound``: never a member, or
    (for ``write``) no longer one. Former members may still read what they saw."""
    row = (
        await session.execute(
            select(Conversation, Member)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, Member.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    conversation, member = row
    if write and member.state not in CURRENT:
        raise NotFound(NOT_FOUND)
    return conversation, member


async def members_of(session: AsyncSession, conversation_ids: Collection[int]) -> list[Member]:
    if not conversation_ids:
        return []
    rows = await session.scalars(
        select(Member)
        .where(Member.conversation_id.in_(list(conversation_ids)))
        .order_by(Member.conversation_id, Member.joined_at, Member.user_id)
    )
    return list(rows.all())


def sees(member: Member, message_id: int) -> bool:
    """Whether the membership's bounds include ``message_id`` (``dm_hidden`` aside)."""
    if message_id <= member.visible_from_id:
        return False
    return member.visible_until_id is None or message_id <= member.visible_until_id


def visible_clause(
    member: Member, *, blocked: Collection[int], is_group: bool
) -> ColumnElement[bool]:
    """SQL: a message of the member's conversation that the member may see."""
    clauses: list[ColumnElement[bool]] = [
        Message.conversation_id == member.conversation_id,
        Message.id > member.visible_from_id,
        ~exists().where(Hidden.user_id == member.user_id, Hidden.message_id == Message.id),
    ]
    if member.visible_until_id is not None:
        clauses.append(Message.id <= member.visible_until_id)
    if is_group and blocked:
        # In a group, messages of someone you blocked (or who blocked you) are left out;
        # system lines (who joined, who left) stay.
        clauses.append(or_(Message.kind == "system", Message.sender_id.not_in(list(blocked))))
    return and_(*clauses)


async def hidden_among(
    session: AsyncSession, user_id: int, message_ids: Collection[int]
) -> set[int]:
    if not message_ids:
        return set()
    rows = await session.scalars(
        select(Hidden.message_id).where(
            Hidden.user_id == user_id, Hidden.message_id.in_(list(message_ids))
        )
    )
    return set(rows.all())


async def latest_visible(
    session: AsyncSession, member: Member, *, blocked: Collection[int], is_group: bool
) -> Message | None:
    """The newest message the member may see in their conversation."""
    result: Message | None = await session.scalar(
        select(Message)
        .where(visible_clause(member, blocked=blocked, is_group=is_group))
        .order_by(Message.id.desc())
        .limit(1)
    )
    return result


def unread_query(
    user_id: int, conversation_ids: Sequence[int], *, blocked: Collection[int], groups: set[int]
) -> Select[int, int]:
    """Per conversation, the messages the user has not read: from others, not system
    lines, not deleted, within the membership's bounds, not hidden, and (in groups) not
    from someone blocked either way."""
    m = Member
    query = (
        select(Message.conversation_id, func.count(Message.id))
        .join(m, and_(m.conversation_id == Message.conversation_id, m.user_id == user_id))
        .where(
            Message.conversation_id.in_(list(conversation_ids)),
            Message.id > m.last_read_id,
            Message.id > m.visible_from_id,
            or_(m.visible_until_id.is_(None), Message.id <= m.visible_until_id),
            Message.sender_id != user_id,
            Message.kind != "system",
            Message.deleted_at.is_(None),
            ~exists().where(Hidden.user_id == user_id, Hidden.message_id == Message.id),
        )
        .group_by(Message.conversation_id)
    )
    if blocked and groups:
        query = query.where(
            or_(
                Message.conversation_id.not_in(list(groups)),
                Message.sender_id.not_in(list(blocked)),
            )
        )
    return query


async def unread_counts(
    session: AsyncSession,
    user_id: int,
    conversation_ids: Sequence[int],
    *,
    blocked: Collection[int],
    groups: set[int],
) -> dict[int, int]:
    if not conversation_ids:
        return {}
    rows = await session.execute(
        unread_query(user_id, conversation_ids, blocked=blocked, groups=groups)
    )
    return {int(cid): int(n) for cid, n in rows.all()}


def activity() -> ColumnElement[int]:
    """A conversation's place in the lists: its last message, or its creation."""
    return func.coalesce(Conversation.last_message_id, Conversation.id)
