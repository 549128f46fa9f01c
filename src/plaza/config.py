"""Plaza's one settings object, read from ``PLAZA_*`` environment variables.

Defaults need nothing: an SQLite file and media folder under ``./var/`` and the
in-process event bus. ``create_app(settings)`` receives this object and passes the
parts each domain needs; nothing else reads the environment.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAZA_", extra="ignore")

    # Storage and infrastructure
    data_dir: Path = Path("./var")
    database_url: str = ""
    redis_url: str | None = None
    redis_prefix: str = "plaza"
    media_dir: Path | None = None
    node_id: int | None = Field(default=None, ge=0, le=1023)
    auto_migrate: bool = True
    db_pool_size: int = Field(default=10, ge=1)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    # Web and HTTP
    public_url: str | None = None
    secret_key: str | None = None
    cookie_secure: bool = False
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=512 * 1_048_576, ge=1024)
    log_level: str = "INFO"
    log_json: bool = True

    # Identity
    argon2_memory_kib: int = Field(default=19_456, ge=19_456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)
    max_concurrent_hashes: int = Field(default=4, ge=1)
    session_idle_seconds: int = Field(default=14 * 86_400, ge=60)
    session_absolute_seconds: int = Field(default=60 * 86_400, ge=60)
    step_up_seconds: int = Field(default=10 * 60, ge=30)
    mfa_challenge_seconds: int = Field(default=5 * 60, ge=30)
    account_deletion_grace_days: int = Field(default=30, ge=0)
    login_failures_per_hour: int = Field(default=100, ge=1)
    signups_per_ip_per_hour: int = Field(default=20, ge=1)
    webauthn_rp_name: str = "Plaza"

    # Media
    # (media settings go here)

    # Social
    # (social settings go here)

    # Safety
    # (safety settings go here)

    # Payments
    # (payments settings go here)

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'plaza.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_media_dir(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    def resolved_secret_key(self) -> bytes:
        """The server secret: configured, or generated once and kept under ``data_dir``.

        Several processes or machines must share ``PLAZA_SECRET_KEY``; a single
        machine can rely on the generated file.
        """
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
            # Created 0600, so the key is never readable by others, even briefly.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            # link() refuses to replace, so when two processes race, both read the winner's key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        return path.read_text().strip().encode()
