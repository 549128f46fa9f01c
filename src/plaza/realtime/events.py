"""What the gateway puts on the event bus to reach live connections in every process."""

from __future__ import annotations

from typing import ClassVar

from plaza.core.events import Event


class StreamEvents(Event):
    """One stream event for several users, after its transaction committed.

    ``deliveries`` pairs each recipient with the seq the event got in their stream, or
    ``None`` for an ephemeral event (typing indicators), which is never stored.
    ``data`` is the event's JSON text, serialised once by the producer.
    """

    topic: ClassVar[str] = "realtime.stream_events"
    type: str
    data: str
    deliveries: list[tuple[int, int | None]]
