"""Where media bytes live: a local folder or an S3-compatible bucket, behind one Protocol.

Keys are relative, slash-separated paths (``m/<owner>/<media>/original.mp4``). Writes
are atomic: a reader sees a whole object or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol

READ_CHUNK = 256 * 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def _check_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class MediaStorage(Protocol):
    """Object storage for media files."""

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at ``path`` under ``key`` (replacing any object there)."""
        ...

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        """Store everything ``chunks`` yields under ``key``; returns the byte count. If
        the iterable raises, nothing is stored and the error propagates."""
        ...

    async def fetch_to(self, key: str, path: Path) -> None:
        """Copy the object to the local file ``path``."""
        ...

    def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Stream bytes ``start`` (inclusive) to ``end`` (exclusive) of the object."""
        ...

    async def size(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Delete these objects; missing ones are ignored."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every object whose key starts with ``prefix``."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path to serve from without copying (local storage), else None."""
        ...


class LocalStorage:
    """Objects are files under ``root``; temporary files are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / ".tmp"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _tmp_path(self) -> Path:
        self._tmp.mkdir(parents=True, exist_ok=True)
        return self._tmp / uuid.uuid4().hex

    def _install(self, tmp: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        def copy() -> None:
            tmp = self._tmp_path()
            try:
                shutil.copyfile(path, tmp)
                self._install(tmp, key)
            finally:
                tmp.unlink(missing_ok=True)

        await asyncio.to_thread(copy)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        tmp = self._tmp_path()
        written = 0
        try:
            handle = await asyncio.to_thread(tmp.open, "wb")
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
                    written += len(chunk)
            finally:
                await asyncio.to_thread(handle.close)
            await asyncio.to_thread(self._install, tmp, key)
        finally:
            tmp.unlink(missing_ok=True)
        return written

    async def fetch_to(self, key: str, path: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self._path(key), path)

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = end - start
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, keys: Sequence[str]) -> None:
        def remove() -> None:
            for key in keys:
                self._path(key).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    async def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, target, True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


class S3Storage:
    """Objects in an S3-compatible bucket. boto3 is synchronous, so every call runs in a
    worker thread; the client itself is thread-safe."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self._spool_dir = spool_dir
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(max_pool_connections=32, retries={"max_attempts": 3}),
        )

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.upload_file,
            str(path),
            self.bucket,
            _check_key(key),
            ExtraArgs={"ContentType": content_type},
        )

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> int:
        # Spooled to disk first: S3 needs the length (or a multipart upload) up front, and
        # a failed stream must leave no object behind.
        if self._spool_dir is not None:
            self._spool_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._spool_dir)
        os.close(fd)
        path = Path(name)
        written = 0
        try:
            handle = await asyncio.to_thread(path.open, "wb")
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
                    written += len(chunk)
            finally:
                await asyncio.to_thread(handle.close)
            await self.put_file(key, path, content_type)
        finally:
            await asyncio.to_thread(path.unlink, True)
        return written

    async def fetch_to(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._client.download_file, self.bucket, _check_key(key), str(path))

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        answer = await asyncio.to_thread(
            self._client.get_object,
            Bucket=self.bucket,
            Key=_check_key(key),
            Range=f"bytes={start}-{end - 1}",
        )
        body = answer["Body"]
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, READ_CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(
                self._client.head_object, Bucket=self.bucket, Key=_check_key(key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    async def delete(self, keys: Sequence[str]) -> None:
        for batch_start in range(0, len(keys), 1000):
            batch = [{"Key": _check_key(k)} for k in keys[batch_start : batch_start + 1000]]
            if batch:
                await asyncio.to_thread(
                    self._client.delete_objects,
                    Bucket=self.bucket,
                    Delete={"Objects": batch, "Quiet": True},
                )

    async def delete_prefix(self, prefix: str) -> None:
        def keys() -> list[str]:
            found: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(item["Key"] for item in page.get("Contents", []))
            return found

        await self.delete(await asyncio.to_thread(keys))

    def local_path(self, key: str) -> Path | None:
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
