"""The calls HTTP API: the client-to-server steps of signalling, the call log and the
ICE servers. The server-to-client steps are events on the parties' streams.

A call is private to its two parties: anyone else gets 404 on every endpoint. The
device a step comes from is the session that signed the request.

No ``from __future__ import annotations`` here: FastAPI must see the real types of
the ``Annotated`` aliases defined inside ``build_router``.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from plaza.calls import schemas as s
from plaza.calls.service import Calls
from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit, decode_cursor, encode_cursor
from plaza.core.schemas import IdPath, Output, Page
from plaza.identity import Authenticator, Principal

CALL_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not this party's step (the caller cannot answer, …)"},
    404: {"description": "No such call, or not one of yours"},
    409: {"description": "The call is not in a state that allows this step"},
}
PLACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {
        "description": (
            "A consent rule refused the call; `detail` and `rule` name it: "
            "`premium_required`, `calls_enabled`, `call_policy: <policy>`, `prior_dm_required`"
        )
    },
    404: {"description": "No such user, or one of you blocked the other"},
    409: {"description": "The caller is already in a call"},
    429: {"description": "Too many call attempts"},
}


class RelayedOut(Output):
    relayed: int


def build_router(calls: Calls, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
    Me = Annotated[Principal, Depends(auth.required)]

    @router.get("/ice-servers", response_model=s.IceServersOut)
    async def ice_servers(me: Me) -> s.IceServersOut:
        """STUN and TURN servers for `RTCPeerConnection`, with TURN credentials valid for
        `ttl` seconds. `ice_transport_policy` is `relay` when TURN is configured and
        the user keeps `calls_relay_only` on (the default): neither party then learns
        the other's IP address."""
        config = await calls.ice_servers(me.user.id)
        return s.IceServersOut(
            ice_servers=[
                s.IceServerOut(
                    urls=server.urls, username=server.username, credential=server.credential
                )
                for server in config.servers
            ],
            ice_transport_policy=config.transport_policy,
            ttl=config.ttl_seconds,
            expires_at=config.expires_at,
        )

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=s.CallDetailOut,
        responses=PLACE_RESPONSES,
    )
    async def place(body: s.CallCreate, me: Me) -> s.CallDetailOut:
        """Call someone with an SDP offer. Every device of the callee gets
        `call.incoming`; the caller's stream gets `call.ringing`. The answer may already
        be final: `busy` (the callee is in another call) or `cancelled` with
        `end_reason: "glare"` and `replaced_by` (the callee called you at the same
        time, and their call is the one that rings)."""
        return await calls.place(me.user.id, me.session.id, body)

    @router.get("", response_model=Page[s.CallOut])
    async def call_log(
        me: Me,
        missed: Annotated[bool, Query(description="Only incoming calls you missed.")] = False,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Page[s.CallOut]:
        """Your calls, both directions, newest first; `missed` marks the incoming ones
        you never answered."""
        page = await calls.log(
            me.user.id, before=decode_cursor(cursor), limit=limit, missed_only=missed
        )
        return Page(
            data=page.items,
            next_cursor=encode_cursor(page.next_before) if page.next_before else None,
        )

    @router.get(
        "/eligibility",
        response_model=s.EligibilityOut,
        responses={
            404: PLACE_RESPONSES[404],
            422: {"description": "`callee` is missing, or is you"},
            429: {"description": "Too many checks"},
        },
    )
    async def eligibility(
        me: Me,
        callee: Annotated[
            str, Query(min_length=1, max_length=32, description="The callee's username.")
        ],
    ) -> s.EligibilityOut:
        """Would placing a call to `callee` pass the consent rules now? The same checks
        as `POST /calls`, in the same order, without ringing anyone: `allowed`, or the
        `rule` and `detail` that a refused call's 403 would carry. An unknown or blocked
        user is a 404, as for a call. Checks do not use up call attempts; they have
        their own hourly allowance (`PLAZA_CALLS_CHECKS_PER_HOUR`)."""
        found = await calls.eligibility(me.user.id, callee)
        return s.EligibilityOut(allowed=found.allowed, rule=found.rule, detail=found.detail)

    @router.get("/{call_id}", response_model=s.CallDetailOut, responses=CALL_RESPONSES)
    async def get_call(call_id: IdPath, me: Me) -> s.CallDetailOut:
        """The call; while it is live, also the SDPs and the other side's candidates (a
        device that missed `call.incoming` can still answer)."""
        return await calls.get(me.user.id, call_id)

    @router.post("/{call_id}/answer", response_model=s.CallOut, responses=CALL_RESPONSES)
    async def answer(call_id: IdPath, body: s.AnswerIn, me: Me) -> s.CallOut:
        """Answer with an SDP answer; the first device to answer wins (409 for the
        others). The caller gets `call.answered`; your other devices get
        `call.answered_elsewhere` and stop ringing."""
        return await calls.answer(me.user.id, me.session.id, call_id, body)

    @router.post(
        "/{call_id}/candidates",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RelayedOut,
        responses=CALL_RESPONSES,
    )
    async def candidates(call_id: IdPath, body: s.CandidatesIn, me: Me) -> RelayedOut:
        """Trickle a batch of ICE candidates to the other party (`call.candidates`)."""
        return RelayedOut(
            relayed=await calls.add_candidates(me.user.id, me.session.id, call_id, body)
        )

    @router.post("/{call_id}/reject", response_model=s.CallOut, responses=CALL_RESPONSES)
    async def reject(call_id: IdPath, me: Me) -> s.CallOut:
        """Decline a ringing call (the callee, on any device): `call.ended` to every
        device of both parties."""
        return await calls.reject(me.user.id, call_id)

    @router.post("/{call_id}/cancel", response_model=s.CallOut, responses=CALL_RESPONSES)
    async def cancel(call_id: IdPath, me: Me) -> s.CallOut:
        """Give up before an answer (the caller): `call.ended` to both parties."""
        return await calls.cancel(me.user.id, call_id)

    @router.post("/{call_id}/hangup", response_model=s.CallOut, responses=CALL_RESPONSES)
    async def hangup(call_id: IdPath, me: Me, body: s.HangupIn | None = None) -> s.CallOut:
        """End the call from either side: `call.ended` with the reason and duration to
        every device of both parties. An ended call is returned unchanged."""
        failed = body is not None and body.reason == "failed"
        return await calls.hangup(me.user.id, call_id, failed=failed)

    @router.post(
        "/{call_id}/negotiate",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=RelayedOut,
        responses=CALL_RESPONSES,
    )
    async def negotiate(call_id: IdPath, body: s.NegotiateIn, me: Me) -> RelayedOut:
        """Renegotiate an accepted call (mute, camera on or off, audio to video, ICE
        restart): an `offer` or `answer` for the other party (`call.negotiate`)."""
        await calls.negotiate(me.user.id, me.session.id, call_id, body)
        return RelayedOut(relayed=1)

    return router
