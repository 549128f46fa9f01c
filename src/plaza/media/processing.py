"""Content checks and conversions: Pillow for images, ffprobe/ffmpeg for videos.

What a file is comes from its bytes, never its name. Images are decoded and
re-encoded (which drops EXIF, GPS, XMP and anything hidden after the image data);
videos are probed, remuxed without their metadata, and get a JPEG thumbnail.
Image work is synchronous (run it in a thread); ffmpeg runs as an asyncio subprocess
with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from plaza.core.errors import DomainError, InvalidInput, PayloadTooLarge

FFPROBE = "/usr/bin/ffprobe"
FFMPEG = "/usr/bin/ffmpeg"
THUMB_WIDTH = 640

Kind = Literal["image", "video"]

# Pillow format -> (content type, extension, save options)
_IMAGE_FORMATS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "JPEG": ("image/jpeg", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("image/png", "png", {}),
    "WEBP": ("image/webp", "webp", {"quality": 85}),
    "GIF": ("image/gif", "gif", {}),
}
SUPPORTED = "JPEG, PNG, WebP or GIF images; MP4, MOV, WebM or Matroska videos"


class UnsupportedMedia(DomainError):
    """The bytes are no kind of media Plaza accepts (whatever the file is called)."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


def too_large(field: str, message: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"{field}: {message}", errors=[{"field": field, "message": message}])


def sniff(head: bytes) -> Kind | None:
    """Image, video or neither, from the first bytes of a file (magic numbers)."""
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    return None


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int
    max_dimension: int
    max_frames: int


@dataclass(frozen=True)
class ProcessedImage:
    content_type: str
    ext: str
    width: int
    height: int


