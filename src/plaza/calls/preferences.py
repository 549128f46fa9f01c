"""Calls' part of the user settings (``/api/v1/me/settings``): ``calls_enabled``,
``call_policy`` and ``calls_relay_only``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.calls.models import CallPreference
from plaza.calls.policy import CallPolicyChoice
from plaza.core.db import Database


class CallSettings(BaseModel):
    calls_enabled: bool = Field(
        default=True, description="Whether anyone may call you at all (`false`: nobody rings)."
    )
    call_policy: CallPolicyChoice = Field(
        default=CallPolicyChoice.FOLLOWING,
        description=(
            "Who may call you: `dm_contacts` (people you have exchanged direct messages "
            "with), `following` (people you follow), `verified` (people you follow and "
            "verified users) or `everyone`."
        ),
    )
    calls_relay_only: bool = Field(
        default=True,
        description=(
            "Relay calls through the server's TURN relay (when it has one), so that the "
            "other party never learns your IP address. `false` allows peer-to-peer "
            "connections, which can sound and look better."
        ),
    )


def _insert(session_or_db: AsyncSession | Database) -> Any:
    if isinstance(session_or_db, Database):
        return sqlite.insert if session_or_db.is_sqlite else postgresql.insert
    return (
        postgresql.insert
        if session_or_db.get_bind().dialect.name == "postgresql"
        else sqlite.insert
    )


async def ensure_rows(session: AsyncSession, user_ids: list[int]) -> None:
    """Make sure each user has a preference row (defaults), in the caller's session."""
    statement = _insert(session)(CallPreference).values(
        [
            {
                "user_id": user_id,
                "calls_enabled": True,
                "call_policy": CallPolicyChoice.FOLLOWING.value,
                "calls_relay_only": True,
            }
            for user_id in user_ids
        ]
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["user_id"]))


def settings_of(row: CallPreference | None) -> CallSettings:
    if row is None:
        return CallSettings()
    return CallSettings(
        calls_enabled=row.calls_enabled,
        call_policy=CallPolicyChoice(row.call_policy),
        calls_relay_only=row.calls_relay_only,
    )


class CallPreferences:
    """A ``plaza.core.preferences.PreferenceSection``."""

    name = "calls"
    model = CallSettings

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, user_id: int) -> CallSettings:
        async with self.db.session(write=False) as session:
            return settings_of(await session.get(CallPreference, user_id))

    async def save(self, user_id: int, changes: dict[str, Any]) -> None:
        values: dict[str, Any] = {}
        if "calls_enabled" in changes:
            values["calls_enabled"] = bool(changes["calls_enabled"])
        if "call_policy" in changes:
            values["call_policy"] = CallPolicyChoice(changes["call_policy"]).value
        if "calls_relay_only" in changes:
            values["calls_relay_only"] = bool(changes["calls_relay_only"])
        if not values:
            return
        defaults = settings_of(None).model_dump(mode="json")
        statement = (
            _insert(self.db)(CallPreference)
            .values(user_id=user_id, **{**defaults, **values})
            .on_conflict_do_update(index_elements=["user_id"], set_=values)
        )
        async with self.db.session() as session:
            await session.execute(statement)
            await session.commit()
