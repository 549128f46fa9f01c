"""What Premium needs from other domains, as Protocols wired in ``app.py``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Notifier(Protocol):
    """``plaza.social.Notifications`` fits this (kinds ``premium_payment_failed`` and
    ``premium_expired``: news from Plaza about the recipient's own account)."""

    async def notify_own_account(
        self, session: AsyncSession, recipient_ids: Collection[int], kind: str
    ) -> None: ...


class Usernames(Protocol):
    """Names accounts for the admin view (identity, through app.py)."""

    async def usernames(self, user_ids: set[int]) -> dict[int, str]: ...
