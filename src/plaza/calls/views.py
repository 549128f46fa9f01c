"""Calls as each party sees them: API answers and stream event payloads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from plaza.calls.interfaces import Person
from plaza.calls.models import CallRecord
from plaza.calls.schemas import CallDetailOut, CallOut, Candidate, PartyOut

LIVE = frozenset({"ringing", "accepted"})
# Final states in which the callee never talked: the call counts as missed for them,
# unless it lost a glare (the other call of the pair carried on).
UNANSWERED = frozenset({"missed", "busy", "cancelled"})
GLARE = "glare"


def is_missed(row: CallRecord) -> bool:
    return row.state in UNANSWERED and row.end_reason != GLARE


def duration_seconds(row: CallRecord) -> int | None:
    """Seconds from the answer to the end, for an ended call (0 if never answered)."""
    if row.ended_at is None:
        return None
    if row.answered_at is None:
        return 0
    return max(0, int((row.ended_at - row.answered_at).total_seconds()))


def _party(user_id: int, people: Mapping[int, Person]) -> PartyOut:
    person = people.get(user_id)
    if person is None:  # an account being deleted: shown without a name
        return PartyOut(id=user_id, username="", display_name="", avatar_url=None, verified=False)
    return PartyOut(
        id=person.id,
        username=person.username,
        display_name=person.display_name,
        avatar_url=person.avatar_url,
        verified=person.verified,
    )


def call_out(
    row: CallRecord, viewer_id: int, people: Mapping[int, Person], ring: timedelta
) -> CallOut:
    outgoing = row.caller_id == viewer_id
    return CallOut(
        id=row.id,
        direction="outgoing" if outgoing else "incoming",
        caller=_party(row.caller_id, people),
        callee=_party(row.callee_id, people),
        media=row.media,
        state=row.state,
        end_reason=row.end_reason,
        missed=not outgoing and is_missed(row),
        conversation_id=row.conversation_id,
        created_at=row.created_at,
        ring_expires_at=row.created_at + ring,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        duration_seconds=duration_seconds(row),
        replaced_by=row.replaced_by,
        # A user's session ids are theirs alone: each party sees only their own device.
        device=row.caller_device if outgoing else row.answered_device,
    )


def call_detail(
    row: CallRecord,
    viewer_id: int,
    people: Mapping[int, Person],
    ring: timedelta,
    remote_candidates: Sequence[dict[str, Any]] = (),
) -> CallDetailOut:
    base = call_out(row, viewer_id, people, ring)
    return CallDetailOut(
        **base.model_dump(),
        offer_sdp=row.offer_sdp,
        answer_sdp=row.answer_sdp,
        remote_candidates=[Candidate.model_validate(c) for c in remote_candidates],
    )


def ended_data(row: CallRecord) -> dict[str, Any]:
    """``call.ended``: every device of both parties stops ringing or hangs up."""
    return {
        "id": str(row.id),
        "state": row.state,
        "reason": row.end_reason,
        "duration_seconds": duration_seconds(row) or 0,
        "ended_by": None if row.ended_by is None else str(row.ended_by),
        "replaced_by": None if row.replaced_by is None else str(row.replaced_by),
        "ended_at": rfc3339(row.ended_at),
    }


def rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
