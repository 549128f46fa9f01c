"""Media API bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plaza.core.schemas import IdStr, Input, Output, Timestamp

ALT_TEXT_MAX = 1500


class MediaOut(Output):
    id: IdStr
    kind: Literal["image", "video"]
    status: Literal["processing", "ready", "failed"]
    content_type: str
    width: int | None
    height: int | None
    duration_ms: int | None
    size_bytes: int
    alt_text: str
    url: str = Field(description="Path of the file, at an unguessable URL; immutable.")
    thumbnail_url: str | None = Field(description="A JPEG still of a video once it is ready.")


class MediaPatch(Input):
    alt_text: str = Field(max_length=ALT_TEXT_MAX)


class UploadCreate(Input):
    size: int = Field(ge=1, description="The file's exact size in bytes.")
    alt_text: str = Field(default="", max_length=ALT_TEXT_MAX)
    filename: str | None = Field(
        default=None, max_length=255, description="Informational only: content decides the type."
    )


class UploadOut(Output):
    id: IdStr
    size: int
    offset: int = Field(description="Bytes received so far: where the next chunk starts.")
    chunk_size: int = Field(description="The largest chunk one request may carry.")
    expires_at: Timestamp
