"""The call state machine as the two parties see it: answer, reject, cancel, hang-up
with a duration, missed after the ring time, busy, multi-device answers, candidates,
renegotiation and the events each step puts on the parties' streams."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from plaza.calls import CallEnded
from plaza.core.clock import ManualClock
from tests.calls.helpers import ANSWER, CANDIDATE, OFFER, CallsApi
from tests.conftest import Account, Users
from tests.core.conftest import eventually


@pytest.fixture
async def pair(users: Users, api: CallsApi) -> tuple[Account, Account]:
    """A caller and a callee who takes calls from everyone."""
    caller, callee = await users.create(), await users.create()
    await api.set(callee, call_policy="everyone")
    return caller, callee


@pytest.fixture
def ended(plaza: Any) -> list[CallEnded]:
    """Every ``CallEnded`` announced on the bus."""
    seen: list[CallEnded] = []

    async def record(event: CallEnded) -> None:
        seen.append(event)

    plaza.bus.subscribe(CallEnded, record)
    return seen


async def test_an_answered_call_carries_both_sdps_and_tells_each_side(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee, media="video")
    assert call["state"] == "ringing"
    assert call["direction"] == "outgoing"
    assert call["media"] == "video"
    assert call["callee"]["username"] == callee.username
    assert call["device"] == await api.device_id(caller)

    [(kind, incoming)] = await api.events(callee)
    assert kind == "call.incoming"
    assert incoming["id"] == call["id"]
    assert incoming["offer_sdp"] == OFFER
    assert incoming["caller"]["username"] == caller.username
    assert incoming["direction"] == "incoming"
    assert incoming["device"] is None  # the caller's session id is not the callee's business
    assert await api.kinds(caller) == ["call.ringing"]

    answered = await api.answer(callee, call["id"])
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "accepted"
    assert answered.json()["device"] == await api.device_id(callee)

    caller_events = await api.events(caller)
    assert [k for k, _ in caller_events] == ["call.ringing", "call.answered"]
    answer_event = caller_events[-1][1]
    assert answer_event["sdp"] == ANSWER
    assert answer_event["to_device"] == call["device"]
    callee_events = await api.events(callee)
    assert [k for k, _ in callee_events] == ["call.incoming", "call.answered_elsewhere"]
    assert callee_events[-1][1]["answered_device"] == answered.json()["device"]

    detail = await api.call(caller, call["id"])
    assert (detail["offer_sdp"], detail["answer_sdp"]) == (OFFER, ANSWER)
    assert detail["answered_at"] is not None


async def test_hanging_up_ends_the_call_with_its_duration_for_both(
    pair: tuple[Account, Account], api: CallsApi, clock: ManualClock, ended: list[CallEnded]
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    clock.advance(timedelta(seconds=7))  # ringing time is not talking time
    assert (await api.answer(callee, call["id"])).status_code == 200
    clock.advance(timedelta(minutes=3, seconds=12))
    response = await api.step(callee, call["id"], "hangup")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "ended"
    assert response.json()["duration_seconds"] == 192

    for who in (caller, callee):
        kind, data = (await api.events(who))[-1]
        assert kind == "call.ended"
        assert data["reason"] == "hangup"
        assert data["duration_seconds"] == 192
        assert data["ended_by"] == callee.id
        entry = (await api.log(who))["data"][0]
        assert (entry["state"], entry["duration_seconds"], entry["missed"]) == ("ended", 192, False)

    # The SDPs carried addresses: they are gone once the call is over.
    detail = await api.call(caller, call["id"])
    assert (detail["offer_sdp"], detail["answer_sdp"]) == (None, None)
    # A second hang-up (the other side racing) changes nothing.
    again = await api.step(caller, call["id"], "hangup")
    assert again.status_code == 200
    assert again.json()["duration_seconds"] == 192
    await eventually(lambda: ended)
    [event] = ended
    assert (event.state, event.duration_seconds, event.missed) == ("ended", 192, False)
    assert (event.caller_id, event.callee_id) == (int(caller.id), int(callee.id))


async def test_a_client_reports_a_failed_connection(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    await api.answer(callee, call["id"])
    response = await api.step(caller, call["id"], "hangup", {"reason": "failed"})
    assert response.json()["state"] == "failed"
    assert (await api.events(callee))[-1][1]["reason"] == "failed"


async def test_every_device_of_the_callee_rings_and_the_first_answer_wins(
    users: Users, pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, phone = pair
    laptop = await users.sign_in(phone.username)
    call = await api.placed(caller, phone)
    # Every device of a user reads the user's stream: the call is in it, and the call
    # can be read from either device.
    assert (await api.call(laptop, call["id"]))["offer_sdp"] == OFFER

    first, second = await asyncio.gather(
        api.answer(phone, call["id"]), api.answer(laptop, call["id"])
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    winner = first if first.status_code == 200 else second
    loser = second if winner is first else first
    assert "another device" in loser.json()["detail"]
    assert [k for k in await api.kinds(caller)] == ["call.ringing", "call.answered"]
    elsewhere = [d for k, d in await api.events(phone) if k == "call.answered_elsewhere"]
    assert [d["answered_device"] for d in elsewhere] == [winner.json()["device"]]


async def test_a_reject_on_one_device_ends_the_call_everywhere(
    users: Users, pair: tuple[Account, Account], api: CallsApi, ended: list[CallEnded]
) -> None:
    caller, phone = pair
    laptop = await users.sign_in(phone.username)
    call = await api.placed(caller, phone)
    response = await api.step(laptop, call["id"], "reject")
    assert response.json()["state"] == "rejected"
    for who in (caller, phone):
        kind, data = (await api.events(who))[-1]
        assert (kind, data["reason"], data["duration_seconds"]) == ("call.ended", "rejected", 0)
    late = await api.answer(phone, call["id"])
    assert late.status_code == 409
    await eventually(lambda: ended)
    assert [(e.state, e.missed) for e in ended] == [("rejected", False)]


async def test_each_step_belongs_to_one_party(pair: tuple[Account, Account], api: CallsApi) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    assert (await api.answer(caller, call["id"])).status_code == 403
    assert (await api.step(caller, call["id"], "reject")).status_code == 403
    assert (await api.step(callee, call["id"], "cancel")).status_code == 403
    assert (
        await api.step(callee, call["id"], "negotiate", {"type": "offer", "sdp": OFFER})
    ).status_code == 409


async def test_a_cancelled_call_is_a_missed_call_for_the_callee(
    pair: tuple[Account, Account], api: CallsApi, ended: list[CallEnded]
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    response = await api.step(caller, call["id"], "cancel")
    assert response.json()["state"] == "cancelled"
    assert (await api.events(callee))[-1][1]["reason"] == "cancelled"
    assert (await api.answer(callee, call["id"])).status_code == 409
    assert (await api.step(caller, call["id"], "cancel")).status_code == 409
    [entry] = (await api.log(callee))["data"]
    assert entry["missed"] is True
    [mine] = (await api.log(caller))["data"]
    assert mine["missed"] is False  # a caller never "misses" their own call
    [notification] = await api.notifications(callee)
    assert notification["kind"] == "missed_call"
    assert notification["actor"]["username"] == caller.username


async def test_an_unanswered_call_is_missed_after_45_seconds(
    pair: tuple[Account, Account], api: CallsApi, clock: ManualClock, plaza: Any
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    clock.advance(timedelta(seconds=44))
    assert await plaza.calls.sweep_missed() == 0
    assert (await api.call(callee, call["id"]))["state"] == "ringing"
    clock.advance(timedelta(seconds=2))
    assert await plaza.calls.sweep_missed() == 1
    assert await plaza.calls.sweep_missed() == 0  # once
    detail = await api.call(callee, call["id"])
    assert (detail["state"], detail["end_reason"], detail["missed"]) == (
        "missed",
        "no_answer",
        True,
    )
    assert detail["ended_at"] == detail["ring_expires_at"]
    for who in (caller, callee):
        kind, data = (await api.events(who))[-1]
        assert (kind, data["state"]) == ("call.ended", "missed")
    assert (await api.answer(callee, call["id"])).status_code == 409
    assert [n["kind"] for n in await api.notifications(callee)] == ["missed_call"]


async def test_a_call_read_after_its_ring_time_is_missed_even_before_the_sweep(
    pair: tuple[Account, Account], api: CallsApi, clock: ManualClock
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    clock.advance(timedelta(seconds=60))
    assert (await api.call(caller, call["id"]))["state"] == "missed"
    late = await api.answer(callee, call["id"])
    assert late.status_code == 409
    # And the callee, busy no more, can be called again.
    assert (await api.placed(caller, callee))["state"] == "ringing"


async def test_answering_after_the_ring_time_finds_the_call_missed(
    pair: tuple[Account, Account], api: CallsApi, clock: ManualClock
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    clock.advance(timedelta(seconds=46))
    response = await api.answer(callee, call["id"])
    assert response.status_code == 409
    assert "missed" in response.json()["detail"]
    assert (await api.events(callee))[-1][1]["state"] == "missed"


async def test_a_callee_in_a_call_is_busy(
    users: Users, pair: tuple[Account, Account], api: CallsApi
) -> None:
    first_caller, callee = pair
    second_caller = await users.create()
    ringing = await api.placed(first_caller, callee)

    busy = await api.placed(second_caller, callee)
    assert (busy["state"], busy["end_reason"]) == ("busy", "busy")
    assert [k for k, d in await api.events(second_caller)] == ["call.ended"]
    # The callee's devices never ring for it, but the log and a notification say so.
    assert busy["id"] not in {d["id"] for _, d in await api.events(callee)}
    log = (await api.log(callee))["data"]
    assert [(e["id"], e["missed"]) for e in log] == [(busy["id"], True), (ringing["id"], False)]

    await api.answer(callee, ringing["id"])
    assert (await api.placed(second_caller, callee))["state"] == "busy"
    await api.step(first_caller, ringing["id"], "hangup")
    assert (await api.placed(second_caller, callee))["state"] == "ringing"


async def test_a_caller_already_in_a_call_must_hang_up_first(
    users: Users, pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, callee = pair
    other = await users.create()
    await api.set(other, call_policy="everyone")
    await api.placed(caller, callee)
    response = await api.place(caller, other)
    assert response.status_code == 409
    assert "already in a call" in response.json()["detail"]


async def test_candidates_reach_the_other_side_and_are_forgotten_after_the_call(
    users: Users, pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, phone = pair
    laptop = await users.sign_in(phone.username)
    call = await api.placed(caller, phone)
    # The caller trickles while it rings: every device of the callee may answer.
    sent = await api.step(caller, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert sent.status_code == 202, sent.text
    kind, data = (await api.events(phone))[-1]
    assert (kind, data["candidates"], data["to_device"]) == ("call.candidates", [CANDIDATE], None)
    # The callee sends only once answered, and only from the answering device.
    early = await api.step(phone, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert early.status_code == 409
    await api.answer(phone, call["id"])
    phone_device = await api.device_id(phone)
    wrong = await api.step(laptop, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert wrong.status_code == 409
    end_marker = {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}
    ok = await api.step(phone, call["id"], "candidates", {"candidates": [CANDIDATE, end_marker]})
    assert ok.json() == {"relayed": 2}
    kind, data = (await api.events(caller))[-1]
    assert kind == "call.candidates"
    assert data["to_device"] == call["device"]
    assert data["from"] == phone.id
    # After the answer, the caller's candidates are addressed to the answering device.
    await api.step(caller, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert (await api.events(phone))[-1][1]["to_device"] == phone_device
    # A device that missed the events reads them from the call.
    detail = await api.call(laptop, call["id"])
    assert detail["remote_candidates"] == [CANDIDATE, CANDIDATE]
    assert len((await api.call(caller, call["id"]))["remote_candidates"]) == 2

    await api.step(caller, call["id"], "hangup")
    assert (await api.call(phone, call["id"]))["remote_candidates"] == []
    late = await api.step(caller, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert late.status_code == 409


async def test_bad_candidates_are_refused_naming_the_field(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee)
    for body in (
        {"candidates": []},
        {"candidates": [{**CANDIDATE, "extra": 1}]},
        {"candidates": [CANDIDATE] * 51},
    ):
        response = await api.step(caller, call["id"], "candidates", body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"].startswith("candidates")
    for _ in range(4):
        await api.step(caller, call["id"], "candidates", {"candidates": [CANDIDATE] * 50})
    too_many = await api.step(caller, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "candidates"


async def test_renegotiation_goes_to_the_other_party(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, callee = pair
    call = await api.placed(caller, callee, media="audio")
    await api.answer(callee, call["id"])
    # The callee turns the camera on: an offer that makes it a video call...
    offer = {"type": "offer", "sdp": OFFER + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "media": "video"}
    response = await api.step(callee, call["id"], "negotiate", offer)
    assert response.status_code == 202, response.text
    kind, data = (await api.events(caller))[-1]
    assert (kind, data["type"], data["sdp"], data["media"]) == (
        "call.negotiate",
        "offer",
        offer["sdp"],
        "video",
    )
    assert data["to_device"] == call["device"]
    # ... and the caller answers it.
    await api.step(caller, call["id"], "negotiate", {"type": "answer", "sdp": ANSWER})
    kind, data = (await api.events(callee))[-1]
    assert (kind, data["type"]) == ("call.negotiate", "answer")
    assert data["to_device"] == await api.device_id(callee)
    assert (await api.call(caller, call["id"]))["media"] == "video"
    bad = await api.step(caller, call["id"], "negotiate", {"type": "pranswer", "sdp": ANSWER})
    assert bad.status_code == 422


async def test_placing_a_call_checks_its_input(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    caller, callee = pair
    assert (await api.place(caller, caller)).status_code == 422
    assert (await api.place(caller, callee, media="hologram")).status_code == 422
    assert (await api.place(caller, callee, sdp="")).status_code == 422
    assert (await api.place(caller, callee, sdp="x" * 40_000)).status_code == 422
    assert (await api.place(caller, callee, balance=10)).status_code == 422
    assert (await api.place(caller, "nobody-here")).status_code == 404
    conversation = await api.place(caller, callee, conversation_id="123456789")
    assert conversation.status_code == 422
    assert conversation.json()["errors"][0]["field"] == "conversation_id"


async def test_a_call_from_a_dm_names_its_conversation(
    pair: tuple[Account, Account], api: CallsApi, ended: list[CallEnded]
) -> None:
    caller, callee = pair
    conversation_id = await api.dm(callee, caller)
    await api.dm(caller, callee, "call you?")
    call = await api.placed(caller, callee, conversation_id=conversation_id)
    assert call["conversation_id"] == conversation_id
    await api.step(caller, call["id"], "cancel")
    await eventually(lambda: ended)
    [event] = ended
    assert (event.conversation_id, event.state, event.missed) == (
        int(conversation_id),
        "cancelled",
        True,
    )


async def test_the_call_log_pages_both_directions_and_filters_missed_calls(
    users: Users, pair: tuple[Account, Account], api: CallsApi, clock: ManualClock
) -> None:
    me, friend = pair
    await api.set(me, call_policy="everyone")
    outgoing = await api.placed(me, friend)
    await api.answer(friend, outgoing["id"])
    await api.step(me, outgoing["id"], "hangup")
    missed = await api.placed(friend, me)
    clock.advance(timedelta(seconds=50))
    rejected = await api.placed(friend, me)
    await api.step(me, rejected["id"], "reject")

    seen: list[tuple[str, str, bool]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await api.log(me, **params)
        seen += [(e["id"], e["direction"], e["missed"]) for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [
        (rejected["id"], "incoming", False),
        (missed["id"], "incoming", True),
        (outgoing["id"], "outgoing", False),
    ]
    only_missed = await api.log(me, missed="true")
    assert [e["id"] for e in only_missed["data"]] == [missed["id"]]
    assert [e["state"] for e in (await api.log(friend))["data"]] == ["rejected", "missed", "ended"]
