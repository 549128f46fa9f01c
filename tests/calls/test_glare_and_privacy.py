"""Glare (two people calling each other at once: exactly one call survives, the one
with the smaller id) and privacy (a call is invisible to anyone but its two parties)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI

from tests.calls.helpers import ANSWER, CANDIDATE, OFFER, CallsApi
from tests.conftest import Account, Users

MISSING_ID = "123456789012345678"


@pytest.fixture
async def pair(users: Users, api: CallsApi) -> tuple[Account, Account]:
    """Two people who take calls from each other."""
    a, b = await users.create(), await users.create()
    await api.set(a, call_policy="everyone")
    await api.set(b, call_policy="everyone")
    return a, b


async def test_calling_back_while_being_called_keeps_the_older_call(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    a, b = pair
    first = await api.placed(a, b)
    second = await api.placed(b, a)
    assert (second["state"], second["end_reason"], second["replaced_by"]) == (
        "cancelled",
        "glare",
        first["id"],
    )
    assert (await api.call(a, first["id"]))["state"] == "ringing"
    # B's devices learn their call ended and keep ringing for A's; A never heard of B's.
    assert await api.kinds(b) == ["call.incoming", "call.ended"]
    assert await api.kinds(a) == ["call.ringing"]
    # Glare losses are signalling, not calls: the logs show the one call.
    assert [e["id"] for e in (await api.log(a))["data"]] == [first["id"]]
    assert [e["id"] for e in (await api.log(b))["data"]] == [first["id"]]
    assert (await api.answer(b, first["id"])).status_code == 200


async def test_when_the_newer_call_commits_first_the_older_one_still_wins(
    pair: tuple[Account, Account], api: CallsApi, plaza: Any
) -> None:
    """Ids are minted before the locks: B's request may mint the smaller id and commit
    after A's. The rule is by id, not by commit order."""
    a, b = pair
    older_id = plaza.ids.next_id()  # B's request minted this, then stalled
    first = await api.placed(a, b)
    assert int(first["id"]) > older_id

    minting = plaza.calls.ids

    class Minted:
        def next_id(self) -> int:
            return older_id

    plaza.calls.ids = Minted()
    try:
        second = await api.placed(b, a)
    finally:
        plaza.calls.ids = minting
    assert (second["id"], second["state"]) == (str(older_id), "ringing")
    lost = await api.call(a, first["id"])
    assert (lost["state"], lost["end_reason"], lost["replaced_by"]) == (
        "cancelled",
        "glare",
        str(older_id),
    )
    assert await api.kinds(a) == ["call.ringing", "call.ended", "call.incoming"]
    assert await api.kinds(b) == ["call.incoming", "call.ended", "call.ringing"]
    assert [n["kind"] for n in await api.notifications(b)] == []  # a glare is not a missed call


async def test_concurrent_calls_between_two_people_leave_exactly_one(
    users: Users, api: CallsApi
) -> None:
    for _ in range(4):
        a, b = await users.create(), await users.create()
        await api.set(a, call_policy="everyone")
        await api.set(b, call_policy="everyone")
        one, two = await asyncio.gather(api.place(a, b), api.place(b, a))
        assert (one.status_code, two.status_code) == (201, 201), (one.text, two.text)
        calls = [await api.call(a, r.json()["id"]) for r in (one, two)]
        ringing = [c for c in calls if c["state"] == "ringing"]
        assert len(ringing) == 1, calls
        [survivor] = ringing
        assert int(survivor["id"]) == min(int(c["id"]) for c in calls)
        [loser] = [c for c in calls if c is not survivor]
        assert (loser["state"], loser["end_reason"], loser["replaced_by"]) == (
            "cancelled",
            "glare",
            survivor["id"],
        )


def _call_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation the app documents on one call (the OpenAPI document lists them
    all, however routers are nested)."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/calls/{call_id}")
        for method in operations
    }


BODIES: dict[str, Any] = {
    "answer": {"sdp": ANSWER},
    "candidates": {"candidates": [CANDIDATE]},
    "negotiate": {"type": "offer", "sdp": OFFER},
    "reject": None,
    "cancel": None,
    "hangup": None,
}


@pytest.mark.parametrize("state", ["ringing", "accepted", "ended"])
async def test_a_third_person_gets_404_on_every_call_endpoint(
    app: FastAPI, users: Users, pair: tuple[Account, Account], api: CallsApi, state: str
) -> None:
    a, b = pair
    eve = await users.create()
    call = await api.placed(a, b)
    if state != "ringing":
        await api.answer(b, call["id"])
    if state == "ended":
        await api.step(a, call["id"], "hangup")
    routes = _call_routes(app)
    expected = {("GET", "/api/v1/calls/{call_id}")} | {
        ("POST", f"/api/v1/calls/{{call_id}}/{action}") for action in BODIES
    }
    assert routes == expected, "a new call endpoint must join this matrix"
    before = await api.call(a, call["id"])
    for call_id in (call["id"], MISSING_ID):
        response = await api.get(eve, call_id)
        assert response.status_code == 404, response.text
        for action, body in BODIES.items():
            response = await api.step(eve, call_id, action, body)
            assert response.status_code == 404, (action, response.text)
            assert response.json()["detail"] == "No such call."
    after = await api.call(a, call["id"])
    assert after == before
    assert await api.events(eve) == []
    assert (await api.log(eve))["data"] == []


async def test_each_party_sees_only_their_own_device(
    pair: tuple[Account, Account], api: CallsApi
) -> None:
    a, b = pair
    call = await api.placed(a, b)
    await api.answer(b, call["id"])
    assert (await api.call(a, call["id"]))["device"] == await api.device_id(a)
    assert (await api.call(b, call["id"]))["device"] == await api.device_id(b)
    ringing = [d for k, d in await api.events(a) if k == "call.answered"]
    assert "answered_device" not in ringing[0]
