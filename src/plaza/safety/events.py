"""Facts the safety domain announces, after they commit."""

from __future__ import annotations

from plaza.core.events import Event
from plaza.safety.labels import Label


class ContentLabelled(Event):
    """A subject's effective labels changed (new content with labels, a report
    threshold reached, a moderator's decision). ``labels`` is the full new set."""

    topic = "safety.content_labelled"
    subject: str
    subject_id: int
    labels: tuple[Label, ...]
