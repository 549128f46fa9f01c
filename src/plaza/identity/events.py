"""Facts the identity domain announces, after they commit."""

from __future__ import annotations

from plaza.core.events import Event


class UserRegistered(Event):
    topic = "identity.user_registered"
    user_id: int
    username: str


class SessionsRevoked(Event):
    """Sessions ended; live connections (the stream) of these sessions must close."""

    topic = "identity.sessions_revoked"
    user_id: int
    session_ids: list[int]


class AccountDeletionScheduled(Event):
    topic = "identity.account_deletion_scheduled"
    user_id: int


class AccountDeleted(Event):
    """The account is gone for good; domains drop what they keep for it."""

    topic = "identity.account_deleted"
    user_id: int
