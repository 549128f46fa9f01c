"""Settings: nothing needed to start, PLAZA_* read, and the generated secret key."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from plaza.app import create_app
from plaza.config import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PLAZA_* variables, and a fresh working directory."""
    for name in list(os.environ):
        if name.startswith("PLAZA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_need_nothing(clean_env: Path) -> None:
    settings = Settings()
    assert settings.resolved_database_url == "sqlite+aiosqlite:///var/plaza.db"
    assert settings.is_sqlite
    assert settings.resolved_media_dir == Path("var/media")
    assert settings.redis_url is None
    assert settings.node_id is None
    assert settings.auto_migrate is True


async def test_a_plaza_with_default_settings_starts_and_serves(clean_env: Path) -> None:
    app = create_app(Settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            assert (await client.get("/readyz")).status_code == 200
            created = await client.post(
                "/api/v1/accounts", json={"username": "first", "password": "a long passphrase"}
            )
            assert created.status_code == 201, created.text
    assert (clean_env / "var" / "plaza.db").is_file()
    assert stat.S_IMODE((clean_env / "var" / "secret_key").stat().st_mode) == 0o600


def test_plaza_environment_variables_are_read(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAZA_DATABASE_URL", "postgresql+asyncpg://db.internal/plaza")
    monkeypatch.setenv("PLAZA_REDIS_URL", "redis://cache.internal:6379/2")
    monkeypatch.setenv("PLAZA_NODE_ID", "17")
    monkeypatch.setenv("PLAZA_AUTO_MIGRATE", "false")
    monkeypatch.setenv("PLAZA_LOG_LEVEL", "debug")
    monkeypatch.setenv("PLAZA_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///wrong.db")  # no prefix: ignored
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+asyncpg://db.internal/plaza"
    assert not settings.is_sqlite
    assert settings.redis_url == "redis://cache.internal:6379/2"
    assert settings.node_id == 17
    assert settings.auto_migrate is False
    assert settings.log_level == "DEBUG"
    assert settings.max_body_bytes == 4096


@pytest.mark.parametrize(
    ("name", "value"),
    [("PLAZA_NODE_ID", "1024"), ("PLAZA_NODE_ID", "-1"), ("PLAZA_MAX_BODY_BYTES", "10")],
)
def test_out_of_range_settings_are_refused(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_configured_secret_key_is_used_and_no_file_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="configured-" + "k" * 32)
    assert settings.resolved_secret_key() == ("configured-" + "k" * 32).encode()
    assert not (tmp_path / "secret_key").exists()


def test_the_generated_secret_key_is_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(data_dir=data_dir).resolved_secret_key()
    path = data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert Settings(data_dir=data_dir).resolved_secret_key() == first
    assert sorted(p.name for p in data_dir.iterdir()) == ["secret_key"]


def test_concurrent_first_calls_agree_on_one_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(16)
    keys: list[bytes] = []
    lock = threading.Lock()

    def resolve() -> None:
        settings = Settings(data_dir=tmp_path)
        barrier.wait()
        key = settings.resolved_secret_key()
        with lock:
            keys.append(key)

    threads = [threading.Thread(target=resolve) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 16
    assert len(set(keys)) == 1
    assert (tmp_path / "secret_key").read_bytes().strip() == keys[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no temp files left
