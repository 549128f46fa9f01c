"""``Messaging``: the domain's one service object, built once in ``app.py``.

It holds the feature modules (``conversations``, ``messages``, ``receipts``), the DM
settings section, and the few methods other domains call: ``record_payment`` and
``shares_conversation`` for the wallet, ``record_call``, ``has_messaged`` and
``shares_conversation`` for calls, ``resolve_for_report`` for safety and ``export`` for
the account's data export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import NotFound
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import RateLimiter
from plaza.messaging.context import Context, MessagingPolicy
from plaza.messaging.conversations import Conversations
from plaza.messaging.interfaces import Entitlements, Graph, Media, Notifier, People, Stream
from plaza.messaging.messages import Messages
from plaza.messaging.models import Conversation, Member, Message
from plaza.messaging.policy import MessagingPreferences
from plaza.messaging.receipts import Receipts
from plaza.messaging.store import CURRENT, viewer_of, visible_clause
from plaza.messaging.views import ts


class Messaging:
    def __init__(
        self,
        *,
        db: Database,
        bus: EventBus,
        clock: Clock,
        ids: SnowflakeGenerator,
        limiter: RateLimiter,
        stream: Stream,
        people: People,
        graph: Graph,
        entitlements: Entitlements,
        notifier: Notifier,
        media: Media,
        policy: MessagingPolicy | None = None,
    ) -> None:
        self.ctx = Context(
            db=db,
            bus=bus,
            clock=clock,
            ids=ids,
            limiter=limiter,
            stream=stream,
            people=people,
            graph=graph,
            entitlements=entitlements,
            notifier=notifier,
            media=media,
            policy=policy or MessagingPolicy(),
        )
        self.preferences = MessagingPreferences(db)
        self.conversations = Conversations(self.ctx, self.preferences)
        self.messages = Messages(self.ctx)
        self.receipts = Receipts(self.ctx, self.preferences)

    # ---- for the wallet --------------------------------------------------------------------

    async def record_payment(
        self,
        *,
        conversation_id: int,
        payer_id: int,
        payee_id: int,
        payment_id: int,
        amount: int,
        currency: str,
    ) -> None:
        """Post a ``payment`` message from the payer into the conversation, once per
        payment id. ``NotFound`` unless both are active members."""
        await self.messages.record_payment(
            conversation_id=conversation_id,
            payer_id=payer_id,
            payee_id=payee_id,
            payment_id=payment_id,
            amount=amount,
            currency=currency,
        )

    # ---- for calls -------------------------------------------------------------------------

    async def record_call(
        self,
        *,
        call_id: int,
        caller_id: int,
        callee_id: int,
        media: str,
        state: str,
        missed: bool,
        duration_seconds: int,
        started_at: datetime | None = None,
    ) -> bool:
        """Leave a ``call`` line from the caller in the two people's direct conversation
        (``message.created`` on both members' streams), once per call id: a replayed
        ``CallEnded`` posts nothing more. Creates no conversation: without a direct one
        holding both (active, or a request), or with a block either way, nothing is
        posted. Returns whether a line was posted."""
        return await self.messages.record_call(
            call_id=call_id,
            caller_id=caller_id,
            callee_id=callee_id,
            media=media,
            state=state,
            missed=missed,
            duration_seconds=duration_seconds,
            started_at=ts(started_at),
        )

    async def shares_conversation(self, conversation_id: int, a: int, b: int) -> bool:
        """Whether ``a`` and ``b`` are both active members of the conversation (a pending
        request does not count)."""
        if a == b:
            return False
        async with self.ctx.db.session(write=False) as session:
            count = await session.scalar(
                select(func.count())
                .select_from(Member)
                .where(
                    Member.conversation_id == conversation_id,
                    Member.user_id.in_((a, b)),
                    Member.state == "active",
                )
            )
        return int(count or 0) == 2

    async def has_messaged(self, sender_id: int, recipient_id: int) -> bool:
        """Whether ``sender_id`` ever sent ``recipient_id`` a message in their direct
        conversation (text or payment, deleted or not; a call line is not a message).
        For calls' consent rules."""
        if sender_id == recipient_id:
            return False
        key = f"{min(sender_id, recipient_id)}:{max(sender_id, recipient_id)}"
        async with self.ctx.db.session(write=False) as session:
            found = await session.scalar(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.direct_key == key,
                    Message.sender_id == sender_id,
                    Message.kind.not_in(("system", "call")),
                )
                .limit(1)
            )
        return found is not None

    # ---- for safety ------------------------------------------------------------------------

    async def resolve_for_report(self, viewer_id: int, subject_id: int) -> int | None:
        """Safety's subject resolver for ``message``: the sender's id when the viewer may
        see the message, else None (the report endpoint then answers 404)."""
        async with self.ctx.db.session(write=False) as session:
            conversation_id = await session.scalar(
                select(Message.conversation_id).where(Message.id == subject_id)
            )
            if conversation_id is None:
                return None
            try:
                conversation, member = await viewer_of(
                    session, conversation_id, viewer_id, write=False
                )
            except NotFound:
                return None
            group = conversation.kind == "group"
            blocked = await self.ctx.graph.blocked_ids(viewer_id) if group else set()
            sender = await session.scalar(
                select(Message.sender_id).where(
                    Message.id == subject_id,
                    Message.kind != "system",
                    visible_clause(member, blocked=blocked, is_group=group),
                )
            )
        return int(sender) if sender is not None else None

    # ---- for the account's data export -----------------------------------------------------

    async def export(self, user_id: int) -> dict[str, Any]:
        """The user's part of the data export (``AccountLifecycle`` exporter): their
        messaging settings, the conversations they are in, and the messages they sent
        (not others' messages: those belong to their senders)."""
        settings = await self.preferences.load(user_id)
        async with self.ctx.db.session(write=False) as session:
            memberships = (
                await session.scalars(
                    select(Member).where(Member.user_id == user_id).order_by(Member.joined_at)
                )
            ).all()
            sent = (
                await session.scalars(
                    select(Message)
                    .where(Message.sender_id == user_id, Message.deleted_at.is_(None))
                    .order_by(Message.id)
                )
            ).all()
        return {
            "settings": settings.model_dump(mode="json"),
            "conversations": [
                {
                    "id": str(m.conversation_id),
                    "role": m.role,
                    "state": m.state,
                    "joined_at": ts(m.joined_at),
                    "current": m.state in CURRENT,
                }
                for m in memberships
            ],
            "messages_sent": [
                {
                    "id": str(m.id),
                    "conversation_id": str(m.conversation_id),
                    "kind": m.kind,
                    "text": m.text,
                    "reply_to": str(m.reply_to_id) if m.reply_to_id is not None else None,
                    "media_ids": [str(i) for i in m.media_ids],
                    "created_at": ts(m.created_at),
                    "edited_at": ts(m.edited_at),
                }
                for m in sent
            ],
        }
