"""The media facts other domains read (pinned interface)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from plaza.media.models import MediaItem

THUMB_NAME = "thumb.jpg"


@dataclass(frozen=True)
class MediaInfo:
    id: int
    owner_id: int
    kind: Literal["image", "video"]
    status: Literal["processing", "ready", "failed"]
    content_type: str
    width: int | None
    height: int | None
    duration_ms: int | None
    size_bytes: int
    alt_text: str
    url: str
    thumbnail_url: str | None
    created_at: datetime


def original_name(item: MediaItem) -> str:
    return f"original.{item.ext}"


def info_of(item: MediaItem) -> MediaInfo:
    base = f"/media/{item.id}/{item.token}/"
    return MediaInfo(
        id=item.id,
        owner_id=item.owner_id,
        kind="video" if item.kind == "video" else "image",
        status=item.status,  # type: ignore[arg-type]  # the column holds only these three
        content_type=item.content_type,
        width=item.width,
        height=item.height,
        duration_ms=item.duration_ms,
        size_bytes=item.size_bytes,
        alt_text=item.alt_text,
        url=base + original_name(item),
        thumbnail_url=base + THUMB_NAME if item.thumb_key and item.status == "ready" else None,
        created_at=item.created_at,
    )
