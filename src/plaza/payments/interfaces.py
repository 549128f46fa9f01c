"""What payments needs from other domains, as Protocols wired in ``app.py``: the
domain never imports their services directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class BlockChecker(Protocol):
    """``plaza.social.SocialGraph`` fits this."""

    async def blocked_either_way(self, a: int, b: int) -> bool: ...


class ConversationMembership(Protocol):
    """``plaza.messaging.Messaging`` fits this: payments made from a DM check it."""

    async def shares_conversation(self, conversation_id: int, a: int, b: int) -> bool: ...


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str


class UserDirectory(Protocol):
    """Finds accounts by name and names accounts by id (identity, through app.py)."""

    async def by_username(self, username: str) -> UserInfo | None: ...

    async def by_ids(self, ids: set[int]) -> dict[int, UserInfo]: ...
