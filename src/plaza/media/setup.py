"""Building the media service from settings (called by the composition root)."""

from __future__ import annotations

from datetime import timedelta

from plaza.config import Settings
from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.events import EventBus
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter
from plaza.core.tasks import Periodic
from plaza.identity import AccountDeleted
from plaza.media.processing import ImageLimits
from plaza.media.service import MediaLimits, MediaService
from plaza.media.storage import LocalStorage, MediaStorage, S3Storage

REQUEUE_SECONDS = 300


def build_storage(settings: Settings) -> MediaStorage:
    """S3 when a bucket is configured, else the media folder."""
    if settings.s3_bucket:
        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            spool_dir=settings.data_dir / "tmp" / "media",
        )
    return LocalStorage(settings.resolved_media_dir)


def build_media(
    settings: Settings,
    *,
    db: Database,
    bus: EventBus,
    clock: Clock,
    ids: SnowflakeGenerator,
    limiter: RateLimiter,
    periodic: Periodic,
    storage: MediaStorage | None = None,
) -> MediaService:
    """The media service, with its sweep and re-queue jobs scheduled on ``periodic`` and
    file deletion subscribed to account deletion."""
    limits = MediaLimits(
        max_image_bytes=settings.media_max_image_bytes,
        max_video_bytes=settings.media_max_video_bytes,
        max_video_seconds=settings.media_max_video_seconds,
        image=ImageLimits(
            max_pixels=settings.media_max_image_pixels,
            max_dimension=settings.media_max_image_dimension,
            max_frames=settings.media_max_gif_frames,
        ),
        chunk_bytes=settings.media_chunk_bytes,
        unattached_ttl=timedelta(seconds=settings.media_unattached_ttl_seconds),
        uploads=Rate(settings.media_uploads_per_hour, 3600),
        ffprobe_timeout=settings.media_ffprobe_timeout_seconds,
        ffmpeg_timeout=settings.media_ffmpeg_timeout_seconds,
        workers=settings.media_workers,
    )
    media = MediaService(
        db=db,
        clock=clock,
        ids=ids,
        limiter=limiter,
        storage=storage or build_storage(settings),
        limits=limits,
        work_dir=settings.data_dir / "tmp" / "media",
    )
    periodic.every(settings.media_sweep_interval_seconds, "media-sweep", media.sweep)
    periodic.every(REQUEUE_SECONDS, "media-requeue", media.requeue_stuck)

    async def on_account_deleted(event: AccountDeleted) -> None:
        await media.forget_owner(event.user_id)

    bus.subscribe(AccountDeleted, on_account_deleted)
    return media
