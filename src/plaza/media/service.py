"""Media rules: uploads (simple and resumable), processing, attachment, serving, clean-up.

Slow work (decoding, ffmpeg, storage transfers) always runs with no database
transaction open; each write is a short transaction of its own. Video processing runs
in background workers of this process; a video's row stays ``processing`` with a
time-limited claim while a worker has it, so that videos whose worker died (a crash, a
restart) are queued again at start-up and by a periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from plaza.core.clock import Clock
from plaza.core.db import Database
from plaza.core.errors import Conflict, InvalidInput, NotFound
from plaza.core.ids import SnowflakeGenerator
from plaza.core.ratelimit import Rate, RateLimiter, enforce
from plaza.media.info import THUMB_NAME, MediaInfo, info_of
from plaza.media.models import MediaItem, MediaUpload, MediaUploadPart
from plaza.media.processing import (
    SUPPORTED,
    ImageLimits,
    ToolFailed,
    UnsupportedMedia,
    probe_video,
    process_image,
    remux_video,
    sniff,
    too_large,
    video_thumbnail,
)
from plaza.media.storage import MediaStorage

logger = logging.getLogger("plaza.media")
_MUXERS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}
_SPOOL_CHUNK = 1_048_576
_SWEEP_BATCH = 500
_SERVED = select(
    MediaItem.token,
    MediaItem.status,
    MediaItem.ext,
    MediaItem.storage_key,
    MediaItem.content_type,
    MediaItem.size_bytes,
    MediaItem.thumb_key,
    MediaItem.thumb_bytes,
    MediaItem.created_at,
).where(MediaItem.id == bindparam("media_id"))


@dataclass(frozen=True)
class MediaLimits:
    max_image_bytes: int
    max_video_bytes: int
    max_video_seconds: float
    image: ImageLimits
    chunk_bytes: int
    unattached_ttl: timedelta
    uploads: Rate
    ffprobe_timeout: float
    ffmpeg_timeout: float
    workers: int = 1

    @property
    def max_file_bytes(self) -> int:
        return max(self.max_image_bytes, self.max_video_bytes)

    @property
    def claim(self) -> timedelta:
        # Remux and thumbnail each get ffmpeg_timeout; transfers get the rest.
        return timedelta(seconds=3 * self.ffmpeg_timeout + 60)


@dataclass(frozen=True)
class UploadState:
    id: int
    size: int
    offset: int
    chunk_size: int
    expires_at: datetime


@dataclass(frozen=True)
class ServedFile:
    """What the file route needs to answer: where the bytes are and their headers."""

    key: str
    content_type: str
    size: int
    etag: str
    last_modified: datetime
    local_path: Path | None


class MediaService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        ids: SnowflakeGenerator,
        limiter: RateLimiter,
        storage: MediaStorage,
        limits: MediaLimits,
        work_dir: Path,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.limiter = limiter
        self.storage = storage
        self.limits = limits
        self.work_dir = work_dir
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self._workers: list[asyncio.Task[None]] = []
        # Decoding a large image takes a core and its pixels in memory; bound both.
        self._image_slots = asyncio.Semaphore(2)

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the video workers and queue the videos left in processing."""
        for n in range(self.limits.workers):
            self._workers.append(asyncio.create_task(self._work(), name=f"media-worker-{n}"))
        await self.requeue_stuck()

    async def stop(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    async def drain(self) -> None:
        """Wait until every queued video has been processed (ready or failed)."""
        if self._workers:
            await self._queue.join()

    async def requeue_stuck(self) -> int:
        """Queue the videos in processing that no live worker holds; how many were queued."""
        now = self.clock.now()
        async with self.db.session(write=False) as session:
            ids = (
                await session.scalars(
                    select(MediaItem.id).where(
                        MediaItem.status == "processing",
                        or_(MediaItem.claimed_until.is_(None), MediaItem.claimed_until < now),
                    )
                )
            ).all()
        for media_id in ids:
            self._enqueue(media_id)
        return len(ids)

    # ---- uploads ---------------------------------------------------------------------

    async def upload(
        self, owner_id: int, chunks: AsyncIterable[bytes], *, alt_text: str = ""
    ) -> MediaInfo:
        """Store one whole file sent in one request. Images are ready on return; videos
        are ``processing`` until a worker has remuxed them and made a thumbnail.
        413/415/422 problems name the field ``file``."""
        await self._check_rate(owner_id)
        with self._scratch() as scratch:
            path = scratch / "upload"
            await _spool(_limited(chunks, self.limits.max_file_bytes, "file"), path)
            return await self._ingest(owner_id, path, alt_text, scratch)

    async def create_upload(self, owner_id: int, *, size: int, alt_text: str = "") -> UploadState:
        """Open a resumable upload of ``size`` bytes; chunks follow with ``append_chunk``."""
        if size > self.limits.max_file_bytes:
            raise too_large("size", f"files are limited to {self.limits.max_file_bytes} bytes")
        await self._check_rate(owner_id)
        now = self.clock.now()
        upload = MediaUpload(
            id=self.ids.next_id(),
            owner_id=owner_id,
            size=size,
            received=0,
            alt_text=alt_text,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session() as session:
            session.add(upload)
            await session.commit()
        return self._state(upload, upload.received)

    async def upload_state(self, owner_id: int, upload_id: int) -> UploadState:
        """Where an upload stands: the offset the next chunk must start at."""
        upload = await self._own_upload(owner_id, upload_id)
        return self._state(upload, upload.received)

    async def append_chunk(
        self, owner_id: int, upload_id: int, offset: int, chunks: AsyncIterable[bytes]
    ) -> UploadState:
        """Store the chunk starting at ``offset``, which must be the upload's current
        offset (409 otherwise, with the right one in ``offset``). A chunk is kept whole
        or not at all: after an interrupted request, resend from the current offset."""
        upload = await self._own_upload(owner_id, upload_id)
        if offset != upload.received:
            raise _offset_conflict(upload.received)
        room = min(self.limits.chunk_bytes, upload.size - upload.received)
        key = f"u/{owner_id}/{upload_id}/{offset:015d}-{secrets.token_hex(4)}"
        size = await self.storage.put_stream(
            key, _limited(chunks, room, "body"), "application/octet-stream"
        )
        if size == 0:
            await self.storage.delete([key])
            raise InvalidInput("body", "the chunk is empty")
        async with self.db.session() as session:
            moved = await session.execute(
                update(MediaUpload)
                .where(MediaUpload.id == upload_id, MediaUpload.received == offset)
                .values(received=offset + size, updated_at=self.clock.now())
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                await self.storage.delete([key])
                current = await self._own_upload(owner_id, upload_id)
                raise _offset_conflict(current.received)
            session.add(MediaUploadPart(upload_id=upload_id, start=offset, size=size, key=key))
            await session.commit()
        return self._state(upload, offset + size)

    async def complete_upload(self, owner_id: int, upload_id: int) -> MediaInfo:
        """Turn a fully received upload into a media, as ``upload`` does; the upload is
        gone afterwards, whether its content was accepted or not."""
        upload = await self._own_upload(owner_id, upload_id)
        if upload.received != upload.size:
            raise Conflict(
                f"offset: {upload.received} of {upload.size} bytes received",
                offset=upload.received,
            )
        async with self.db.session(write=False) as session:
            parts = (
                await session.scalars(
                    select(MediaUploadPart)
                    .where(MediaUploadPart.upload_id == upload_id)
                    .order_by(MediaUploadPart.start)
                )
            ).all()
        # Claim it: of two concurrent completions, one deletes the row, the other 404s.
        async with self.db.session() as session:
            claimed = await session.execute(
                delete(MediaUpload).where(
                    MediaUpload.id == upload_id, MediaUpload.received == MediaUpload.size
                )
            )
            await session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound("No such upload.")
        try:
            with self._scratch() as scratch:
                path = scratch / "upload"
                await self._assemble(parts, path)
                return await self._ingest(owner_id, path, upload.alt_text, scratch)
        finally:
            await self.storage.delete_prefix(f"u/{owner_id}/{upload_id}/")

    async def abort_upload(self, owner_id: int, upload_id: int) -> None:
        """Drop an unfinished upload and its chunks."""
        await self._own_upload(owner_id, upload_id)
        async with self.db.session() as session:
            await session.execute(delete(MediaUpload).where(MediaUpload.id == upload_id))
            await session.commit()
        await self.storage.delete_prefix(f"u/{owner_id}/{upload_id}/")

    # ---- reading and editing -----------------------------------------------------------

    async def get(self, owner_id: int, media_id: int) -> MediaInfo:
        """One of the owner's media (404 for anyone else's)."""
        async with self.db.session(write=False) as session:
            item = await session.get(MediaItem, media_id)
        if item is None or item.owner_id != owner_id:
            raise NotFound("No such media.")
        return info_of(item)

    async def set_alt_text(self, owner_id: int, media_id: int, alt_text: str) -> MediaInfo:
        async with self.db.session() as session:
            item = await session.get(MediaItem, media_id)
            if item is None or item.owner_id != owner_id:
                raise NotFound("No such media.")
            item.alt_text = alt_text
            item.updated_at = self.clock.now()
            await session.commit()
            return info_of(item)

    async def describe(self, media_ids: Collection[int]) -> dict[int, MediaInfo]:
        """Infos of the given media that exist, by id (any owner, any status)."""
        if not media_ids:
            return {}
        async with self.db.session(write=False) as session:
            items = (
                await session.scalars(select(MediaItem).where(MediaItem.id.in_(list(media_ids))))
            ).all()
        return {item.id: info_of(item) for item in items}

    async def served_file(self, media_id: int, token: str, name: str) -> ServedFile:
        """The file behind a public media URL; 404 unless id, token and name all match
        a ready media."""
        # Every media request runs this: one autocommit statement, no ORM.
        item = await self.db.fetch_one(_SERVED, {"media_id": media_id})
        if item is None or not hmac.compare_digest(item.token.encode(), token.encode()):
            raise NotFound("No such media.")
        if item.status != "ready":
            raise NotFound("No such media.")
        etag_base = f'"{media_id}-{item.token[:8]}'
        if name == f"original.{item.ext}":
            key, content_type, size = item.storage_key, item.content_type, item.size_bytes
            etag = etag_base + '"'
        elif name == THUMB_NAME and item.thumb_key and item.thumb_bytes is not None:
            key, content_type, size = item.thumb_key, "image/jpeg", item.thumb_bytes
            etag = etag_base + '-t"'
        else:
            raise NotFound("No such media.")
        return ServedFile(
            key=key,
            content_type=content_type,
            size=size,
            etag=etag,
            # The bytes at a URL never change, so its creation is their version date
            # (updated_at moves with alt text and attachment).
            last_modified=item.created_at,
            local_path=self.storage.local_path(key),
        )

    # ---- the pinned interface for other domains -----------------------------------------

    async def attach(
        self,
        session: AsyncSession,
        *,
        owner_id: int,
        media_ids: Sequence[int],
        subject: str,
        subject_id: int,
    ) -> list[MediaInfo]:
        """Attach the owner's ready, unattached media to ``(subject, subject_id)`` inside
        the caller's write transaction. ``InvalidInput("media_ids")`` if any id is
        unknown, someone else's, not ready, already attached or released. Returns the
        infos in the given order."""
        if not media_ids:
            return []
        if len(set(media_ids)) != len(media_ids):
            raise InvalidInput("media_ids", "the same media is listed twice")
        query = select(MediaItem).where(MediaItem.id.in_(list(media_ids)))
        if session.get_bind().dialect.name != "sqlite":
            # SQLite's write transaction already holds the database's write lock.
            query = query.with_for_update()
        items = {item.id: item for item in (await session.scalars(query)).all()}
        for media_id in media_ids:
            item = items.get(media_id)
            if item is None or item.owner_id != owner_id:
                raise InvalidInput("media_ids", f"no media {media_id} of yours")
            if item.status != "ready":
                raise InvalidInput("media_ids", f"media {media_id} is {item.status}, not ready")
            if item.subject is not None or item.released_at is not None:
                raise InvalidInput("media_ids", f"media {media_id} is already attached")
        now = self.clock.now()
        for item in items.values():
            item.subject, item.subject_id, item.updated_at = subject, subject_id, now
        await session.flush()
        return [info_of(items[media_id]) for media_id in media_ids]

    async def release(self, session: AsyncSession, *, subject: str, subject_id: int) -> None:
        """The subject was deleted: detach its media; the next sweep deletes them."""
        await session.execute(
            update(MediaItem)
            .where(MediaItem.subject == subject, MediaItem.subject_id == subject_id)
            .values(subject=None, subject_id=None, released_at=self.clock.now())
        )

    # ---- clean-up ----------------------------------------------------------------------

    async def sweep(self) -> int:
        """Delete released media, media left unattached longer than the configured age,
        and unfinished uploads idle that long; files first leave the database, then
        storage. Returns how many media and uploads were deleted."""
        now = self.clock.now()
        cutoff = now - self.limits.unattached_ttl
        doomed = or_(
            and_(MediaItem.subject.is_(None), MediaItem.created_at < cutoff),
            MediaItem.released_at.is_not(None),
        )
        unclaimed = or_(MediaItem.claimed_until.is_(None), MediaItem.claimed_until < now)
        deleted = 0
        while True:
            async with self.db.session(write=False) as session:
                ids = (
                    await session.scalars(
                        select(MediaItem.id).where(doomed, unclaimed).limit(_SWEEP_BATCH)
                    )
                ).all()
            if not ids:
                break
            async with self.db.session() as session:
                gone = (
                    await session.execute(
                        delete(MediaItem)
                        .where(MediaItem.id.in_(ids), doomed, unclaimed)
                        .returning(MediaItem.id, MediaItem.owner_id)
                    )
                ).all()
                await session.commit()
            for media_id, owner_id in gone:
                await self.storage.delete_prefix(f"m/{owner_id}/{media_id}/")
            deleted += len(gone)
            if len(ids) < _SWEEP_BATCH:
                break
        async with self.db.session() as session:
            stale = (
                await session.execute(
                    delete(MediaUpload)
                    .where(MediaUpload.updated_at < cutoff)
                    .returning(MediaUpload.id, MediaUpload.owner_id)
                )
            ).all()
            await session.commit()
        for upload_id, owner_id in stale:
            await self.storage.delete_prefix(f"u/{owner_id}/{upload_id}/")
        return deleted + len(stale)

    async def forget_owner(self, user_id: int) -> None:
        """The account is gone (its rows went with it): delete its files."""
        await self.storage.delete_prefix(f"m/{user_id}/")
        await self.storage.delete_prefix(f"u/{user_id}/")

    # ---- internals ---------------------------------------------------------------------

    async def _check_rate(self, owner_id: int) -> None:
        await enforce(
            self.limiter,
            f"media-upload:{owner_id}",
            self.limits.uploads,
            "Too many uploads; try again later.",
        )

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[Path]:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as name:
            yield Path(name)

    async def _own_upload(self, owner_id: int, upload_id: int) -> MediaUpload:
        async with self.db.session(write=False) as session:
            upload = await session.get(MediaUpload, upload_id)
        if upload is None or upload.owner_id != owner_id:
            raise NotFound("No such upload.")
        return upload

    def _state(self, upload: MediaUpload, offset: int) -> UploadState:
        return UploadState(
            id=upload.id,
            size=upload.size,
            offset=offset,
            chunk_size=self.limits.chunk_bytes,
            expires_at=upload.updated_at + self.limits.unattached_ttl,
        )

    async def _assemble(self, parts: Sequence[MediaUploadPart], path: Path) -> None:
        with path.open("wb") as out:
            for part in parts:
                local = self.storage.local_path(part.key)
                if local is not None:
                    await asyncio.to_thread(_append_file, local, out)
                    continue
                async for chunk in self.storage.open_range(part.key, 0, part.size):
                    await asyncio.to_thread(out.write, chunk)

    async def _ingest(self, owner_id: int, path: Path, alt_text: str, scratch: Path) -> MediaInfo:
        size, head = await asyncio.to_thread(_size_and_head, path)
        kind = sniff(head)
        if kind is None:
            raise UnsupportedMedia("file", f"not an image or video Plaza accepts; send {SUPPORTED}")
        media_id = self.ids.next_id()
        prefix = f"m/{owner_id}/{media_id}/"
        now = self.clock.now()
        item = MediaItem(
            id=media_id,
            owner_id=owner_id,
            kind=kind,
            token=secrets.token_urlsafe(16),
            alt_text=alt_text,
            subject=None,
            subject_id=None,
            created_at=now,
            updated_at=now,
        )
        if kind == "image":
            if size > self.limits.max_image_bytes:
                raise too_large(
                    "file", f"images are limited to {self.limits.max_image_bytes} bytes"
                )
            out = scratch / "image"
            async with self._image_slots:
                image = await asyncio.to_thread(process_image, path, out, self.limits.image)
            item.status, item.content_type, item.ext = "ready", image.content_type, image.ext
            item.width, item.height, item.size_bytes = image.width, image.height, out.stat().st_size
            item.storage_key = prefix + f"original.{image.ext}"
            await self.storage.put_file(item.storage_key, out, image.content_type)
        else:
            if size > self.limits.max_video_bytes:
                raise too_large(
                    "file", f"videos are limited to {self.limits.max_video_bytes} bytes"
                )
            probe = await probe_video(path, self.limits.ffprobe_timeout)
            if probe.duration_ms > self.limits.max_video_seconds * 1000:
                raise InvalidInput(
                    "file", f"videos are limited to {self.limits.max_video_seconds:g} seconds"
                )
            item.status, item.content_type, item.ext = "processing", probe.content_type, probe.ext
            item.width, item.height = probe.width, probe.height
            item.duration_ms, item.size_bytes = probe.duration_ms, size
            item.storage_key = prefix + f"original.{probe.ext}"
            item.source_key = prefix + "source"
            await self.storage.put_file(item.source_key, path, "application/octet-stream")
        try:
            async with self.db.session() as session:
                session.add(item)
                await session.commit()
        except BaseException:
            await self.storage.delete_prefix(prefix)
            raise
        if item.status == "processing":
            self._enqueue(item.id)
        return info_of(item)

    def _enqueue(self, media_id: int) -> None:
        if self._workers and media_id not in self._queued:
            self._queued.add(media_id)
            self._queue.put_nowait(media_id)

    async def _work(self) -> None:
        while True:
            media_id = await self._queue.get()
            try:
                await self._process(media_id)
            except Exception:
                # The claim expires and the video is queued again later.
                logger.exception("video processing failed", extra={"media_id": media_id})
            finally:
                self._queued.discard(media_id)
                self._queue.task_done()

    async def _process(self, media_id: int) -> None:
        now = self.clock.now()
        async with self.db.session() as session:
            claimed = await session.execute(
                update(MediaItem)
                .where(
                    MediaItem.id == media_id,
                    MediaItem.status == "processing",
                    or_(MediaItem.claimed_until.is_(None), MediaItem.claimed_until < now),
                )
                .values(claimed_until=now + self.limits.claim)
            )
            item = await session.get(MediaItem, media_id)
            await session.commit()
        if claimed.rowcount != 1 or item is None or item.source_key is None:  # type: ignore[attr-defined]
            return
        source_key, thumb_key = item.source_key, f"m/{item.owner_id}/{media_id}/thumb.jpg"
        if await self.storage.size(source_key) is None:
            # Lost (a restored backup, a deleted bucket object): retrying cannot help.
            await self._finish(media_id, status="failed", error="the uploaded file is missing")
            return
        with self._scratch() as scratch:
            source = self.storage.local_path(source_key)
            if source is None:
                source = scratch / "source"
                await self.storage.fetch_to(source_key, source)
            out, thumb = scratch / f"out.{item.ext}", scratch / "thumb.jpg"
            try:
                await remux_video(source, out, _MUXERS[item.ext], self.limits.ffmpeg_timeout)
                await video_thumbnail(out, thumb, item.duration_ms or 0, self.limits.ffmpeg_timeout)
            except (ToolFailed, TimeoutError) as exc:
                logger.warning("video rejected", extra={"media_id": media_id, "error": str(exc)})
                await self._finish(media_id, status="failed", error=str(exc)[:300] or "failed")
                await self.storage.delete([source_key])
                return
            await self.storage.put_file(item.storage_key, out, item.content_type)
            await self.storage.put_file(thumb_key, thumb, "image/jpeg")
            done = await self._finish(
                media_id,
                status="ready",
                size_bytes=out.stat().st_size,
                thumb_key=thumb_key,
                thumb_bytes=thumb.stat().st_size,
            )
        if done:
            await self.storage.delete([source_key])
        else:  # deleted while we worked (swept, or the account went)
            await self.storage.delete_prefix(f"m/{item.owner_id}/{media_id}/")

    async def _finish(self, media_id: int, **values: object) -> bool:
        async with self.db.session() as session:
            result = await session.execute(
                update(MediaItem)
                .where(MediaItem.id == media_id, MediaItem.status == "processing")
                .values(source_key=None, claimed_until=None, updated_at=self.clock.now(), **values)
            )
            await session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _offset_conflict(current: int) -> Conflict:
    return Conflict(f"offset: the upload continues at byte {current}", offset=current)


async def _limited(chunks: AsyncIterable[bytes], limit: int, field: str) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise too_large(field, f"more than the {limit} bytes allowed here")
        yield chunk


async def _spool(chunks: AsyncIterable[bytes], path: Path) -> None:
    with path.open("wb") as out:
        async for chunk in chunks:
            await asyncio.to_thread(out.write, chunk)


def _size_and_head(path: Path) -> tuple[int, bytes]:
    with path.open("rb") as handle:
        return os.fstat(handle.fileno()).st_size, handle.read(32)


def _append_file(source: Path, out: BinaryIO) -> None:
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, out, _SPOOL_CHUNK)
