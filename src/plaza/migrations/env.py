"""Alembic environment: async engines for SQLite and PostgreSQL, batch mode on SQLite."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from plaza.app import load_models
from plaza.config import Settings
from plaza.core.db import Base, UTCDateTime, ensure_sqlite_directory
from plaza.core.migrations import include_name

load_models()
config = context.config
target_metadata = Base.metadata
# Serialises concurrent `plaza migrate` runs against one PostgreSQL database.
_PG_MIGRATION_LOCK = 7_240_118_001


def _render_item(type_: str, obj: Any, _autogen: Any) -> str | Literal[False]:
    # Migrations hold plain SQL types; the UTC handling is Python-side only.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,
        compare_type=True,
        render_item=_render_item,
        include_name=include_name,
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    # Run as `alembic ...` (with alembic.ini), the database comes from PLAZA_* settings;
    # run from Plaza's code, the caller sets it on the config.
    if config.config_file_name is not None:
        return Settings().resolved_database_url
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    return url


async def _run_async() -> None:
    url = _url()
    ensure_sqlite_directory(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