def process_image(source: Path, target: Path, limits: ImageLimits) -> ProcessedImage:
    """Decode ``source``, apply its EXIF orientation, cap its size and write a clean copy
    in the same format to ``target``. Raises 415/422 problems naming ``file``."""
    try:
        with Image.open(source) as image:
            fmt = image.format or ""
            if fmt not in _IMAGE_FORMATS:
                raise UnsupportedMedia(
                    "file", f"{fmt or 'this'} images are not accepted; send {SUPPORTED}"
                )
            # Checked on the header, before any pixel is decoded: a small file can
            # declare a gigantic canvas (a decompression bomb).
            if image.width * image.height > limits.max_pixels:
                raise InvalidInput("file", f"the image has more than {limits.max_pixels} pixels")
            content_type, ext, options = _IMAGE_FORMATS[fmt]
            frames = getattr(image, "n_frames", 1)
            if fmt == "GIF" and frames > 1:
                width, height = _write_animation(image, target, limits)
            else:
                width, height = _write_still(image, fmt, target, options, limits)
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput("file", "the image declares too many pixels") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedMedia("file", f"not a readable image; send {SUPPORTED}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Truncated or corrupt data: Pillow reports it as one of these while decoding.
        raise InvalidInput("file", "the image is corrupt or truncated") from exc
    return ProcessedImage(content_type, ext, width, height)


def _write_still(
    image: Image.Image, fmt: str, target: Path, options: dict[str, Any], limits: ImageLimits
) -> tuple[int, int]:
    image.load()
    still = ImageOps.exif_transpose(image)
    still.thumbnail((limits.max_dimension, limits.max_dimension))
    keeps = {"JPEG": ("RGB", "L"), "WEBP": ("RGB", "RGBA"), "GIF": ("P", "L", "RGB", "RGBA")}
    if still.mode not in keeps.get(fmt, ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16")):
        still = still.convert("RGB" if fmt == "JPEG" else "RGBA")
    # No exif=, icc_profile= or pnginfo= passed: the new file carries pixels only.
    still.save(target, format=fmt, **options)
    return still.width, still.height


def _write_animation(image: Image.Image, target: Path, limits: ImageLimits) -> tuple[int, int]:
    # Animated GIFs keep their animation (they are used as short clips) but are rebuilt
    # frame by frame, which drops comments and application extensions.
    n_frames = getattr(image, "n_frames", 1)
    if n_frames > limits.max_frames:
        raise InvalidInput("file", f"the animation has more than {limits.max_frames} frames")
    if image.width * image.height * n_frames > limits.max_pixels * 4:
        raise InvalidInput("file", "the animation is too large to process")
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        copy = frame.convert("RGBA")
        copy.thumbnail((limits.max_dimension, limits.max_dimension))
        frames.append(copy)
        durations.append(int(frame.info.get("duration", 100)))
    first, rest = frames[0], frames[1:]
    first.save(
        target,
        format="GIF",
        save_all=True,
        append_images=rest,
        duration=durations,
        loop=int(image.info.get("loop", 0)),
        disposal=2,
    )
    return first.width, first.height


@dataclass(frozen=True)
class VideoProbe:
    content_type: str
    ext: str
    muxer: str
    width: int
    height: int
    duration_ms: int


class ToolFailed(Exception):
    """ffmpeg/ffprobe exited non-zero or ran out of time."""


async def run_tool(argv: list[str], time_limit: float) -> bytes:
    """Run ffmpeg/ffprobe; its stdout, or ``ToolFailed`` (killed on timeout)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), time_limit)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise ToolFailed(err.decode(errors="replace")[-300:].strip() or "failed")
    return out


async def probe_video(path: Path, time_limit: float) -> VideoProbe:
    """What ffprobe says the file is. 415 unless it is a container we serve with a video
    stream; 422 when ffprobe cannot read it."""
    argv = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    try:
        raw = await run_tool([*argv, str(path)], time_limit)
        info = json.loads(raw)
    except TimeoutError as exc:
        raise InvalidInput("file", "the video could not be read in time") from exc
    except (ToolFailed, ValueError) as exc:
        raise InvalidInput("file", "the video is corrupt or unreadable") from exc
    fmt = info.get("format") or {}
    names = set(str(fmt.get("format_name", "")).split(","))
    video = next(
        (
            s
            for s in info.get("streams", [])
            if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise UnsupportedMedia("file", "the file holds no video stream")
    codec = str(video.get("codec_name", ""))
    brand = str((fmt.get("tags") or {}).get("major_brand", "")).strip()
    if "mp4" in names or "mov" in names:
        content_type, ext, muxer = (
            ("video/quicktime", "mov", "mov") if brand == "qt" else ("video/mp4", "mp4", "mp4")
        )
    elif "webm" in names and codec in ("vp8", "vp9", "av1"):
        content_type, ext, muxer = "video/webm", "webm", "webm"
    elif "matroska" in names:
        content_type, ext, muxer = "video/x-matroska", "mkv", "matroska"
    else:
        raise UnsupportedMedia("file", f"this container is not accepted; send {SUPPORTED}")
    try:
        duration = float(fmt.get("duration") or video.get("duration") or "nan")
        width, height = int(video["width"]), int(video["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("file", "the video has no readable size") from exc
    if not math.isfinite(duration) or duration <= 0:
        raise InvalidInput("file", "the video has no readable duration")
    if _rotation(video) in (90, 270):
        width, height = height, width
    return VideoProbe(content_type, ext, muxer, width, height, round(duration * 1000))


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            with contextlib.suppress(TypeError, ValueError):
                return int(float(side["rotation"])) % 360
    with contextlib.suppress(TypeError, ValueError):
        return int((stream.get("tags") or {}).get("rotate", 0)) % 360
    return 0


async def remux_video(source: Path, target: Path, muxer: str, time_limit: float) -> None:
    """Copy the first video and audio streams into a fresh container without metadata
    (phones record GPS there) or data tracks; no re-encoding. MP4/MOV get their index
    up front (faststart) so that playback can start before the whole file arrives."""
    argv = [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(source)]
    argv += ["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy"]
    argv += ["-map_metadata", "-1", "-map_chapters", "-1"]
    if muxer in ("mp4", "mov"):
        argv += ["-movflags", "+faststart"]
    await run_tool([*argv, "-f", muxer, str(target)], time_limit)


async def video_thumbnail(source: Path, target: Path, duration_ms: int, time_limit: float) -> None:
    """A JPEG of the frame at one second (or mid-way through a shorter video)."""
    at = min(1.0, duration_ms / 2000)
    argv = [FFMPEG, "-nostdin", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(source)]
    argv += ["-frames:v", "1", "-vf", f"scale='min({THUMB_WIDTH},iw)':-2", "-q:v", "4"]
    await run_tool([*argv, "-f", "image2", str(target)], time_limit)
    if not os.path.exists(target) or os.path.getsize(target) == 0:  # noqa: ASYNC240 - tiny
        raise ToolFailed("no frame could be extracted for the thumbnail")
