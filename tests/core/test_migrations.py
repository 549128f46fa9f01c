"""Alembic: one head, models and migrations agree, the schema round-trips, and a
Plaza that may not migrate refuses to start on an old schema."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from plaza.app import create_app, load_models
from plaza.config import Settings
from plaza.core import migrations
from plaza.core.db import Base


def _run(url: str, fn: Any) -> Any:
    async def go() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _diff(conn: Connection) -> list[Any]:
    load_models()
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "target_metadata": Base.metadata,
            "include_name": migrations.include_name,
        },
    )
    return list(compare_metadata(context, Base.metadata))


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite+aiosqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}; merge them"
    # Every revision lies on the one line from base to head.
    assert len(list(script.walk_revisions())) == len(
        list(script.iterate_revisions(heads[0], "base"))
    )


def test_models_and_migrations_agree(database_template: str) -> None:
    """What `alembic check` does: autogenerate against a migrated database finds nothing."""
    diff = _run(database_template, _diff)
    assert diff == [], f"models differ from migrations; add a migration: {diff}"


def test_upgrade_downgrade_upgrade_round_trips(empty_database_url: str) -> None:
    config = migrations.alembic_config(empty_database_url)
    migrations.upgrade(empty_database_url)
    migrated = _run(empty_database_url, _tables)
    assert {"core_node_lease", "identity_user", "alembic_version"} <= migrated
    command.downgrade(config, "base")
    assert _run(empty_database_url, _tables) <= {"alembic_version"}
    migrations.upgrade(empty_database_url)
    assert _run(empty_database_url, _tables) == migrated
    assert _run(empty_database_url, _diff) == []


def _settings(url: str, tmp_path: Path, *, auto_migrate: bool) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=url,
        secret_key="test-" + uuid.uuid4().hex,
        auto_migrate=auto_migrate,
        log_json=False,
    )


async def test_refuses_to_start_on_an_unmigrated_database(
    empty_database_url: str, tmp_path: Path
) -> None:
    app = create_app(_settings(empty_database_url, tmp_path, auto_migrate=False))
    plaza = app.state.plaza
    try:
        with pytest.raises(RuntimeError, match="`plaza migrate`") as refused:
            async with app.router.lifespan_context(app):
                pytest.fail("started on an empty database")
        assert "PLAZA_AUTO_MIGRATE" in str(refused.value)
        async with plaza.db.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()  # it touched nothing
    finally:
        await plaza.db.dispose()


async def test_auto_migrate_brings_an_empty_database_to_head(
    empty_database_url: str, tmp_path: Path
) -> None:
    app = create_app(_settings(empty_database_url, tmp_path, auto_migrate=True))
    plaza = app.state.plaza
    async with app.router.lifespan_context(app):
        current = await migrations.current_revisions(plaza.db.engine)
        assert current == migrations.head_revisions(empty_database_url)
        assert plaza.ids.node_id is not None
