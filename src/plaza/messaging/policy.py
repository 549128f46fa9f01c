"""Who may message whom, the DM settings, and the rules on what a message may hold.

Where a first message lands is decided per recipient from their ``dm_policy``:
- ``everyone``: the inbox;
- ``following``: the inbox if the recipient follows the sender, else Message requests;
- ``verified``: the inbox if the recipient follows the sender or the sender is verified;
- ``none``: nobody may start a conversation with them (403 naming ``dm_policy``), except
  people they follow.
A block either way makes the recipient unknown (404). Existing conversations go on
whatever the policy becomes later.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any, Literal

import regex  # type: ignore[import-untyped]  # no stubs are published for it
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plaza.core.db import Database
from plaza.core.errors import Forbidden, InvalidInput
from plaza.messaging.interfaces import Entitlements, Graph
from plaza.messaging.models import Preference
from plaza.premium import Entitlement


class DmPolicy(StrEnum):
    EVERYONE = "everyone"
    FOLLOWING = "following"
    VERIFIED = "verified"
    NONE = "none"


Landing = Literal["active", "request"]


class Blocked(Forbidden):
    """A direct conversation across a block: nothing more can be sent in it."""

    slug, title = "blocked", "Blocked"

    def __init__(self) -> None:
        super().__init__("blocked: one of you has blocked the other")


class PolicyRefused(Forbidden):
    """The recipient's ``dm_policy`` accepts no new conversation from the sender."""

    slug, title = "dm-policy", "Not accepting messages"

    def __init__(self, who: str = "this person") -> None:
        super().__init__(f"dm_policy: {who} does not accept new conversations.")


class MessagingSettings(BaseModel):
    dm_policy: DmPolicy = Field(
        default=DmPolicy.FOLLOWING,
        description=(
            "Who may start a conversation with you: `everyone`; `following` (people you "
            "follow reach your inbox, others your Message requests); `verified` (people "
            "you follow and verified users reach your inbox, others your requests); "
            "`none` (only people you follow)."
        ),
    )
    read_receipts: bool = Field(
        default=True,
        description="Let others see when you have read their messages.",
    )


class MessagingPreferences:
    """A ``plaza.core.preferences.PreferenceSection``."""

    name = "messaging"
    model = MessagingSettings

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, user_id: int) -> MessagingSettings:
        row = await self.db.fetch_one(
            select(Preference.dm_policy, Preference.read_receipts).where(
                Preference.user_id == user_id
            )
        )
        if row is None:
            return MessagingSettings()
        policy, receipts = tuple(row)[:2]
        return MessagingSettings(dm_policy=DmPolicy(policy), read_receipts=bool(receipts))

    async def save(self, user_id: int, changes: dict[str, Any]) -> None:
        current = await self.load(user_id)
        values = {
            "dm_policy": DmPolicy(changes.get("dm_policy", current.dm_policy)).value,
            "read_receipts": bool(changes.get("read_receipts", current.read_receipts)),
        }
        updates = {name: values[name] for name in changes}
        insert = pg_insert if not self.db.is_sqlite else sqlite_insert
        statement = (
            insert(Preference)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(index_elements=[Preference.user_id], set_=updates)
        )
        async with self.db.session() as session:
            await session.execute(statement)
            await session.commit()


async def landing(
    preferences: MessagingPreferences,
    graph: Graph,
    entitlements: Entitlements,
    *,
    sender_id: int,
    recipient_id: int,
) -> Landing:
    """Where a new conversation from ``sender_id`` lands for ``recipient_id``: their
    inbox (``active``) or their Message requests (``request``). Raises ``Forbidden``
    naming ``dm_policy`` when the recipient accepts no new conversations from them.
    Blocks are the caller's check (they make the recipient a 404)."""
    policy = (await preferences.load(recipient_id)).dm_policy
    if policy == DmPolicy.EVERYONE:
        return "active"
    if await graph.follows(recipient_id, sender_id):
        return "active"
    if policy == DmPolicy.NONE:
        raise PolicyRefused()
    if policy == DmPolicy.VERIFIED and await entitlements.has(sender_id, Entitlement.VERIFIED):
        return "active"
    return "request"


# ---- content rules -----------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
# Control characters (Unicode Cc) other than tab and line breaks, and lone surrogates:
# NUL cannot even be stored on PostgreSQL. Nothing is stripped; such text is refused.
_FORBIDDEN = regex.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(text: str, *, max_length: int, has_media: bool, field: str = "text") -> str:
    """Message text as sent, or ``InvalidInput(field)``.

    Length counts Unicode code points (Python ``len``), up to ``max_length``. Text that is
    empty or only whitespace is refused unless media is attached. Nothing is stripped or
    normalised: what the sender typed is what the recipients get.
    """
    if len(text) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    if not has_media and not text.strip():
        raise InvalidInput(field, "must not be empty (attach media or write something)")
    if _FORBIDDEN.search(text):
        raise InvalidInput(field, "must not contain control characters")
    return text


def check_emoji(emoji: str) -> str:
    """A reaction: 1-16 characters forming a single grapheme, no spaces or controls."""
    if not 1 <= len(emoji) <= 16:
        raise InvalidInput("emoji", "must be 1 to 16 characters")
    if len(_GRAPHEME.findall(emoji)) != 1:
        raise InvalidInput("emoji", "must be a single emoji (one grapheme)")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") for ch in emoji):
        raise InvalidInput("emoji", "must be an emoji")
    return emoji
