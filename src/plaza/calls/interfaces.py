"""What calls needs from other domains, as Protocols wired in ``app.py``: the domain
never imports their services."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from plaza.premium import Entitlement


class Stream(Protocol):
    """``plaza.realtime.Realtime`` fits this: the per-user event stream."""

    async def deliver(
        self,
        session: AsyncSession,
        user_ids: Collection[int],
        type: str,
        data: Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> dict[int, int]: ...

    async def send_ephemeral(
        self, user_ids: Collection[int], type: str, data: Mapping[str, Any]
    ) -> None: ...


class DirectMessages(Protocol):
    """Messaging answers whether one person has ever sent another a direct message
    (the operator's prior-DM rule and the ``dm_contacts`` call policy)."""

    async def has_messaged(self, sender_id: int, recipient_id: int) -> bool: ...


class Conversations(Protocol):
    """Messaging answers whether a conversation holds both people (a call started
    from a DM names it, and messaging later posts the call's entry there)."""

    async def shares_conversation(self, conversation_id: int, a: int, b: int) -> bool: ...


class Graph(Protocol):
    """``plaza.social.SocialGraph`` fits this."""

    async def follows(self, follower_id: int, followee_id: int) -> bool: ...

    async def blocked_either_way(self, a: int, b: int) -> bool: ...


class EntitlementChecker(Protocol):
    """``plaza.premium.Entitlements`` fits this."""

    async def has(self, user_id: int, entitlement: Entitlement) -> bool: ...


class Person(Protocol):
    """How a party is shown: ``plaza.social.Author`` fits this."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def avatar_url(self) -> str | None: ...

    @property
    def verified(self) -> bool: ...


class UserId(Protocol):
    @property
    def user_id(self) -> int: ...


class People(Protocol):
    """``plaza.social.ProfileService`` fits this."""

    async def visible(self, username: str, viewer_id: int | None) -> UserId:
        """The user named ``username``; ``NotFound`` when there is none or either of the
        two has blocked the other."""
        ...

    async def authors(self, user_ids: Iterable[int]) -> Mapping[int, Person]: ...


class Notifier(Protocol):
    """``plaza.social.Notifications`` fits this (kind ``missed_call``)."""

    async def notify(
        self,
        session: AsyncSession,
        *,
        recipient_id: int,
        actor_id: int,
        kind: str,
        post_id: int | None = None,
    ) -> int | None: ...
