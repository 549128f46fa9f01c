"""Messaging tables (``dm_*``). Only this package reads them.

Visibility is kept as id bounds on the membership rather than as rows per message:
a member sees the messages with ``visible_from_id < id <= visible_until_id`` (no upper
bound while they are a member), minus the ones they deleted for themselves
(``dm_hidden``). Joining later, "delete for me" of a whole conversation, leaving and
being removed only move those bounds, so none of them writes per message.

``last_message_id`` and ``reply_to_id`` carry no foreign key on purpose: a message may
go with its sender's account while the conversation and replies to it remain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class Conversation(Base):
    __tablename__ = "dm_conversation"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))  # "direct" | "group"
    name: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "<smaller user id>:<larger user id>" for a direct conversation, so that two people
    # have one conversation however often (and however concurrently) they start one.
    direct_key: Mapped[str | None] = mapped_column(String(50), unique=True)
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Member(Base):
    """One person's membership: role, state and what they may see and have read."""

    __tablename__ = "dm_member"
    __table_args__ = (Index("ix_dm_member_user_id_state", "user_id", "state"),)

    conversation_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("dm_conversation.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    role: Mapped[str] = mapped_column(String(8))  # "admin" | "member"
    state: Mapped[str] = mapped_column(String(8))  # "active" | "request" | "left" | "removed"
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Messages with an id above this are visible (joined later, or deleted for me).
    visible_from_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Set when the member left or was removed: nothing after it is visible.
    visible_until_id: Mapped[int | None] = mapped_column(BigInteger)
    last_read_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delivered_id: Mapped[int] = mapped_column(BigInteger, default=0)


class Message(Base):
    __tablename__ = "dm_message"
    __table_args__ = (
        # History pages and catch-up: one conversation's messages in id order.
        Index("ix_dm_message_conversation_id_id", "conversation_id", "id"),
        # Idempotent sends: one message per (sender, client_id).
        UniqueConstraint("sender_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("dm_conversation.id", ondelete="CASCADE")
    )
    sender_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE")
    )
    client_id: Mapped[str | None] = mapped_column(String(100))
    # What the send looked like (conversation, text, reply, media), so that a replay of
    # the client_id with another body is told apart from a retry.
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # "text" | "system" | "payment" | "call"
    text: Mapped[str] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger)
    # Media ids in display order; their details come from the media domain.
    media_ids: Mapped[list[int]] = mapped_column(JSON)
    # {"id", "amount", "currency"} for kind "payment".
    payment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # {"event", "actor_id", "user_ids", "name"?} for kind "system"; for kind "call",
    # {"id", "media", "state", "missed", "duration_seconds", "started_at"}.
    system: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MessageEdit(Base):
    """An earlier version of an edited message (the current one is on the message)."""

    __tablename__ = "dm_message_edit"
    __table_args__ = (Index("ix_dm_message_edit_message_id_id", "message_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("dm_message.id", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    # When this version was written, and when the edit replaced it.
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Reaction(Base):
    __tablename__ = "dm_reaction"

    message_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("dm_message.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A Snowflake: orders a message's emoji by first use even within one millisecond.
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Hidden(Base):
    """A message one member deleted for themselves."""

    __tablename__ = "dm_hidden"

    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("dm_message.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )


class Preference(Base):
    """A user's messaging settings; no row means the defaults."""

    __tablename__ = "dm_preference"

    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("identity_user.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    dm_policy: Mapped[str] = mapped_column(String(16))
    read_receipts: Mapped[bool] = mapped_column(Boolean)
