"""Media through the HTTP API and the service, on both storage backends (see conftest):
uploads checked by content, EXIF/GPS stripped, videos probed and processed, byte
ranges, resumable uploads, attach/release/describe and the clean-up sweep."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from plaza.core.clock import ManualClock
from plaza.core.errors import InvalidInput
from tests.conftest import Account, Users
from tests.media.conftest import AppRunner, jpeg_with_gps, png_bytes


async def upload(
    client: httpx.AsyncClient, who: Account, content: bytes, name: str = "file.bin", **data: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/media",
        headers=who.headers,
        files={"file": (name, content, "application/octet-stream")},
        data=data,
    )


def problem_field(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["errors"][0]["field"])


async def ready_video(client: httpx.AsyncClient, plaza: Any, who: Account, video: bytes) -> Any:
    created = await upload(client, who, video, "clip.mp4")
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "processing"
    await plaza.media.drain()
    body = (await client.get(f"/api/v1/media/{created.json()['id']}", headers=who.headers)).json()
    assert body["status"] == "ready", body
    return body


# ---- images -------------------------------------------------------------------------


async def test_jpeg_loses_exif_and_gps_but_keeps_its_orientation(
    client: httpx.AsyncClient, users: Users
) -> None:
    me = await users.create()
    original = jpeg_with_gps(size=(64, 32), orientation=6)
    assert Image.open(BytesIO(original)).getexif().get_ifd(0x8825)  # the sample has GPS

    response = await upload(client, me, original, "holiday.jpg", alt_text="A red square")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "image"
    assert body["status"] == "ready"
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (32, 64)  # rotated as the tag said
    assert body["alt_text"] == "A red square"
    assert body["thumbnail_url"] is None
    assert isinstance(body["id"], str)

    served = await client.get(body["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert int(served.headers["content-length"]) == body["size_bytes"] == len(served.content)
    image = Image.open(BytesIO(served.content))
    assert image.size == (32, 64)
    assert dict(image.getexif()) == {}
    assert b"Exif" not in served.content
    assert b"SnoopCam" not in served.content


async def test_png_is_re_encoded_as_png(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    response = await upload(client, me, png_bytes((40, 30)), "picture.gif")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/png", 40, 30)
    assert body["url"].endswith("/original.png")
    served = await client.get(body["url"])
    assert Image.open(BytesIO(served.content)).format == "PNG"


async def test_animated_gif_keeps_its_frames(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    frames = [Image.new("RGB", (20, 20), (i * 80, 0, 0)) for i in range(3)]
    out = BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    response = await upload(client, me, out.getvalue(), "a.gif")
    assert response.status_code == 201, response.text
    served = await client.get(response.json()["url"])
    assert getattr(Image.open(BytesIO(served.content)), "n_frames", 1) == 3


async def test_corrupt_image_is_422_naming_file(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    truncated = jpeg_with_gps()[:300]
    response = await upload(client, me, truncated, "broken.jpg")
    assert response.status_code == 422
    assert problem_field(response) == "file"


async def test_text_named_jpg_is_415_naming_file(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    response = await upload(client, me, b"just some text, honestly\n" * 10, "photo.jpg")
    assert response.status_code == 415
    assert problem_field(response) == "file"


async def test_oversized_image_is_413(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    noise = Image.effect_noise((400, 400), 100).convert("RGB")
    out = BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 300_000  # the image limit in these tests
    response = await upload(client, me, out.getvalue(), "noise.png")
    assert response.status_code == 413
    assert problem_field(response) == "file"


async def test_decompression_bomb_is_refused(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    bomb = png_bytes((3000, 3000), mode="1")  # tiny file, 9 million pixels declared
    assert len(bomb) < 10_000
    response = await upload(client, me, bomb, "bomb.png")
    assert response.status_code == 422
    assert problem_field(response) == "file"


async def test_missing_file_field_is_422(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    response = await client.post("/api/v1/media", headers=me.headers, data={"alt_text": "x"})
    assert response.status_code == 422
    assert problem_field(response) == "file"


# ---- videos ------------------------------------------------------------------------


def _ffprobe(data: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    out = subprocess.run(
        ["/usr/bin/ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(json.loads(out))


async def test_video_is_processed_with_thumbnail_and_no_location(
    client: httpx.AsyncClient, plaza: Any, users: Users, video_2s: bytes, tmp_path: Path
) -> None:
    me = await users.create()
    body = await ready_video(client, plaza, me, video_2s)
    assert body["kind"] == "video"
    assert body["content_type"] == "video/mp4"
    assert (body["width"], body["height"]) == (320, 240)
    assert 1900 <= body["duration_ms"] <= 2100
    assert body["url"].endswith("/original.mp4")

    video = await client.get(body["url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert len(video.content) == body["size_bytes"]
    tags = _ffprobe(video.content, tmp_path)["format"].get("tags", {})
    assert not any(key.startswith("location") for key in tags), tags

    thumb = await client.get(body["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(BytesIO(thumb.content)).size == (320, 240)


async def test_video_over_the_duration_limit_is_422(
    client: httpx.AsyncClient, users: Users, video_5s: bytes
) -> None:
    me = await users.create()
    response = await upload(client, me, video_5s, "long.mp4")
    assert response.status_code == 422
    assert problem_field(response) == "file"
    assert "3 seconds" in response.json()["errors"][0]["message"]


async def test_corrupt_video_is_422(
    client: httpx.AsyncClient, users: Users, video_2s: bytes
) -> None:
    me = await users.create()
    garbled = video_2s[:40] + bytes(2000)  # an MP4 signature, then nothing readable
    response = await upload(client, me, garbled, "clip.mp4")
    assert response.status_code == 422
    assert problem_field(response) == "file"


async def test_video_left_processing_is_finished_after_a_restart(
    client: httpx.AsyncClient, users: Users, run_app: AppRunner, video_2s: bytes
) -> None:
    me = await users.create()
    async with run_app(media_workers=0) as (_app, other):
        # A process with no worker accepts the upload and "dies" before processing it.
        created = await upload(other, me, video_2s, "clip.mp4")
        assert created.status_code == 201, created.text
    media_id = created.json()["id"]
    async with run_app() as (restarted, again):
        await restarted.state.plaza.media.drain()
        body = (await again.get(f"/api/v1/media/{media_id}", headers=me.headers)).json()
    assert body["status"] == "ready"
    assert body["thumbnail_url"]


# ---- serving -----------------------------------------------------------------------


async def test_byte_ranges_validators_and_caching(
    client: httpx.AsyncClient, plaza: Any, users: Users, video_2s: bytes
) -> None:
    me = await users.create()
    body = await ready_video(client, plaza, me, video_2s)
    url, size = body["url"], body["size_bytes"]
    whole = (await client.get(url)).content
    assert len(whole) == size

    first = await client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.headers["content-length"] == "100"
    assert first.headers["content-type"] == "video/mp4"
    assert first.content == whole[:100]

    suffix = await client.get(url, headers={"Range": "bytes=-500"})
    assert suffix.status_code == 206
    assert suffix.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    assert suffix.content == whole[-500:]

    open_ended = await client.get(url, headers={"Range": "bytes=1000-"})
    assert open_ended.status_code == 206
    assert open_ended.content == whole[1000:]

    past_end = await client.get(url, headers={"Range": f"bytes={size}-"})
    assert past_end.status_code == 416
    assert past_end.headers["content-range"] == f"bytes */{size}"

    several = await client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200  # several ranges: the whole file instead
    assert several.content == whole

    head = await client.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(size)
    assert head.content == b""
    for header in ("etag", "last-modified", "accept-ranges"):
        assert head.headers[header]
    assert head.headers["accept-ranges"] == "bytes"
    assert "immutable" in head.headers["cache-control"]
    assert "max-age=31536000" in head.headers["cache-control"]

    ranged_head = await client.head(url, headers={"Range": "bytes=10-19"})
    assert ranged_head.status_code == 206
    assert ranged_head.headers["content-length"] == "10"

    etag = head.headers["etag"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304
    stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200
    assert stale.content == whole


async def test_media_urls_need_the_token(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    body = (await upload(client, me, png_bytes())).json()
    media_id = body["id"]
    assert (await client.get(body["url"])).status_code == 200
    assert (await client.get(f"/media/{media_id}/wrongtoken/original.png")).status_code == 404
    wrong_name = body["url"].replace("original.png", "original.jpg")
    assert (await client.get(wrong_name)).status_code == 404
    assert (await client.get(body["url"].replace("original.png", "thumb.jpg"))).status_code == 404


async def test_info_and_alt_text_are_the_owners_only(
    client: httpx.AsyncClient, users: Users
) -> None:
    me, other = await users.create(), await users.create()
    media_id = (await upload(client, me, png_bytes())).json()["id"]
    path = f"/api/v1/media/{media_id}"
    edited = await client.patch(path, headers=me.headers, json={"alt_text": "A green field"})
    assert edited.status_code == 200
    assert edited.json()["alt_text"] == "A green field"
    assert (await client.get(path, headers=me.headers)).json()["alt_text"] == "A green field"
    assert (await client.get(path, headers=other.headers)).status_code == 404
    refused = await client.patch(path, headers=other.headers, json={"alt_text": "mine now"})
    assert refused.status_code == 404
    client.cookies.clear()  # no session at all
    assert (await client.get(path)).status_code == 401


async def test_uploads_are_rate_limited(
    users: Users, run_app: AppRunner, client: httpx.AsyncClient
) -> None:
    me = await users.create()
    async with run_app(media_uploads_per_hour=2) as (_app, limited):
        for _ in range(2):
            assert (await upload(limited, me, png_bytes())).status_code == 201
        refused = await upload(limited, me, png_bytes())
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


# ---- resumable uploads -------------------------------------------------------------


async def _disconnecting_chunk(
    app: FastAPI, who: Account, path: str, offset: int, declared: int, sent: bytes
) -> None:
    """Send part of a chunk over raw ASGI, then hang up as a dropped connection does."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": sent, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(_message: dict[str, Any]) -> None:
        return None

    headers = [
        (b"authorization", who.headers["Authorization"].encode()),
        (b"upload-offset", str(offset).encode()),
        (b"content-length", str(declared).encode()),
        (b"content-type", b"application/octet-stream"),
        (b"host", b"localhost"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "state": {},
    }
    await app(scope, receive, send)


async def test_resumable_upload_survives_an_interrupted_chunk(
    app: FastAPI, client: httpx.AsyncClient, plaza: Any, users: Users, video_2s: bytes
) -> None:
    me, other = await users.create(), await users.create()
    created = await client.post(
        "/api/v1/media/uploads",
        headers=me.headers,
        json={"size": len(video_2s), "filename": "clip.mp4", "alt_text": "Test pattern"},
    )
    assert created.status_code == 201, created.text
    state = created.json()
    path, chunk = f"/api/v1/media/uploads/{state['id']}", state["chunk_size"]
    assert state["offset"] == 0
    assert len(video_2s) > 2 * chunk  # several chunks

    async def put(offset: int, data: bytes, who: Account = me) -> httpx.Response:
        headers = {**who.headers, "Upload-Offset": str(offset)}
        return await client.patch(path, headers=headers, content=data)

    first = await put(0, video_2s[:chunk])
    assert first.status_code == 200, first.text
    assert first.json()["offset"] == chunk

    # The connection drops half-way through the second chunk: nothing of it is kept.
    await _disconnecting_chunk(app, me, path, chunk, chunk, video_2s[chunk : chunk + 1000])
    status = await client.get(path, headers=me.headers)
    assert status.json()["offset"] == chunk

    # A chunk at the wrong offset is refused with the right one.
    wrong = await put(0, video_2s[:chunk])
    assert wrong.status_code == 409
    assert wrong.json()["offset"] == chunk
    # Too big a chunk is refused whole.
    assert (await put(chunk, video_2s[chunk : chunk + chunk + 1])).status_code == 413
    # Someone else's upload does not exist for them.
    assert (await put(chunk, video_2s[chunk : 2 * chunk], who=other)).status_code == 404
    assert (await client.get(path, headers=other.headers)).status_code == 404
    # Completing early is a conflict.
    early = await client.post(path + "/complete", headers=me.headers)
    assert early.status_code == 409

    offset = chunk
    while offset < len(video_2s):
        answer = await put(offset, video_2s[offset : offset + chunk])
        assert answer.status_code == 200, answer.text
        offset = answer.json()["offset"]
    assert offset == len(video_2s)

    done = await client.post(path + "/complete", headers=me.headers)
    assert done.status_code == 201, done.text
    media = done.json()
    assert media["kind"] == "video"
    assert media["alt_text"] == "Test pattern"
    await plaza.media.drain()
    ready = (await client.get(f"/api/v1/media/{media['id']}", headers=me.headers)).json()
    assert ready["status"] == "ready"
    assert 1900 <= ready["duration_ms"] <= 2100
    assert (await client.get(path, headers=me.headers)).status_code == 404  # upload is gone


async def test_resumable_upload_of_an_image_and_limits(
    client: httpx.AsyncClient, users: Users
) -> None:
    me = await users.create()
    too_big = await client.post(
        "/api/v1/media/uploads", headers=me.headers, json={"size": 50_000_000}
    )
    assert too_big.status_code == 413
    assert problem_field(too_big) == "size"

    data = jpeg_with_gps()
    state = (
        await client.post("/api/v1/media/uploads", headers=me.headers, json={"size": len(data)})
    ).json()
    path = f"/api/v1/media/uploads/{state['id']}"
    headers = {**me.headers, "Upload-Offset": "0"}
    empty = await client.patch(path, headers=headers, content=b"")
    assert empty.status_code == 422
    past_size = await client.patch(path, headers=headers, content=data + b"x")
    assert past_size.status_code == 413
    assert (await client.patch(path, headers=headers, content=data)).json()["offset"] == len(data)
    done = await client.post(path + "/complete", headers=me.headers)
    assert done.status_code == 201
    assert done.json()["status"] == "ready"

    # A cancelled upload is gone.
    state = (
        await client.post("/api/v1/media/uploads", headers=me.headers, json={"size": 10})
    ).json()
    path = f"/api/v1/media/uploads/{state['id']}"
    assert (await client.delete(path, headers=me.headers)).status_code == 204
    assert (await client.get(path, headers=me.headers)).status_code == 404


async def test_resumable_upload_of_text_is_415(client: httpx.AsyncClient, users: Users) -> None:
    me = await users.create()
    data = b"<html>not a video</html>"
    state = (
        await client.post("/api/v1/media/uploads", headers=me.headers, json={"size": len(data)})
    ).json()
    path = f"/api/v1/media/uploads/{state['id']}"
    headers = {**me.headers, "Upload-Offset": "0"}
    assert (await client.patch(path, headers=headers, content=data)).status_code == 200
    refused = await client.post(path + "/complete", headers=me.headers)
    assert refused.status_code == 415
    assert problem_field(refused) == "file"


# ---- attach, release, describe, sweep ----------------------------------------------


async def _attach(plaza: Any, owner: Account, ids: list[int], subject_id: int) -> Any:
    async with plaza.db.session() as session:
        infos = await plaza.media.attach(
            session, owner_id=int(owner.id), media_ids=ids, subject="post", subject_id=subject_id
        )
        await session.commit()
    return infos


async def test_attach_release_and_describe(
    client: httpx.AsyncClient, plaza: Any, users: Users, run_app: AppRunner, video_2s: bytes
) -> None:
    me, other = await users.create(), await users.create()
    a = int((await upload(client, me, png_bytes())).json()["id"])
    b = int((await upload(client, me, jpeg_with_gps())).json()["id"])
    theirs = int((await upload(client, other, png_bytes())).json()["id"])

    infos = await _attach(plaza, me, [b, a], subject_id=7)
    assert [i.id for i in infos] == [b, a]
    assert infos[0].kind == "image"
    assert infos[0].owner_id == int(me.id)

    for ids, why in (
        ([a], "already attached"),
        ([theirs], "someone else's"),
        ([123456789], "unknown"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await _attach(plaza, me, ids, subject_id=8)
        assert refused.value.extra["errors"][0]["field"] == "media_ids", why

    async with run_app(media_workers=0) as (_app, slow):
        processing = int((await upload(slow, me, video_2s, "clip.mp4")).json()["id"])
    with pytest.raises(InvalidInput):
        await _attach(plaza, me, [processing], subject_id=9)

    described = await plaza.media.describe([a, b, theirs, 42])
    assert set(described) == {a, b, theirs}
    assert described[a].url.startswith(f"/media/{a}/")
    assert described[a].status == "ready"

    async with plaza.db.session() as session:
        await plaza.media.release(session, subject="post", subject_id=7)
        await session.commit()
    with pytest.raises(InvalidInput):  # released media are not reused
        await _attach(plaza, me, [a], subject_id=10)


async def test_sweep_deletes_released_and_old_unattached_media(
    client: httpx.AsyncClient, plaza: Any, clock: ManualClock, users: Users
) -> None:
    me = await users.create()
    bodies = [(await upload(client, me, png_bytes())).json() for _ in range(3)]
    kept, released, orphan = (int(body["id"]) for body in bodies)
    await _attach(plaza, me, [kept], subject_id=1)
    await _attach(plaza, me, [released], subject_id=2)
    async with plaza.db.session() as session:
        await plaza.media.release(session, subject="post", subject_id=2)
        await session.commit()
    stale_upload = (
        await client.post("/api/v1/media/uploads", headers=me.headers, json={"size": 100})
    ).json()["id"]
    await client.patch(
        f"/api/v1/media/uploads/{stale_upload}",
        headers={**me.headers, "Upload-Offset": "0"},
        content=b"x" * 50,
    )

    assert await plaza.media.sweep() == 1  # the released one, at once
    assert set(await plaza.media.describe([kept, released, orphan])) == {kept, orphan}
    assert (await client.get(bodies[1]["url"])).status_code == 404

    clock.advance(timedelta(hours=23))
    assert await plaza.media.sweep() == 0  # not old enough yet
    clock.advance(timedelta(hours=2))
    assert await plaza.media.sweep() == 2  # the orphan and the stale upload
    assert set(await plaza.media.describe([kept, released, orphan])) == {kept}
    assert (await client.get(bodies[2]["url"])).status_code == 404
    assert (await client.get(bodies[0]["url"])).status_code == 200
    upload_path = f"/api/v1/media/uploads/{stale_upload}"
    assert (await client.get(upload_path, headers=me.headers)).status_code == 404

    storage = plaza.media.storage
    owner = int(me.id)
    assert await storage.size(f"m/{owner}/{orphan}/original.png") is None
    assert await storage.size(f"m/{owner}/{released}/original.png") is None
    assert await storage.size(f"m/{owner}/{kept}/original.png") is not None


async def test_video_whose_upload_was_lost_fails_instead_of_retrying(
    client: httpx.AsyncClient, users: Users, run_app: AppRunner, video_2s: bytes
) -> None:
    me = await users.create()
    async with run_app(media_workers=0) as (stalled, other):
        created = (await upload(other, me, video_2s, "clip.mp4")).json()
        source = f"m/{me.id}/{created['id']}/source"
        assert await stalled.state.plaza.media.storage.size(source) is not None
        await stalled.state.plaza.media.storage.delete([source])
    async with run_app() as (restarted, again):
        media = restarted.state.plaza.media
        await media.drain()
        body = (await again.get(f"/api/v1/media/{created['id']}", headers=me.headers)).json()
        assert body["status"] == "failed"
        assert await media.requeue_stuck() == 0
        with pytest.raises(InvalidInput):
            async with restarted.state.plaza.db.session() as session:
                await media.attach(
                    session,
                    owner_id=int(me.id),
                    media_ids=[int(created["id"])],
                    subject="post",
                    subject_id=1,
                )
    assert (await client.get(body["url"])).status_code == 404
