"""Safety's part of the user settings (``/api/v1/me/settings``): ``sensitive_media``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plaza.core.db import Database
from plaza.safety.labels import SensitiveMedia
from plaza.safety.models import Preference


class SafetySettings(BaseModel):
    sensitive_media: SensitiveMedia = Field(
        default=SensitiveMedia.WARN,
        description=(
            "Media labelled sensitive: `show` it, `warn` (hidden behind a warning until "
            "clicked), or `hide` the posts that carry it."
        ),
    )


class SafetyPreferences:
    """A ``plaza.core.preferences.PreferenceSection``."""

    name = "safety"
    model = SafetySettings

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, user_id: int) -> SafetySettings:
        row = await self.db.fetch_one(
            select(Preference.sensitive_media).where(Preference.user_id == user_id)
        )
        if row is None:
            return SafetySettings()
        return SafetySettings(sensitive_media=SensitiveMedia(row[0]))

    async def save(self, user_id: int, changes: dict[str, Any]) -> None:
        values = {"sensitive_media": SensitiveMedia(changes["sensitive_media"]).value}
        insert = pg_insert if not self.db.is_sqlite else sqlite_insert
        statement = (
            insert(Preference)
            .values(user_id=user_id, **values)
            .on_conflict_do_update(index_elements=[Preference.user_id], set_=values)
        )
        async with self.db.session() as session:
            await session.execute(statement)
            await session.commit()
