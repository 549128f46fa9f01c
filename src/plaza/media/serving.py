"""Answering for media files: byte ranges, validators and immutable caching.

Local files go out through Starlette's ``FileResponse`` (which hands the path to the
server with the ASGI ``pathsend`` extension where the server offers it, and otherwise
streams the file in chunks from a thread; uvicorn does not offer it). Objects in S3
are streamed from a ranged GET of just the bytes asked for.
"""

from __future__ import annotations

import asyncio
import os
from email.utils import format_datetime

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from plaza.core.errors import NotFound, problem_response
from plaza.media.service import ServedFile
from plaza.media.storage import MediaStorage

# Media never change under a URL (a new upload gets a new id and token).
CACHE_CONTROL = "public, max-age=31536000, immutable"


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as ``(start, end)`` with ``end`` exclusive; None to
    send the whole file (no header, a header this server ignores: another unit, several
    ranges, bad syntax). Raises ``RangeNotSatisfiable`` for a range past the end."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    end = min(int(last) + 1, size) if last else size
    return start, end


class _LocalFile(FileResponse):
    # Bigger reads than Starlette's 64 KiB: fewer thread hops per megabyte.
    chunk_size = 256 * 1024

    def __init__(self, *args: object, ignore_range: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._ignore_range = ignore_range

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._ignore_range:
            # Range handling was decided in ``file_response``; FileResponse must not
            # second-guess it (multipart answers, 400s for odd headers).
            headers = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
            scope = {**scope, "headers": headers}
        await super().__call__(scope, receive, send)


async def file_response(request: Request, storage: MediaStorage, served: ServedFile) -> Response:
    last_modified = format_datetime(served.last_modified, usegmt=True)
    headers = {
        "etag": served.etag,
        "last-modified": last_modified,
        "cache-control": CACHE_CONTROL,
        "accept-ranges": "bytes",
        "x-content-type-options": "nosniff",
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and (
        if_none_match.strip() == "*"
        or served.etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    ):
        return Response(status_code=304, headers=headers)
    asked = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() not in (served.etag, last_modified):
        asked = None  # the client's copy is another version: send the whole file
    try:
        byte_range = parse_range(asked, served.size)
    except RangeNotSatisfiable:
        return problem_response(
            416,
            detail=f"The range is outside the file's {served.size} bytes.",
            slug="range-not-satisfiable",
            title="Range not satisfiable",
            headers={"content-range": f"bytes */{served.size}", "accept-ranges": "bytes"},
        )
    if served.local_path is not None:
        try:
            stat = await asyncio.to_thread(os.stat, served.local_path)
        except FileNotFoundError as exc:
            raise NotFound("No such media.") from exc
        return _LocalFile(
            served.local_path,
            headers=headers,
            media_type=served.content_type,
            stat_result=stat,
            ignore_range=byte_range is None,
        )
    start, end = byte_range or (0, served.size)
    status = 206 if byte_range else 200
    headers["content-length"] = str(end - start)
    if byte_range:
        headers["content-range"] = f"bytes {start}-{end - 1}/{served.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=served.content_type)
    return StreamingResponse(
        storage.open_range(served.key, start, end),
        status_code=status,
        headers=headers,
        media_type=served.content_type,
    )
