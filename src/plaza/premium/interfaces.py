"""What Premium needs from other domains, as Protocols wired in ``app.py``."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Notifier(Protocol):
    """``plaza.social.Notifications`` fits this (kinds ``premium_payment_failed`` and
    ``premium_expired``, whose actor is the subscriber: the news comes from Plaza)."""

    async def notify(
        self,
        session: AsyncSession,
        *,
        recipient_id: int,
        actor_id: int,
        kind: str,
        post_id: int | None = None,
    ) -> int | None: ...


class Usernames(Protocol):
    """Names accounts for the admin view (identity, through app.py)."""

    async def usernames(self, user_ids: set[int]) -> dict[int, str]: ...
