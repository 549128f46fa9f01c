"""Request and response bodies of the calls API, and the shape of its stream events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plaza.core.schemas import IdStr, Input, Output, Timestamp

MAX_SDP = 32_768
MAX_CANDIDATES = 50

Media = Literal["audio", "video"]
CallState = Literal[
    "ringing", "accepted", "rejected", "busy", "cancelled", "missed", "ended", "failed"
]


class CallCreate(Input):
    callee: str = Field(min_length=1, max_length=32, description="The callee's username.")
    media: Media
    sdp: str = Field(min_length=1, max_length=MAX_SDP, description="The SDP offer.")
    conversation_id: IdStr | None = Field(
        default=None, description="The direct conversation the call is started from."
    )


class AnswerIn(Input):
    sdp: str = Field(min_length=1, max_length=MAX_SDP, description="The SDP answer.")


class Candidate(Input):
    """An ``RTCIceCandidateInit``, as ``RTCIceCandidate.toJSON()`` gives it. An empty
    ``candidate`` is the end-of-candidates marker. Field names are WebRTC's."""

    candidate: str = Field(max_length=2048)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=1023)
    usernameFragment: str | None = Field(default=None, max_length=256)


class CandidatesIn(Input):
    candidates: list[Candidate] = Field(min_length=1, max_length=MAX_CANDIDATES)


class NegotiateIn(Input):
    """Renegotiation (mute, camera, audio to video, ICE restart): an offer from either
    party, then the other party's answer."""

    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)
    media: Media | None = Field(
        default=None, description="Set to `video` when an audio call turns into a video call."
    )


class HangupIn(Input):
    reason: Literal["hangup", "failed"] = Field(
        default="hangup",
        description="`failed` when the connection could not be established or was lost.",
    )


class PartyOut(Output):
    id: IdStr
    username: str
    display_name: str
    avatar_url: str | None
    verified: bool


class CallOut(Output):
    """A call as one of its two parties sees it (also a call log entry)."""

    id: IdStr
    direction: Literal["outgoing", "incoming"]
    caller: PartyOut
    callee: PartyOut
    media: Media
    state: CallState
    end_reason: str | None
    missed: bool = Field(description="An incoming call this user never answered.")
    conversation_id: IdStr | None
    created_at: Timestamp
    ring_expires_at: Timestamp
    answered_at: Timestamp | None
    ended_at: Timestamp | None
    duration_seconds: int | None = Field(description="From the answer to the end, once ended.")
    replaced_by: IdStr | None = Field(description="The call that won a glare against this one.")
    device: IdStr | None = Field(
        description=(
            "This user's device (session id) in the call: the one that placed it, or the "
            "one that answered it."
        )
    )


class CallDetailOut(CallOut):
    """A call with what a device needs to join it while it is live; the SDPs and
    candidates are forgotten once it ends."""

    offer_sdp: str | None
    answer_sdp: str | None
    remote_candidates: list[Candidate]


class EligibilityOut(Output):
    """Whether placing a call to this person now would pass the consent rules."""

    allowed: bool
    rule: str | None = Field(
        description=(
            "The rule that would refuse the call, as a refused call's 403 names it: "
            "`premium_required`, `calls_enabled`, `call_policy`, `prior_dm_required`."
        )
    )
    detail: str | None = Field(
        description="The refused call's `detail` (`call_policy: following` …); null if allowed."
    )


class IceServerOut(Output):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersOut(Output):
    ice_servers: list[IceServerOut]
    ice_transport_policy: Literal["relay", "all"]
    ttl: int | None = Field(description="Seconds the TURN credentials stay valid.")
    expires_at: Timestamp | None
