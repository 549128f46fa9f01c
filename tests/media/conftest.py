"""Media fixtures: every media test runs on the local folder and on S3 (a moto server
started once per session), plus sample files made on the spot with Pillow and ffmpeg."""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from plaza.app import create_app
from plaza.config import Settings
from plaza.core.clock import ManualClock

S3_KEY = "testing"
S3_REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def media_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings, media_backend: str, request: pytest.FixtureRequest) -> Settings:
    """The shared settings with small media limits (so that tests stay fast), on the
    storage backend this parametrization picked."""
    update: dict[str, Any] = {
        "media_max_image_bytes": 300_000,
        "media_max_video_bytes": 3_000_000,
        "media_max_video_seconds": 3.0,
        "media_max_image_pixels": 4_000_000,
        "media_chunk_bytes": 65_536,
        "media_unattached_ttl_seconds": 86_400,
        "media_workers": 1,
    }
    if media_backend == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"plaza-test-{uuid.uuid4().hex[:16]}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_KEY,
        ).create_bucket(Bucket=bucket)
        update |= {
            "s3_endpoint_url": endpoint,
            "s3_bucket": bucket,
            "s3_region": S3_REGION,
            "s3_access_key_id": S3_KEY,
            "s3_secret_access_key": S3_KEY,
        }
    return settings.model_copy(update=update)


AppRunner = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def run_app(settings: Settings, clock: ManualClock) -> AppRunner:
    """Another app process on the same database and storage, with some settings changed
    (a restart, or other limits)."""

    @asynccontextmanager
    async def run(**changes: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        application = create_app(settings.model_copy(update=changes), clock=clock)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50001))
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
                yield application, c

    return run


def _ffmpeg(target: Path, seconds: int) -> bytes:
    subprocess.run(
        [
            "/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=320x240:rate=25",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest",
            # Where phones put the place a video was shot; it must not survive.
            "-metadata", "location=+52.3676+004.9041/",
            str(target),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return target.read_bytes()


@pytest.fixture(scope="session")
def video_2s(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _ffmpeg(tmp_path_factory.mktemp("video") / "clip.mp4", 2)


@pytest.fixture(scope="session")
def video_5s(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _ffmpeg(tmp_path_factory.mktemp("video") / "long.mp4", 5)


def jpeg_with_gps(size: tuple[int, int] = (64, 32), orientation: int = 6) -> bytes:
    """A JPEG carrying a camera make, GPS coordinates and an orientation tag."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SnoopCam"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 22.0, 3.36), 3: "E", 4: (4.0, 54.0, 14.76)})
    out = BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (40, 30), mode: str = "RGBA") -> bytes:
    out = BytesIO()
    Image.new(mode, size, 128 if mode in ("1", "L") else (10, 200, 10, 255)).save(out, "PNG")
    return out.getvalue()
