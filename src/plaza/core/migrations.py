"""Alembic, driven from code: upgrade to head, and tell whether the schema is current."""

from __future__ import annotations

import re

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Full-text indexes made by raw SQL in a migration have no model (SQLite FTS5 virtual
# tables with their shadow tables, PostgreSQL GIN expression indexes named ix_*_fts):
# autogenerate must not propose dropping them.
_UNMODELLED = {
    "table": re.compile(r"^\w+_fts(_(data|idx|docsize|config|content))?$"),
    "index": re.compile(r"^ix_\w+_fts$"),
}


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic ``include_name`` hook: leave the unmodelled search indexes out of diffs."""
    pattern = _UNMODELLED.get(type_)
    return not (pattern is not None and name is not None and pattern.match(name))


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
