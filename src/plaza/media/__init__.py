"""Media: images and videos checked by content, stored locally or in S3, served with
byte ranges at unguessable URLs, attached to posts and messages, swept when unused.

Other domains use only what this module exports.
"""

from plaza.media.api import build_router
from plaza.media.info import MediaInfo
from plaza.media.service import MediaLimits, MediaService
from plaza.media.setup import build_media, build_storage
from plaza.media.storage import LocalStorage, MediaStorage, S3Storage

__all__ = [
    "LocalStorage",
    "MediaInfo",
    "MediaLimits",
    "MediaService",
    "MediaStorage",
    "S3Storage",
    "build_media",
    "build_router",
    "build_storage",
]
