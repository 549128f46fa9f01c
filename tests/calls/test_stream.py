"""The server-to-client steps arrive live on the WebSocket stream of every device: the
callee's devices ring, the answer reaches the caller, the other devices stop ringing
(they can tell from the answering device's id), and the end reaches everyone."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.calls.helpers import ANSWER, OFFER, CallsApi
from tests.conftest import Users
from tests.realtime.conftest import FakeSocket, socket_factory


async def _next_call_event(sock: FakeSocket) -> tuple[str, dict[str, Any]]:
    while True:
        frame = await sock.receive_event()
        if frame["type"].startswith("call."):
            return frame["type"], frame["data"]


async def test_each_device_hears_what_concerns_it(
    app: FastAPI, users: Users, api: CallsApi
) -> None:
    caller, phone = await users.create(), await users.create()
    laptop = await users.sign_in(phone.username)
    await api.set(phone, call_policy="everyone")
    connect = socket_factory(app)
    async with (
        connect(caller.headers) as caller_ws,
        connect(phone.headers) as phone_ws,
        connect(laptop.headers) as laptop_ws,
    ):
        call = await api.placed(caller, phone, media="video")
        assert await _next_call_event(caller_ws) == ("call.ringing", _without_sdp(call))
        for ws in (phone_ws, laptop_ws):
            kind, data = await _next_call_event(ws)
            assert (kind, data["id"], data["offer_sdp"], data["media"]) == (
                "call.incoming",
                call["id"],
                OFFER,
                "video",
            )

        assert (await api.answer(phone, call["id"])).status_code == 200
        kind, data = await _next_call_event(caller_ws)
        assert (kind, data["sdp"], data["to_device"]) == ("call.answered", ANSWER, call["device"])
        phone_device = await api.device_id(phone)
        laptop_device = await api.device_id(laptop)
        for ws in (phone_ws, laptop_ws):
            kind, data = await _next_call_event(ws)
            assert (kind, data["answered_device"]) == ("call.answered_elsewhere", phone_device)
        # The laptop is not the answering device: it stops ringing.
        assert phone_device != laptop_device

        await api.step(caller, call["id"], "hangup")
        for ws in (caller_ws, phone_ws, laptop_ws):
            kind, data = await _next_call_event(ws)
            assert (kind, data["id"], data["reason"]) == ("call.ended", call["id"], "hangup")


async def test_a_device_that_reconnects_replays_the_call_it_missed(
    app: FastAPI, users: Users, api: CallsApi
) -> None:
    caller, callee = await users.create(), await users.create()
    await api.set(callee, call_policy="everyone")
    connect = socket_factory(app)
    async with connect(callee.headers) as ws:
        hello = await ws.receive_event()
        since = hello["data"]["seq"]
    call = await api.placed(caller, callee)  # rings while the device is offline
    async with connect(callee.headers, since=since) as ws:
        await ws.receive_event()  # hello
        kind, data = await _next_call_event(ws)
        assert (kind, data["id"]) == ("call.incoming", call["id"])


def _without_sdp(call: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in call.items() if k not in ("offer_sdp", "answer_sdp", "remote_candidates")
    }
