"""Alembic, driven from code: upgrade to head, and tell whether the schema is current."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "plaza:migrations")
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str) -> None:
    """Apply every pending migration. Blocking; run it in a thread from async code."""
    command.upgrade(alembic_config(database_url), "head")


def head_revisions(database_url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    def read(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with engine.connect() as connection:
        return await connection.run_sync(read)
