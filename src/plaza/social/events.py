"""Facts the social domain announces, after they commit."""

from __future__ import annotations

from datetime import datetime

from plaza.core.events import Event


class Followed(Event):
    topic = "social.followed"
    follower_id: int
    followee_id: int


class Unfollowed(Event):
    """A follow ended: by the follower, by a block, or by the followee removing it."""

    topic = "social.unfollowed"
    follower_id: int
    followee_id: int


class Blocked(Event):
    topic = "social.blocked"
    blocker_id: int
    blocked_id: int


class Unblocked(Event):
    topic = "social.unblocked"
    blocker_id: int
    blocked_id: int


class Muted(Event):
    topic = "social.muted"
    muter_id: int
    muted_id: int


class Unmuted(Event):
    topic = "social.unmuted"
    muter_id: int
    muted_id: int


class NotificationCreated(Event):
    topic = "social.notification_created"
    id: int
    recipient_id: int
    actor_id: int
    kind: str
    post_id: int | None = None


class PostPublished(Event):
    topic = "social.post_published"
    post_id: int
    author_id: int
    reply_to: int | None = None
    quote_of: int | None = None
    created_at: datetime


class PostDeleted(Event):
    topic = "social.post_deleted"
    post_id: int
    author_id: int
