"""The dependencies every messaging module takes, and the limits it applies."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter
from plaza.messaging.interfaces import (
    Entitlements,
    Graph,
    Media,
    Notifier,
    People,
    Person,
    Stream,
)


@dataclass(frozen=True)
class MessagingPolicy:
    new_conversations: Rate = field(default_factory=lambda: Rate(200, 86_400))
    messages: Rate = field(default_factory=lambda: Rate(300, 60))
    # Typing indicators: a light limit, so that a stuck client cannot flood a group.
    typing: Rate = field(default_factory=lambda: Rate(20, 10))
    max_group_members: int = 50
    edit_window: timedelta = timedelta(minutes=15)
    max_text_length: int = 10_000
    max_media: int = 4
    max_reactions: int = 20
    # How long the sender's name and badge may be reused on the send path.
    sender_cache_seconds: float = 5.0


@dataclass
class Context:
    db: Database
    bus: EventBus
    clock: Clock
    ids: SnowflakeGenerator
    limiter: RateLimiter
    stream: Stream
    people: People
    graph: Graph
    entitlements: Entitlements
    notifier: Notifier
    media: Media
    policy: MessagingPolicy
    _senders: OrderedDict[int, tuple[float, Person]] = field(default_factory=OrderedDict)

    async def sender(self, user_id: int) -> Person | None:
        """How a sender appears, reused for a few seconds: the send path is hot and a
        display-name change showing up a few seconds late on new messages is harmless."""
        now = time.monotonic()
        hit = self._senders.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = (await self.people.people([user_id])).get(user_id)
        if found is not None:
            self._senders[user_id] = (now + self.policy.sender_cache_seconds, found)
            self._senders.move_to_end(user_id)
            while len(self._senders) > 10_000:
                self._senders.popitem(last=False)
        return found

    async def persons(self, user_ids: Iterable[int]) -> dict[int, Person]:
        return dict(await self.people.people(set(user_ids)))
