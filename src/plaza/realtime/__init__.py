"""Realtime: the one live channel of a signed-in device (``WS /api/v1/stream``).

Producers in other domains call ``Realtime.deliver`` inside their write transaction
(persisted, replayable events with a per-user seq) or ``Realtime.send_ephemeral``
(typing indicators). Other domains use only what this module exports.
"""

from plaza.realtime.events import StreamEvents
from plaza.realtime.gateway import STREAM_PATH, StreamShortcut, build_router
from plaza.realtime.hub import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_TOO_MANY,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
)
from plaza.realtime.models import StreamCounter, StreamDeliveryKey, StreamEvent
from plaza.realtime.service import Realtime, RealtimeSettings

__all__ = [
    "CLOSE_BAD_REQUEST",
    "CLOSE_FORBIDDEN",
    "CLOSE_HEARTBEAT_TIMEOUT",
    "CLOSE_TOO_MANY",
    "CLOSE_TOO_SLOW",
    "CLOSE_UNAUTHENTICATED",
    "STREAM_PATH",
    "Realtime",
    "RealtimeSettings",
    "StreamEvents",
    "StreamShortcut",
    "build_router",
]

# The tables are imported for their registration with the metadata (Alembic), not exported.
_ = (StreamCounter, StreamDeliveryKey, StreamEvent)
