"""What messaging needs from other domains, as Protocols wired in ``app.py``: the
domain never reaches into their modules, and tests could pass stand-ins."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from plaza.media import MediaInfo
from plaza.premium import Entitlement


class Stream(Protocol):
    """The live stream of each user (``plaza.realtime.Realtime`` fits)."""

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


class Person(Protocol):
    """How a member or sender is shown (``plaza.social.Author`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def verified(self) -> bool: ...


class People(Protocol):
    """Finds users by name and shows them by id (``plaza.social.ProfileService`` fits,
    through ``SocialPeople``)."""

    async def find(self, username: str) -> int | None:
        """The id of ``username`` (any case), or None if there is no such user."""
        ...

    async def people(self, user_ids: Iterable[int]) -> Mapping[int, Person]:
        """How each user appears; unknown (deleted) ids are left out."""
        ...


class Graph(Protocol):
    """Blocks and follows (``plaza.social.SocialGraph`` fits)."""

    async def blocked_either_way(self, a: int, b: int) -> bool: ...

    async def blocked_ids(self, user_id: int) -> set[int]:
        """Everyone the user blocked and everyone who blocked the user."""
        ...

    async def follows(self, follower_id: int, followee_id: int) -> bool: ...


class Entitlements(Protocol):
    """``plaza.premium.Entitlements`` fits."""

    async def has(self, user_id: int, entitlement: Entitlement) -> bool: ...

    async def holders(self, user_ids: Collection[int], entitlement: Entitlement) -> set[int]: ...


class Notifier(Protocol):
    """``plaza.social.Notifications`` fits."""

    async def notify(
        self,
        session: AsyncSession,
        *,
        recipient_id: int,
        actor_id: int,
        kind: str,
        post_id: int | None = None,
    ) -> int | None: ...


class Media(Protocol):
    """``plaza.media.MediaService`` fits."""

    async def attach(
        self,
        session: AsyncSession,
        *,
        owner_id: int,
        media_ids: Sequence[int],
        subject: str,
        subject_id: int,
    ) -> list[MediaInfo]: ...

    async def release(self, session: AsyncSession, *, subject: str, subject_id: int) -> None: ...

    async def describe(self, media_ids: Collection[int]) -> dict[int, MediaInfo]: ...
