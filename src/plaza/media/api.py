"""The media HTTP API: uploads (one request, or resumable in chunks), media info, and
the public file URLs.

Resumable protocol (what ``static/js/media/upload.js`` does):
1. ``POST /api/v1/media/uploads`` ``{"size", "alt_text"?}`` → 201 ``{id, offset: 0,
   chunk_size, ...}``.
2. ``PATCH /api/v1/media/uploads/{id}`` with header ``Upload-Offset: <offset>`` and up to
   ``chunk_size`` raw bytes → 200 with the new ``offset``. A chunk is stored whole or
   not at all; a wrong offset is a 409 whose ``offset`` says where to continue.
3. After a failure: ``GET /api/v1/media/uploads/{id}`` → the current ``offset``; resume.
4. ``POST /api/v1/media/uploads/{id}/complete`` → 201 the media (``status`` may be
   ``processing`` for videos: poll ``GET /api/v1/media/{id}``).

No `from __future__ import annotations` here: FastAPI must see the real types of
the `Annotated` aliases defined inside `build_router`.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Request, Response, UploadFile, status
from starlette.requests import ClientDisconnect

from plaza.core.errors import problem_response
from plaza.core.schemas import IdPath
from plaza.identity import Authenticator, Principal
from plaza.media import schemas as s
from plaza.media.info import MediaInfo
from plaza.media.schemas import ALT_TEXT_MAX
from plaza.media.service import MediaService, UploadState
from plaza.media.serving import file_response

_READ = 1_048_576
_OCTETS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def media_out(info: MediaInfo) -> s.MediaOut:
    return s.MediaOut.model_validate(info, from_attributes=True)


def upload_out(state: UploadState) -> s.UploadOut:
    return s.UploadOut.model_validate(state, from_attributes=True)


async def _read_upload(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(_READ):
        yield chunk


def _disconnected() -> Response:
    # Nobody reads this answer; it keeps a vanished client out of the error log.
    return problem_response(400, detail="The client went away during the upload.")


def build_router(media: MediaService, auth: Authenticator) -> APIRouter:
    router = APIRouter(tags=["media"])
    Me = Annotated[Principal, Depends(auth.required)]

    @router.post(
        "/api/v1/media",
        status_code=status.HTTP_201_CREATED,
        response_model=s.MediaOut,
        responses={
            413: {"description": "Too large"},
            415: {"description": "Not an accepted image or video"},
            422: {"description": "Corrupt media, or over a limit (duration, pixels)"},
            429: {"description": "Too many uploads"},
        },
    )
    async def upload(
        me: Me,
        file: Annotated[UploadFile, File(description="The image or video.")],
        alt_text: Annotated[str, Form(max_length=ALT_TEXT_MAX)] = "",
    ) -> s.MediaOut:
        """Upload a whole file in one request. What it is comes from its content, never
        its name. Images are ready at once; videos answer ``processing``."""
        info = await media.upload(me.user.id, _read_upload(file), alt_text=alt_text)
        return media_out(info)

    @router.post(
        "/api/v1/media/uploads",
        status_code=status.HTTP_201_CREATED,
        response_model=s.UploadOut,
        responses={413: {"description": "Too large"}, 429: {"description": "Too many uploads"}},
    )
    async def create_upload(body: s.UploadCreate, me: Me) -> s.UploadOut:
        """Start a resumable upload (for large videos); see the protocol in the API docs."""
        state = await media.create_upload(me.user.id, size=body.size, alt_text=body.alt_text)
        return upload_out(state)

    @router.get("/api/v1/media/uploads/{upload_id}", response_model=s.UploadOut)
    async def upload_state(upload_id: IdPath, me: Me) -> s.UploadOut:
        """Where the upload stands; after a failed chunk, resume at ``offset``."""
        return upload_out(await media.upload_state(me.user.id, upload_id))

    @router.patch(
        "/api/v1/media/uploads/{upload_id}",
        response_model=s.UploadOut,
        openapi_extra=_OCTETS,
        responses={
            409: {"description": "Upload-Offset is not the current offset"},
            413: {"description": "Chunk too large"},
        },
    )
    async def append_chunk(
        upload_id: IdPath,
        request: Request,
        me: Me,
        upload_offset: Annotated[int, Header(ge=0, description="Where this chunk starts.")],
    ) -> Any:
        """Append raw bytes at ``Upload-Offset`` (at most ``chunk_size`` per request)."""
        try:
            state = await media.append_chunk(me.user.id, upload_id, upload_offset, request.stream())
        except ClientDisconnect:
            return _disconnected()
        return upload_out(state)

    @router.post(
        "/api/v1/media/uploads/{upload_id}/complete",
        status_code=status.HTTP_201_CREATED,
        response_model=s.MediaOut,
        responses={
            409: {"description": "Not all bytes received yet"},
            413: {"description": "Too large"},
            415: {"description": "Not an accepted image or video"},
            422: {"description": "Corrupt media, or over a limit"},
        },
    )
    async def complete_upload(upload_id: IdPath, me: Me) -> s.MediaOut:
        """Finish the upload: the file is checked and becomes a media."""
        return media_out(await media.complete_upload(me.user.id, upload_id))

    @router.delete("/api/v1/media/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def abort_upload(upload_id: IdPath, me: Me) -> Response:
        await media.abort_upload(me.user.id, upload_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/api/v1/media/{media_id}", response_model=s.MediaOut)
    async def get_media(media_id: IdPath, me: Me) -> s.MediaOut:
        """One of your media; poll this until a video's ``status`` is ready or failed."""
        return media_out(await media.get(me.user.id, media_id))

    @router.patch("/api/v1/media/{media_id}", response_model=s.MediaOut)
    async def edit_media(media_id: IdPath, body: s.MediaPatch, me: Me) -> s.MediaOut:
        """Change the alt text (the description read to people who cannot see it)."""
        return media_out(await media.set_alt_text(me.user.id, media_id, body.alt_text))

    @router.head("/media/{media_id}/{token}/{name}", include_in_schema=False)
    @router.get(
        "/media/{media_id}/{token}/{name}",
        response_class=Response,
        responses={
            200: {"description": "The file"},
            206: {"description": "The byte range asked for"},
            304: {"description": "Not modified"},
            416: {"description": "Range not satisfiable"},
        },
    )
    async def media_file(media_id: IdPath, token: str, name: str, request: Request) -> Response:
        """A media file at its unguessable URL, with byte ranges (video seeking) and
        year-long immutable caching."""
        served = await media.served_file(media_id, token, name)
        return await file_response(request, media.storage, served)

    return router
