"""Plaza's one settings object, read from ``PLAZA_*`` environment variables.

Defaults need nothing: an SQLite file and media folder under ``./var/`` and the
in-process event bus. ``create_app(settings)`` receives this object and passes the
parts each domain needs; nothing else reads the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    # populate_by_name: fields with environment aliases (turn_ttl_seconds) still take
    # their own name in Python.
    model_config = SettingsConfigDict(env_prefix="PLAZA_", extra="ignore", populate_by_name=True)

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
    # Files over these limits are refused (413); video duration and image pixels by content.
    media_max_image_bytes: int = Field(default=20 * 1_048_576, ge=1024)
    media_max_video_bytes: int = Field(default=512 * 1_048_576, ge=1024)
    media_max_video_seconds: float = Field(default=600.0, gt=0)
    media_max_image_pixels: int = Field(default=50_000_000, ge=1)
    media_max_image_dimension: int = Field(default=4096, ge=16)
    media_max_gif_frames: int = Field(default=300, ge=1)
    # Resumable uploads: the largest chunk one request may carry, how long an unfinished
    # upload or an unattached media lives before the sweep deletes it, and how often it runs.
    media_chunk_bytes: int = Field(default=8 * 1_048_576, ge=65_536)
    media_unattached_ttl_seconds: int = Field(default=86_400, ge=60)
    media_sweep_interval_seconds: float = Field(default=3600, gt=0)
    media_uploads_per_hour: int = Field(default=200, ge=1)
    # Video processing (ffprobe/ffmpeg) in background workers of each process; 0 workers
    # leaves queued videos to another process (re-queued at its start).
    media_workers: int = Field(default=1, ge=0, le=16)
    media_ffprobe_timeout_seconds: float = Field(default=30.0, gt=0)
    media_ffmpeg_timeout_seconds: float = Field(default=600.0, gt=0)
    # S3-compatible storage instead of the media folder when a bucket is set.
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    # Social
    # Follows (and follow requests) one account may make per day, as X allows 400.
    follows_per_day: int = Field(default=400, ge=1)
    # Posts one account may publish per hour (replies and quotes included).
    posts_per_hour: int = Field(default=300, ge=1)
    # Home timelines: "read" builds them from the database on each read (fine for one
    # server); "write" also keeps a list per active user in Redis (needs PLAZA_REDIS_URL),
    # except for authors with more followers than the threshold, merged in at read time.
    timeline_fanout: Literal["read", "write"] = "read"
    timeline_celebrity_threshold: int = Field(default=10_000, ge=1)
    timeline_cache_size: int = Field(default=800, ge=50)
    timeline_cache_ttl_seconds: int = Field(default=7 * 86_400, ge=60)

    # Safety
    # The classifier that labels new content: "lexicon" (built in) or "module:Name".
    safety_classifier: str = "lexicon"
    # A lexicon file of one's own for the built-in classifier (same JSON shape).
    safety_lexicon_path: Path | None = None
    safety_reports_per_hour: int = Field(default=30, ge=1)
    # Distinct users reporting one category before it labels the content (medium risk)
    # while it waits for a moderator.
    safety_report_threshold: int = Field(default=3, ge=1)

    # Payments
    # Wallet amounts are in minor units (cents) of the wallet currency.
    payments_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # The sandbox bank rail settles this long after submission (0: at once).
    sandbox_rail_delay_seconds: float = Field(default=5.0, ge=0)
    payments_rail_poll_seconds: float = Field(default=2.0, gt=0)
    # A payment at or above this asks for a recent second-factor check (cash-outs always).
    payments_step_up_threshold: int = Field(default=20_000, ge=1)
    # Sending limits (payments and cash-outs) per tier: per day and over a rolling 7 days.
    payments_unverified_daily_limit: int = Field(default=25_000, ge=0)
    payments_unverified_weekly_limit: int = Field(default=50_000, ge=0)
    payments_verified_daily_limit: int = Field(default=250_000, ge=0)
    payments_verified_weekly_limit: int = Field(default=1_000_000, ge=0)
    payments_unverified_weekly_deposit_limit: int = Field(default=50_000, ge=0)
    payments_verified_weekly_deposit_limit: int = Field(default=1_000_000, ge=0)
    # Structuring: this many payments within 24 h, each just under the threshold (within
    # the margin), are held for review.
    payments_structuring_threshold: int = Field(default=20_000, ge=1)
    payments_structuring_margin_percent: int = Field(default=10, ge=1, le=50)
    payments_structuring_count: int = Field(default=3, ge=2)
    # Instant cash-out fee in basis points of the amount, with a floor and a cap.
    payments_instant_fee_bps: int = Field(default=175, ge=0, le=10_000)
    payments_instant_fee_min: int = Field(default=25, ge=0)
    payments_instant_fee_max: int = Field(default=2_500, ge=0)
    # Sandbox verification approves at once; false leaves it to an administrator.
    payments_kyc_auto_approve: bool = True
    payments_reminder_interval_seconds: int = Field(default=86_400, ge=1)
    # Rows left in an intermediate state longer than this are finished by recovery.
    payments_recovery_grace_seconds: int = Field(default=60, ge=1)
    # Ledger: most transfers one group commit holds; how often timed-out holds are voided.
    ledger_max_batch: int = Field(default=4096, ge=1)
    ledger_expiry_interval_seconds: float = Field(default=5.0, gt=0)
    # Idempotency keys are kept at least this long (Stripe: 24 hours).
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # Realtime
    # Stream events are kept this long for replay; a client resuming from an older seq
    # is told to resync. The prune job runs at the given interval.
    realtime_retention_days: float = Field(default=7.0, gt=0)
    realtime_prune_interval_seconds: float = Field(default=3600, gt=0)
    # The server pings every interval; a connection silent for the timeout is closed.
    realtime_heartbeat_seconds: float = Field(default=25.0, gt=0)
    realtime_heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)
    # Frames waiting for one slow socket before it is closed (4008, resume with since).
    realtime_queue_size: int = Field(default=256, ge=8)
    # Open streams of one account in one process (devices and tabs); more get 4429.
    realtime_max_connections_per_user: int = Field(default=50, ge=1)

    # Messaging
    # New conversations (direct or group) one account may start per day.
    dm_new_conversations_per_day: int = Field(default=200, ge=1)
    # Messages one account may send per minute, all conversations together.
    dm_messages_per_minute: int = Field(default=300, ge=1)
    # Members of a group, its creator included.
    dm_max_group_members: int = Field(default=50, ge=3)
    # How long after sending a message its sender may still edit it.
    dm_edit_window_seconds: int = Field(default=900, ge=0)

    # Calls
    # Operator policy (the seed's model): placing a call needs Premium (the place_calls
    # entitlement), and the callee must have sent the caller a DM before.
    calls_require_premium: bool = True
    calls_require_prior_dm: bool = True
    # Call attempts one account may make per hour (refused ones count too).
    calls_per_hour: int = Field(default=30, ge=1)
    # Dry runs of those rules (GET /api/v1/calls/eligibility, asked by call buttons) one
    # account may make per hour; a bucket of their own, not the attempts'.
    calls_checks_per_hour: int = Field(default=600, ge=1)
    # An unanswered call ends as missed after this long; the sweep runs this often.
    calls_ring_seconds: int = Field(default=45, ge=5)
    calls_sweep_interval_seconds: float = Field(default=5.0, gt=0)
    # ICE servers handed to clients (GET /api/v1/calls/ice-servers), comma-separated or
    # a JSON list: "stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp",
    # "turns:turn.example.org:5349?transport=tcp". TURN needs the secret shared with
    # coturn (use-auth-secret / static-auth-secret); credentials live for the TTL.
    stun_uris: Annotated[list[str], NoDecode] = []
    turn_uris: Annotated[list[str], NoDecode] = []
    turn_secret: str | None = None
    turn_ttl_seconds: int = Field(
        default=86_400,
        ge=60,
        validation_alias=AliasChoices("PLAZA_TURN_TTL_SECONDS", "PLAZA_TURN_TTL"),
    )

    # Premium (billed from the wallet, in the wallet currency's minor units)
    premium_monthly_price: int = Field(default=800, ge=1)
    # The yearly plan: $84, 12.5% off twelve months ($96), as X prices it.
    premium_yearly_price: int = Field(default=8_400, ge=1)
    # A renewal that fails for lack of funds is retried every retry interval; the
    # subscription keeps its entitlements until the period end plus the grace, then expires.
    # At most 28 days: the grace must end before the next period (February) would.
    premium_grace_seconds: int = Field(default=7 * 86_400, ge=0, le=28 * 86_400)
    premium_retry_seconds: int = Field(default=86_400, ge=1)
    # How often each process looks for due renewals, and how many one transaction takes.
    premium_renewal_interval_seconds: float = Field(default=60.0, gt=0)
    premium_renewal_batch: int = Field(default=1000, ge=1, le=10_000)

    # For tests and demos of time rules only: the clock runs this file's number of
    # seconds ahead of the system clock. Never set it in production.
    clock_offset_file: Path | None = None

    @field_validator("stun_uris", "turn_uris", mode="before")
    @classmethod
    def _uri_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

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
