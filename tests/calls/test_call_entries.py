"""Each call leaves a line in the two people's direct conversation (``kind: "call"``,
sent by the caller): a call that ended, with its duration, or a missed one. The line is
posted once per call, from ``CallEnded`` after the call's transaction commits, reaches
both members' streams as ``message.created`` and is not posted again when the event
is replayed. Without a conversation nothing is created."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from plaza.calls import CallEnded
from plaza.core.clock import ManualClock
from tests.calls.helpers import CallsApi
from tests.conftest import Account, Users
from tests.core.conftest import eventually

JSON = Any


@pytest.fixture
def handled(plaza: Any) -> list[CallEnded]:
    """``CallEnded`` events once every handler subscribed before (the app's wiring that
    posts the line among them) has run for them: the bus runs handlers in order."""
    seen: list[CallEnded] = []

    async def record(event: CallEnded) -> None:
        seen.append(event)

    plaza.bus.subscribe(CallEnded, record)
    return seen


@pytest.fixture
async def pair(users: Users, api: CallsApi) -> tuple[Account, Account, str]:
    """A caller and a callee who take calls from everyone, with their conversation."""
    caller, callee = await users.create(), await users.create()
    await api.set(callee, call_policy="everyone")
    await api.set(caller, call_policy="everyone")
    # The caller follows the callee, so the callee's message lands in their inbox (no
    # request to accept) and the call can name the conversation.
    await api.follow(caller, callee)
    conversation_id = await api.dm(callee, caller, "call me")
    return caller, callee, conversation_id


async def _calls_in(api: CallsApi, who: Account, conversation_id: str) -> list[JSON]:
    response = await api.client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=who.headers
    )
    assert response.status_code == 200, response.text
    return [m for m in response.json()["data"] if m["kind"] == "call"]


async def _created(api: CallsApi, who: Account) -> list[JSON]:
    """The call lines that reached the user's stream as ``message.created``."""
    return [
        data
        for kind, data in await api.events(who, prefix="message.")
        if kind == "message.created" and data["kind"] == "call"
    ]


async def _settled(handled: list[CallEnded], count: int) -> None:
    await eventually(lambda: len(handled) >= count)


async def test_an_ended_call_leaves_one_line_with_its_duration(
    pair: tuple[Account, Account, str],
    api: CallsApi,
    clock: ManualClock,
    handled: list[CallEnded],
) -> None:
    caller, callee, conversation_id = pair
    call = await api.placed(caller, callee, media="video", conversation_id=conversation_id)
    clock.advance(timedelta(seconds=5))
    assert (await api.answer(callee, call["id"])).status_code == 200
    clock.advance(timedelta(minutes=3, seconds=12))
    assert (await api.step(callee, call["id"], "hangup")).status_code == 200
    await _settled(handled, 1)

    expected = {
        "id": call["id"],
        "media": "video",
        "state": "ended",
        "missed": False,
        "duration_seconds": 192,
        "started_at": call["created_at"],
    }
    for who in (caller, callee):
        [line] = await _calls_in(api, who, conversation_id)
        assert line["call"] == expected
        assert line["sender"]["id"] == caller.id
        assert line["client_id"] == f"call:{call['id']}"
        assert (line["text"], line["payment"], line["system"]) == ("", None, None)
        [event] = await _created(api, who)
        assert event == line
    # Other kinds carry no call.
    [text] = [
        m
        for m in (
            await api.client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=caller.headers
            )
        ).json()["data"]
        if m["kind"] == "text"
    ]
    assert text["call"] is None
    # The conversation shows the call as its last message.
    shown = await api.client.get(f"/api/v1/conversations/{conversation_id}", headers=callee.headers)
    assert shown.json()["last_message"]["call"] == expected


async def test_a_missed_call_leaves_one_missed_line(
    pair: tuple[Account, Account, str],
    api: CallsApi,
    clock: ManualClock,
    handled: list[CallEnded],
) -> None:
    caller, callee, conversation_id = pair
    # Started from a profile (no conversation named): the pair's conversation gets it.
    call = await api.placed(caller, callee)
    clock.advance(timedelta(seconds=46))
    assert await api.plaza.calls.sweep_missed() == 1
    await _settled(handled, 1)
    for who in (caller, callee):
        [line] = await _calls_in(api, who, conversation_id)
        assert line["call"]["id"] == call["id"]
        assert (line["call"]["state"], line["call"]["missed"]) == ("missed", True)
        assert (line["call"]["media"], line["call"]["duration_seconds"]) == ("audio", 0)
        assert len(await _created(api, who)) == 1
    # A missed call is something new in the callee's conversation.
    unread = await api.client.get("/api/v1/conversations/unread", headers=callee.headers)
    assert unread.json()["messages"] >= 1


async def test_a_replayed_event_posts_nothing_more(
    pair: tuple[Account, Account, str],
    api: CallsApi,
    handled: list[CallEnded],
) -> None:
    caller, callee, conversation_id = pair
    call = await api.placed(caller, callee)
    assert (await api.step(callee, call["id"], "reject")).status_code == 200
    await _settled(handled, 1)
    # Every process handles every event; a redelivery (or a second process) is a replay.
    await api.plaza.bus.publish_now(handled[0])
    await _settled(handled, 2)
    assert not await api.plaza.messaging.record_call(
        **handled[0].model_dump(exclude={"conversation_id", "reason"})
    )
    for who in (caller, callee):
        [line] = await _calls_in(api, who, conversation_id)
        assert (line["call"]["state"], line["call"]["missed"]) == ("rejected", False)
        assert len(await _created(api, who)) == 1


async def test_without_a_conversation_nothing_is_created(
    users: Users, api: CallsApi, handled: list[CallEnded]
) -> None:
    caller, callee = await users.create(), await users.create()
    await api.set(callee, call_policy="everyone")
    call = await api.placed(caller, callee)
    assert (await api.step(caller, call["id"], "cancel")).status_code == 200
    await _settled(handled, 1)
    for who in (caller, callee):
        listed = await api.client.get("/api/v1/conversations", headers=who.headers)
        assert listed.json()["data"] == []
        assert await _created(api, who) == []


async def test_a_call_lost_to_glare_leaves_no_line(
    pair: tuple[Account, Account, str], api: CallsApi, handled: list[CallEnded]
) -> None:
    caller, callee, conversation_id = pair
    first = await api.placed(caller, callee)
    crossing = await api.placed(callee, caller)
    assert (crossing["state"], crossing["end_reason"]) == ("cancelled", "glare")
    assert (await api.step(caller, first["id"], "cancel")).status_code == 200
    await _settled(handled, 2)
    [line] = await _calls_in(api, caller, conversation_id)
    assert line["call"]["id"] == first["id"]
    assert (line["call"]["state"], line["call"]["missed"]) == ("cancelled", True)


@pytest.mark.settings(calls_require_prior_dm=True)
async def test_a_call_line_is_not_a_direct_message_for_the_consent_rules(
    pair: tuple[Account, Account, str], api: CallsApi, handled: list[CallEnded]
) -> None:
    # The callee wrote first, so the caller may call; the line the call leaves is the
    # caller's, but it is not a message: the callee still may not call back.
    caller, callee, _conversation_id = pair
    call = await api.placed(caller, callee)
    assert (await api.step(caller, call["id"], "cancel")).status_code == 200
    await _settled(handled, 1)
    refused = await api.place(callee, caller)
    assert refused.status_code == 403, refused.text
    assert refused.json()["rule"] == "prior_dm_required"
