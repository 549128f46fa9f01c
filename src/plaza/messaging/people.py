"""``People`` over social's profiles: usernames to ids, ids to how people appear."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from plaza.core.errors import NotFound
from plaza.messaging.interfaces import Person
from plaza.social import ProfileService


class SocialPeople:
    """A ``plaza.messaging.interfaces.People`` (wired in ``app.py``)."""

    def __init__(self, profiles: ProfileService) -> None:
        self.profiles = profiles

    async def find(self, username: str) -> int | None:
        try:
            row = await self.profiles.by_username(username)
        except NotFound:
            return None
        return int(row.user_id)

    async def people(self, user_ids: Iterable[int]) -> Mapping[int, Person]:
        return await self.profiles.authors(user_ids)
