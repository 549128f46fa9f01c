"""Tables of the posts half of social: posts, their edits, reposts, likes, bookmarks.

Posts are soft-deleted (``deleted_at``) so that replies keep a parent to point at;
the text and entities of a deleted post are blanked. ``reply_to_id`` and
``quote_of_id`` carry no foreign key on purpose: a parent may be purged with its
author's account while replies from others remain, which the reader shows as
"deleted" just like a soft-deleted parent.

Full-text search lives beside the table (migration 0005): an FTS5 external-content
table kept by triggers on SQLite, a GIN expression index on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class Post(Base):
    __tablename__ = "social_post"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    author_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    entities: Mapped[dict[str, Any]] = mapped_column(JSON)
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger)
    # The thread's root post (its own id for a root), so a whole conversation is one lookup.
    conversation_id: Mapped[int] = mapped_column(BigInteger)
    quote_of_id: Mapped[int | None] = mapped_column(BigInteger)
    # Media ids in display order; their details come from the media domain.
    media_ids: Mapped[list[int]] = mapped_column(JSON)
    has_media: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    repost_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    quote_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        # Profile tabs and the fan-out-on-read home timeline: newest posts of an author.
        Index("ix_social_post_author_id_id", "author_id", "id"),
        # Thread view: replies of a post in order.
        Index("ix_social_post_reply_to_id_id", "reply_to_id", "id"),
        Index("ix_social_post_quote_of_id", "quote_of_id"),
    )


class PostEdit(Base):
    """A previous version of an edited post (the current one is on the post)."""

    __tablename__ = "social_post_edit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("social_post.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    entities: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When this version was written (the post's creation or an earlier edit).
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Repost(Base):
    """A repost; its Snowflake id is the repost time, the timeline sort key."""

    __tablename__ = "social_repost"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE")
    )
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("social_post.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("uq_social_repost_user_id_post_id", "user_id", "post_id", unique=True),
        Index("ix_social_repost_user_id_id", "user_id", "id"),
    )


class Like(Base):
    __tablename__ = "social_like"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("social_post.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_social_like_post_id", "post_id"),)


class Bookmark(Base):
    """Private to its owner: never counted or shown to anyone else."""

    __tablename__ = "social_bookmark"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE")
    )
    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("social_post.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("uq_social_bookmark_user_id_post_id", "user_id", "post_id", unique=True),
        Index("ix_social_bookmark_user_id_id", "user_id", "id"),
    )
