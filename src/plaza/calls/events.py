"""Facts the calls domain announces after they commit. Messaging listens to
``CallEnded`` to put "missed call" or "call 3:12" in the two people's conversation."""

from __future__ import annotations

from datetime import datetime

from plaza.core.events import Event


class CallEnded(Event):
    """A call reached its final state.

    ``state``: rejected, busy, cancelled, missed, ended or failed; ``reason`` says more
    (``glare`` for a call cancelled in favour of the other party's simultaneous one).
    ``duration_seconds`` counts from the answer (0 for a call never answered).
    """

    topic = "calls.call_ended"
    call_id: int
    caller_id: int
    callee_id: int
    conversation_id: int | None
    media: str
    state: str
    reason: str
    duration_seconds: int
    # True when the callee missed it (never answered, and it was not lost to glare).
    missed: bool
    # When the call was placed (None only in events announced before it was carried).
    started_at: datetime | None = None
