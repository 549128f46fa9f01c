"""Media tables: stored files and unfinished resumable uploads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class MediaItem(Base):
    """One image or video. ``subject``/``subject_id`` name what it is attached to
    (``("post", 123)``); NULL while unattached. ``token`` is the random part of its
    public URL (ids are guessable, tokens are not)."""

    __tablename__ = "media_item"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12))
    content_type: Mapped[str] = mapped_column(String(64))
    ext: Mapped[str] = mapped_column(String(8))
    token: Mapped[str] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    alt_text: Mapped[str] = mapped_column(String(1500))
    # Where the served file and the video thumbnail live in storage; ``source_key`` is the
    # uploaded video waiting for processing (deleted once processed).
    storage_key: Mapped[str] = mapped_column(String(200))
    thumb_key: Mapped[str | None] = mapped_column(String(200))
    thumb_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source_key: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A worker's claim on a processing video; an expired claim means the worker died.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_media_item_subject", "subject", "subject_id"),)


class MediaUpload(Base):
    """A resumable upload in progress: ``received`` bytes of ``size`` are stored as parts."""

    __tablename__ = "media_upload"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("identity_user.id", ondelete="CASCADE"), index=True
    )
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger)
    alt_text: Mapped[str] = mapped_column(String(1500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MediaUploadPart(Base):
    """One accepted chunk of an upload, stored under ``key``."""

    __tablename__ = "media_upload_part"

    upload_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("media_upload.id", ondelete="CASCADE"), primary_key=True
    )
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(200))
