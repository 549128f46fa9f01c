"""Tables of the social graph: profiles, follows, follow requests, blocks, mutes and
notifications. Every row is keyed by identity user ids; social never reads identity's
tables, it keeps its own copy of what it shows (the username) on ``social_profile``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime

USER_FK = "identity_user.id"


class SocialProfile(Base):
    """One row per user: what a profile shows, and its counters.

    The counters are changed in the same transaction as the rows they count (a follow,
    a post), with ``UPDATE ... SET n = n + 1`` so that concurrent changes add up.
    """

    __tablename__ = "social_profile"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    username: Mapped[str] = mapped_column(String(32))
    # Lower-cased: usernames are unique case-insensitively, as in identity.
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(50), default="")
    bio: Mapped[str] = mapped_column(String(300), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    avatar_media_id: Mapped[int | None] = mapped_column(BigInteger)
    avatar_url: Mapped[str | None] = mapped_column(String(1000))
    banner_media_id: Mapped[int | None] = mapped_column(BigInteger)
    banner_url: Mapped[str | None] = mapped_column(String(1000))
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    is_creator: Mapped[bool] = mapped_column(Boolean, default=False)
    followers_count: Mapped[int] = mapped_column(Integer, default=0)
    following_count: Mapped[int] = mapped_column(Integer, default=0)
    posts_count: Mapped[int] = mapped_column(Integer, default=0)
    # Notifications with an id up to this one count as read (one watermark, not a
    # flag per row: "mark all read" is then one small update).
    notifications_read_id: Mapped[int] = mapped_column(BigInteger, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Follow(Base):
    """An approved follow. The id is time-ordered: follower lists page by it."""

    __tablename__ = "social_follow"
    __table_args__ = (
        UniqueConstraint("follower_id", "followee_id"),
        Index("ix_social_follow_followee_id_id", "followee_id", "id"),
        Index("ix_social_follow_follower_id_id", "follower_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    follower_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    followee_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FollowRequest(Base):
    """A pending request to follow a private account."""

    __tablename__ = "social_follow_request"
    __table_args__ = (
        UniqueConstraint("requester_id", "target_id"),
        Index("ix_social_follow_request_target_id_id", "target_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requester_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Block(Base):
    __tablename__ = "social_block"
    __table_args__ = (
        UniqueConstraint("blocker_id", "blocked_id"),
        Index("ix_social_block_blocker_id_id", "blocker_id", "id"),
        # "Who blocked me" (blocked_ids, both directions).
        Index("ix_social_block_blocked_id", "blocked_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    blocker_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    blocked_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Mute(Base):
    __tablename__ = "social_mute"
    __table_args__ = (
        UniqueConstraint("muter_id", "muted_id"),
        Index("ix_social_mute_muter_id_id", "muter_id", "id"),
        Index("ix_social_mute_muted_id", "muted_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    muter_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    muted_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Notification(Base):
    """Something another user did that concerns the recipient.

    ``post_id`` is not a foreign key: posts belong to the posts module, which calls
    ``Notifications.forget_post`` when a post is deleted. ``dedupe_key`` is set for
    kinds that must appear once per actor and post (likes, reposts, follows); NULLs
    never collide, so other kinds are not deduplicated.
    """

    __tablename__ = "social_notification"
    __table_args__ = (
        Index("ix_social_notification_recipient_id_id", "recipient_id", "id"),
        Index(
            "uq_social_notification_recipient_id_dedupe_key",
            "recipient_id",
            "dedupe_key",
            unique=True,
        ),
        Index("ix_social_notification_post_id", "post_id"),
        Index("ix_social_notification_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recipient_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    actor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(USER_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    post_id: Mapped[int | None] = mapped_column(BigInteger)
    dedupe_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
