"""Messages: sending (idempotent per client_id), history, edits, deletes, reactions,
the payment lines the wallet posts and the call lines calls leave.

The send path is hot (benchmarked in thousands per second), so it stays short: the
block list and the sender's name are read before the write transaction opens; inside
it go one locking read of the conversation and its members, the insert, the
conversation's last message and the stream delivery, then the commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.errors import Forbidden, InvalidInput, NotFound
from plaza.core.ratelimit import enforce
from plaza.messaging.context import Context
from plaza.messaging.delivery import (
    MEDIA_SUBJECT,
    Locked,
    announce_conversation,
    fingerprint,
    load_locked,
    post,
    recipients,
)
from plaza.messaging.models import Conversation, Hidden, Member, Message, MessageEdit, Reaction
from plaza.messaging.policy import Blocked, check_emoji, check_text
from plaza.messaging.store import (
    CURRENT,
    dialect_insert,
    sees,
    viewer_of,
    visible_clause,
)
from plaza.messaging.views import (
    JSON,
    reaction_summaries,
    render_messages,
    reply_dict,
    ts,
)

NO_MESSAGE = "No such message."


@dataclass(frozen=True)
class Sent:
    message: JSON
    created: bool


class Messages:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ---- sending -----------------------------------------------------------------------

    async def send(
        self,
        sender_id: int,
        conversation_id: int,
        *,
        text: str,
        client_id: str | None,
        reply_to: int | None = None,
        media_ids: Sequence[int] = (),
    ) -> Sent:
        """Send a message. The same ``client_id`` again from the same sender stores
        nothing and answers the first message (``created`` False), even when the two
        race; with a different body it is ``InvalidInput("client_id")``.

        Raises ``NotFound`` unless the sender is a member now, ``Forbidden("blocked")``
        in a direct conversation with a block either way, ``InvalidInput`` for text
        (at most 10,000 code points; not empty unless media is attached), media (at
        most 4 of the sender's ready, unattached media) or a reply to a message not in
        this conversation or not visible, and ``RateLimited`` past the per-minute limit.
        Replying to a message request accepts it."""
        policy = self.ctx.policy
        check_text(text, max_length=policy.max_text_length, has_media=bool(media_ids))
        if len(media_ids) > policy.max_media:
            raise InvalidInput("media_ids", f"at most {policy.max_media} media per message")
        await enforce(
            self.ctx.limiter,
            f"dm:msg:{sender_id}",
            policy.messages,
            "Too many messages in a short time; slow down.",
        )
        blocked = await self.ctx.graph.blocked_ids(sender_id)
        sender = await self.ctx.sender(sender_id)
        print_ = fingerprint(conversation_id, text, reply_to, media_ids) if client_id else None
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            me = locked.current(sender_id)
            if not locked.is_group and any(u in blocked for u in locked.current_ids):
                raise Blocked()
            target = None
            if reply_to is not None:
                target = await self._visible(session, locked, me, reply_to, blocked)
                if target is None:
                    raise InvalidInput("reply_to", "no such message in this conversation")
            first = locked.conversation.last_message_id is None
            reply_hidden = await self.reply_blocked(locked, target) if target else set()
            accepting = me.state == "request"
            if accepting:
                # Replying accepts: the conversation moves to the inbox. The row changes
                # before the delivery (see ``post``); a duplicate rolls it back.
                me.state = "active"
            result = await post(
                self.ctx,
                session,
                locked,
                sender_id=sender_id,
                sender=sender,
                text=text,
                client_id=client_id,
                print_=print_,
                reply_to=target,
                media_ids=media_ids,
                blocked=blocked,
                reply_hidden=reply_hidden,
            )
            if result is None:
                await session.rollback()
            else:
                if accepting:
                    await announce_conversation(self.ctx, session, locked, locked.current_ids)
                if first and not locked.is_group:
                    for m in locked.members:
                        if m.state == "request":
                            await self.ctx.notifier.notify(
                                session,
                                recipient_id=m.user_id,
                                actor_id=sender_id,
                                kind="message_request",
                            )
                await session.commit()
                return Sent(result[1], created=True)
        assert client_id is not None
        return Sent(await self._replay(sender_id, client_id, print_), created=False)

    async def _replay(self, sender_id: int, client_id: str, print_: str | None) -> JSON:
        async with self.ctx.db.session(write=False) as session:
            message = await session.scalar(
                select(Message).where(
                    Message.sender_id == sender_id, Message.client_id == client_id
                )
            )
            if message is None:
                raise NotFound(NO_MESSAGE)
            if message.fingerprint != print_:
                raise InvalidInput("client_id", "was already used for a different message")
            conversation, member = await viewer_of(
                session, message.conversation_id, sender_id, write=False
            )
            group = conversation.kind == "group"
            blocked = await self.ctx.graph.blocked_ids(sender_id) if group else set()
            [out] = await render_messages(
                self.ctx,
                session,
                [message],
                member,
                blocked=blocked,
                groups=_groups(conversation.id, group),
            )
        return out

    async def _visible(
        self,
        session: AsyncSession,
        locked: Locked | None,
        member: Member,
        message_id: int,
        blocked: Collection[int],
        *,
        is_group: bool | None = None,
    ) -> Message | None:
        """The message if ``member`` may see it in their conversation."""
        group = locked.is_group if locked is not None else bool(is_group)
        return await session.scalar(
            select(Message).where(
                Message.id == message_id, visible_clause(member, blocked=blocked, is_group=group)
            )
        )

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
        """Post a payment line from the payer into the conversation (the wallet calls
        this after a payment made from a DM). Idempotent per payment id. ``NotFound``
        unless both are active members."""
        async with self.ctx.db.session() as session:
            locked = await load_locked(session, conversation_id)
            for user_id in (payer_id, payee_id):
                m = locked.member(user_id)
                if m is None or m.state != "active":
                    raise NotFound("No such conversation.")
            result = await post(
                self.ctx,
                session,
                locked,
                sender_id=payer_id,
                sender=await self.ctx.sender(payer_id),
                kind="payment",
                client_id=f"payment:{payment_id}",
                print_=fingerprint(conversation_id, "", None, ()),
                payment={"id": payment_id, "amount": amount, "currency": currency},
            )
            if result is None:
                return
            await session.commit()

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
        started_at: str | None,
    ) -> bool:
        """Post a ``call`` line from the caller into the pair's direct conversation (the
        calls domain's ``CallEnded``). Idempotent per call id. Creates nothing: without
        a direct conversation that holds both now (active or a request), or with a
        block either way, nothing is posted. Returns whether a line was posted."""
        if caller_id == callee_id or await self.ctx.graph.blocked_either_way(caller_id, callee_id):
            return False
        key = f"{min(caller_id, callee_id)}:{max(caller_id, callee_id)}"
        call = {
            "id": call_id,
            "media": media,
            "state": state,
            "missed": missed,
            "duration_seconds": duration_seconds,
            "started_at": started_at,
        }
        sender = await self.ctx.sender(caller_id)
        async with self.ctx.db.session() as session:
            conversation_id = await session.scalar(
                select(Conversation.id).where(Conversation.direct_key == key)
            )
            if conversation_id is None:
                return False
            locked = await load_locked(session, conversation_id)
            for user_id in (caller_id, callee_id):
                m = locked.member(user_id)
                if m is None or m.state not in CURRENT:
                    return False
            result = await post(
                self.ctx,
                session,
                locked,
                sender_id=caller_id,
                sender=sender,
                kind="call",
                client_id=f"call:{call_id}",
                print_=fingerprint(conversation_id, "", None, ()),
                # The call's facts ride in the row's structured column (as a system
                # line's do): no column of its own, no migration.
                system=call,
            )
            if result is None:
                return False
            await session.commit()
        return True

    # ---- reading -----------------------------------------------------------------------

    async def history(
        self,
        viewer_id: int,
        conversation_id: int,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> tuple[list[JSON], int | None]:
        """A page of what the viewer may see: newest first below ``before``, or oldest
        first above ``after`` (catch-up). Returns the messages and the id to continue
        from (None at the end). Former members see up to when they left."""
        async with self.ctx.db.session(write=False) as session:
            conversation, member = await viewer_of(session, conversation_id, viewer_id, write=False)
            group = conversation.kind == "group"
            blocked = await self.ctx.graph.blocked_ids(viewer_id) if group else set()
            query = select(Message).where(visible_clause(member, blocked=blocked, is_group=group))
            if after is not None:
                query = query.where(Message.id > after).order_by(Message.id)
            else:
                if before is not None:
                    query = query.where(Message.id < before)
                query = query.order_by(Message.id.desc())
            rows = list((await session.scalars(query.limit(limit + 1))).all())
            more = len(rows) > limit
            rows = rows[:limit]
            out = await render_messages(
                self.ctx,
                session,
                rows,
                member,
                blocked=blocked,
                groups=_groups(conversation_id, group),
            )
        return out, (rows[-1].id if more and rows else None)

    async def get(self, viewer_id: int, conversation_id: int, message_id: int) -> JSON:
        """One message the viewer may see; ``NotFound`` otherwise."""
        async with self.ctx.db.session(write=False) as session:
            conversation, member = await viewer_of(session, conversation_id, viewer_id, write=False)
            group = conversation.kind == "group"
            blocked = await self.ctx.graph.blocked_ids(viewer_id) if group else set()
            message = await self._visible(
                session, None, member, message_id, blocked, is_group=group
            )
            if message is None:
                raise NotFound(NO_MESSAGE)
            [out] = await render_messages(
                self.ctx,
                session,
                [message],
                member,
                blocked=blocked,
                groups=_groups(conversation_id, group),
            )
        return out

    async def edits(self, viewer_id: int, conversation_id: int, message_id: int) -> list[JSON]:
        """Earlier versions of a message the viewer may see, oldest first."""
        await self.get(viewer_id, conversation_id, message_id)
        async with self.ctx.db.session(write=False) as session:
            rows = await session.scalars(
                select(MessageEdit)
                .where(MessageEdit.message_id == message_id)
                .order_by(MessageEdit.id)
            )
            return [
                {"text": e.text, "edited_at": ts(e.replaced_at), "written_at": ts(e.written_at)}
                for e in rows
            ]

    # ---- changing ----------------------------------------------------------------------

    async def _open(
        self, session: AsyncSession, actor_id: int, conversation_id: int, message_id: int
    ) -> tuple[Locked, Member, Message, set[int]]:
        locked = await load_locked(session, conversation_id)
        member = locked.current(actor_id)
        blocked = await self.ctx.graph.blocked_ids(actor_id) if locked.is_group else set()
        message = await self._visible(session, locked, member, message_id, blocked)
        if message is None:
            raise NotFound(NO_MESSAGE)
        return locked, member, message, blocked

    async def _render_for(
        self,
        session: AsyncSession,
        locked: Locked,
        member: Member,
        message: Message,
        blocked: set[int],
    ) -> JSON:
        groups = _groups(locked.conversation.id, locked.is_group)
        [out] = await render_messages(
            self.ctx, session, [message], member, blocked=blocked, groups=groups
        )
        return out

    async def edit(self, editor_id: int, conversation_id: int, message_id: int, text: str) -> JSON:
        """The sender replaces the text within the edit window (``Forbidden`` after it,
        and for others' messages, deleted messages and system or payment lines). The
        earlier version is kept (``edits``). The same text again changes nothing."""
        async with self.ctx.db.session() as session:
            locked, member, message, blocked = await self._open(
                session, editor_id, conversation_id, message_id
            )
            if message.sender_id != editor_id:
                raise Forbidden("only the sender can edit a message")
            if message.kind != "text":
                raise Forbidden("only text messages can be edited")
            if message.deleted_at is not None:
                raise Forbidden("a deleted message cannot be edited")
            now = self.ctx.clock.now()
            window = self.ctx.policy.edit_window
            if now - message.created_at > window:
                minutes = int(window.total_seconds() // 60)
                raise Forbidden(
                    f"edit window: a message can be edited for {minutes} minutes after sending"
                )
            check_text(
                text, max_length=self.ctx.policy.max_text_length, has_media=bool(message.media_ids)
            )
            if text != message.text:
                session.add(
                    MessageEdit(
                        id=self.ctx.ids.next_id(),
                        message_id=message.id,
                        text=message.text,
                        written_at=message.edited_at or message.created_at,
                        replaced_at=now,
                    )
                )
                message.text = text
                message.edited_at = now
                await session.flush()
                await self._deliver_update(session, locked, message)
            out = await self._render_for(session, locked, member, message, blocked)
            await session.commit()
        return out

    async def delete(
        self,
        actor_id: int,
        conversation_id: int,
        message_id: int,
        scope: Literal["me", "everyone"],
    ) -> None:
        """``me``: hide the message from the actor's devices only. ``everyone``: the
        sender removes its text, media, reactions and edit history for all (no time
        limit); the message stays as "deleted". ``Forbidden`` for others' messages and
        system or payment lines."""
        async with self.ctx.db.session() as session:
            locked, _member, message, _blocked = await self._open(
                session, actor_id, conversation_id, message_id
            )
            if scope == "me":
                await session.execute(
                    dialect_insert(session, Hidden)
                    .values(user_id=actor_id, message_id=message_id)
                    .on_conflict_do_nothing()
                )
                data = {
                    "id": str(message_id),
                    "conversation_id": str(conversation_id),
                    "scope": "me",
                }
                await self.ctx.stream.deliver(session, [actor_id], "message.deleted", data)
                await session.commit()
                return
            if message.sender_id != actor_id:
                raise Forbidden("only the sender can delete a message for everyone")
            if message.kind != "text":
                raise Forbidden("only text messages can be deleted for everyone")
            if message.deleted_at is not None:
                return
            message.deleted_at = self.ctx.clock.now()
            message.text = ""
            message.media_ids = []
            await session.execute(delete(Reaction).where(Reaction.message_id == message_id))
            await session.execute(delete(MessageEdit).where(MessageEdit.message_id == message_id))
            await self.ctx.media.release(session, subject=MEDIA_SUBJECT, subject_id=message_id)
            await session.flush()
            to = await self._audience(session, locked, message)
            data = {
                "id": str(message_id),
                "conversation_id": str(conversation_id),
                "scope": "everyone",
            }
            await self.ctx.stream.deliver(session, to, "message.deleted", data)
            await session.commit()

    async def react(
        self, actor_id: int, conversation_id: int, message_id: int, emoji: str, *, add: bool
    ) -> JSON:
        """Add (idempotent) or take back the actor's reaction. A message holds at most
        ``max_reactions`` distinct emoji (``InvalidInput("emoji")`` beyond)."""
        check_emoji(emoji)
        async with self.ctx.db.session() as session:
            locked, member, message, blocked = await self._open(
                session, actor_id, conversation_id, message_id
            )
            if message.deleted_at is not None:
                raise Forbidden("a deleted message takes no reactions")
            changed = False
            if add:
                emojis = set(
                    (
                        await session.scalars(
                            select(Reaction.emoji)
                            .where(Reaction.message_id == message_id)
                            .distinct()
                        )
                    ).all()
                )
                limit = self.ctx.policy.max_reactions
                if emoji not in emojis and len(emojis) >= limit:
                    raise InvalidInput(
                        "emoji", f"a message holds at most {limit} different reactions"
                    )
                result = await session.execute(
                    dialect_insert(session, Reaction)
                    .values(
                        message_id=message_id,
                        user_id=actor_id,
                        emoji=emoji,
                        seq=self.ctx.ids.next_id(),
                        created_at=self.ctx.clock.now(),
                    )
                    .on_conflict_do_nothing()
                )
                changed = bool(result.rowcount)  # type: ignore[attr-defined]
            else:
                result = await session.execute(
                    delete(Reaction).where(
                        Reaction.message_id == message_id,
                        Reaction.user_id == actor_id,
                        Reaction.emoji == emoji,
                    )
                )
                changed = bool(result.rowcount)  # type: ignore[attr-defined]
            if changed:
                await self._deliver_update(session, locked, message)
            out = await self._render_for(session, locked, member, message, blocked)
            await session.commit()
        return out

    async def _audience(self, session: AsyncSession, locked: Locked, message: Message) -> list[int]:
        """Current members who may see ``message``: within their bounds, not hidden by
        them, and (in a group) not blocked either way with its sender."""
        blocked = (
            await self.ctx.graph.blocked_ids(message.sender_id)
            if locked.is_group and message.kind != "system"
            else set()
        )
        to = recipients(locked, message.sender_id, blocked, system=message.kind == "system")
        hidden_by = set(
            (
                await session.scalars(
                    select(Hidden.user_id).where(
                        Hidden.message_id == message.id, Hidden.user_id.in_(to)
                    )
                )
            ).all()
        )
        out = []
        for user_id in to:
            m = locked.member(user_id)
            if m is not None and sees(m, message.id) and user_id not in hidden_by:
                out.append(user_id)
        return out

    async def reply_blocked(self, locked: Locked, target: Message) -> set[int]:
        """Who must not see the text of ``target`` quoted in a reply: in a group, those
        blocked either way with its sender."""
        if not locked.is_group or target.kind == "system":
            return set()
        return await self.ctx.graph.blocked_ids(target.sender_id)

    async def _deliver_update(
        self, session: AsyncSession, locked: Locked, message: Message
    ) -> None:
        """``message.updated`` to everyone who may see it, as each sees it: one delivery
        per distinct payload (reactions' ``me`` and reply visibility differ)."""
        to = await self._audience(session, locked, message)
        if not to:
            return
        rendered = await render_messages(
            self.ctx, session, [message], locked.member(to[0]) or locked.members[0]
        )
        base = rendered[0]
        reactions = await reaction_summaries(session, [message.id], to)
        target = None
        hidden_targets: set[int] = set()
        if message.reply_to_id is not None:
            target = await session.get(Message, message.reply_to_id)
            if target is not None and target.conversation_id != message.conversation_id:
                target = None
            if target is not None:
                hidden_targets = await self.reply_blocked(locked, target)
                hidden_targets |= set(
                    (
                        await session.scalars(
                            select(Hidden.user_id).where(
                                Hidden.message_id == target.id, Hidden.user_id.in_(to)
                            )
                        )
                    ).all()
                )
        groups: dict[bytes, tuple[JSON, list[int]]] = {}
        for user_id in to:
            payload = dict(base)
            payload["reactions"] = reactions.get(message.id, {}).get(user_id, [])
            if message.reply_to_id is not None:
                m = locked.member(user_id)
                visible = (
                    target is not None
                    and m is not None
                    and sees(m, target.id)
                    and user_id not in hidden_targets
                )
                payload["reply_to"] = reply_dict(target, message.reply_to_id, visible=visible)
            key = orjson.dumps(payload)
            groups.setdefault(key, (payload, []))[1].append(user_id)
        for payload, users in groups.values():
            await self.ctx.stream.deliver(session, users, "message.updated", payload)


def _groups(conversation_id: int, is_group: bool) -> tuple[int, ...]:
    return (conversation_id,) if is_group else ()
