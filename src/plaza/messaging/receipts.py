"""Read and delivered marks, and typing indicators.

A read mark is per user, not per device: reading on one device clears the unread count
on every other, because the ``receipt`` event always goes to the reader's own devices.
The other members get it only when the reader shares read receipts and has accepted the
conversation. Marks never move back.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import InvalidInput
from plaza.messaging.context import Context
from plaza.messaging.models import Member, Message
from plaza.messaging.policy import MessagingPreferences
from plaza.messaging.store import CURRENT, viewer_of


class Receipts:
    def __init__(self, ctx: Context, preferences: MessagingPreferences) -> None:
        self.ctx = ctx
        self.preferences = preferences

    async def _others(self, session: AsyncSession, conversation_id: int, user_id: int) -> list[int]:
        rows = await session.scalars(
            select(Member.user_id).where(
                Member.conversation_id == conversation_id,
                Member.state.in_(CURRENT),
                Member.user_id != user_id,
            )
        )
        return list(rows.all())

    async def mark(
        self,
        user_id: int,
        conversation_id: int,
        message_id: int,
        kind: Literal["read", "delivered"],
    ) -> None:
        """Move the user's read (or delivered) mark up to ``message_id``, a message of
        this conversation (``InvalidInput("message_id")`` otherwise). Reading also counts
        as delivered. A mark at or past it already changes nothing and sends nothing."""
        shares = True
        if kind == "read":
            shares = (await self.preferences.load(user_id)).read_receipts
        async with self.ctx.db.session() as session:
            conversation, member = await viewer_of(session, conversation_id, user_id, write=True)
            found = await session.scalar(
                select(Message.id).where(
                    Message.id == message_id, Message.conversation_id == conversation_id
                )
            )
            if found is None:
                raise InvalidInput("message_id", "no such message in this conversation")
            column = Member.last_read_id if kind == "read" else Member.last_delivered_id
            values = {column.key: message_id}
            if kind == "read" and member.last_delivered_id < message_id:
                values["last_delivered_id"] = message_id
            result = await session.execute(
                update(Member)
                .where(
                    Member.conversation_id == conversation_id,
                    Member.user_id == user_id,
                    column < message_id,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return
            to: list[int] = [user_id] if kind == "read" else []
            if shares and member.state == "active":
                others = await self._others(session, conversation_id, user_id)
                if others and conversation.kind == "group":
                    blocked = await self.ctx.graph.blocked_ids(user_id)
                    others = [u for u in others if u not in blocked]
                to += others
            if to:
                data = {
                    "conversation_id": str(conversation_id),
                    "user_id": str(user_id),
                    "kind": kind,
                    "message_id": str(message_id),
                }
                await self.ctx.stream.deliver(session, to, "receipt", data)
            await session.commit()

    async def typing(self, user_id: int, conversation_id: int) -> None:
        """Tell the other current members' live devices that the user is typing (never
        stored). Past a light per-user limit the signal is dropped silently: it is only
        a hint, and clients repeat it."""
        async with self.ctx.db.session(write=False) as session:
            conversation, _member = await viewer_of(session, conversation_id, user_id, write=True)
            others = await self._others(session, conversation_id, user_id)
        decision = await self.ctx.limiter.acquire(f"dm:typing:{user_id}", self.ctx.policy.typing)
        if not decision.allowed or not others:
            return
        if conversation.kind == "group":
            blocked = await self.ctx.graph.blocked_ids(user_id)
            others = [u for u in others if u not in blocked]
        me = await self.ctx.sender(user_id)
        data = {
            "conversation_id": str(conversation_id),
            "user_id": str(user_id),
            "username": me.username if me is not None else "",
        }
        await self.ctx.stream.send_ephemeral(others, "typing", data)
