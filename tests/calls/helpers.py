"""A small client for the calls API and the things a call needs around it (follows,
blocks, DMs, Premium, settings), plus a reader of what reached a user's stream."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

from tests.conftest import Account

OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
ANSWER = OFFER.replace("o=- 1 1", "o=- 2 1")
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.10 54321 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}
JSON = Any


class CallsApi:
    def __init__(self, client: httpx.AsyncClient, plaza: Any) -> None:
        self.client = client
        self.plaza = plaza

    # ---- calls ------------------------------------------------------------------------

    async def place(
        self,
        caller: Account,
        callee: Account | str,
        media: str = "audio",
        sdp: str = OFFER,
        **extra: Any,
    ) -> httpx.Response:
        name = callee if isinstance(callee, str) else callee.username
        body = {"callee": name, "media": media, "sdp": sdp, **extra}
        return await self.client.post("/api/v1/calls", json=body, headers=caller.headers)

    async def placed(self, caller: Account, callee: Account, **kwargs: Any) -> JSON:
        response = await self.place(caller, callee, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    async def step(
        self, who: Account, call_id: str, action: str, body: JSON = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/calls/{call_id}/{action}", json=body, headers=who.headers
        )

    async def answer(self, who: Account, call_id: str, sdp: str = ANSWER) -> httpx.Response:
        return await self.step(who, call_id, "answer", {"sdp": sdp})

    async def get(self, who: Account, call_id: str) -> httpx.Response:
        return await self.client.get(f"/api/v1/calls/{call_id}", headers=who.headers)

    async def call(self, who: Account, call_id: str) -> JSON:
        response = await self.get(who, call_id)
        assert response.status_code == 200, response.text
        return response.json()

    async def log(self, who: Account, **params: Any) -> JSON:
        response = await self.client.get("/api/v1/calls", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def ice(self, who: Account) -> JSON:
        response = await self.client.get("/api/v1/calls/ice-servers", headers=who.headers)
        assert response.status_code == 200, response.text
        return response.json()

    # ---- around a call ----------------------------------------------------------------

    async def device_id(self, who: Account) -> str:
        """The session id of this device (what calls name ``device``)."""
        response = await self.client.get("/api/v1/me/sessions", headers=who.headers)
        assert response.status_code == 200, response.text
        [current] = [d for d in response.json()["data"] if d["current"]]
        return str(current["id"])

    async def set(self, who: Account, **changes: Any) -> JSON:
        response = await self.client.patch("/api/v1/me/settings", json=changes, headers=who.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def follow(self, follower: Account, followee: Account) -> None:
        response = await self.client.post(
            f"/api/v1/users/{followee.username}/follow", headers=follower.headers
        )
        assert response.status_code in (200, 204), response.text

    async def block(self, blocker: Account, blocked: Account) -> None:
        response = await self.client.post(
            f"/api/v1/users/{blocked.username}/block", headers=blocker.headers
        )
        assert response.status_code in (200, 204), response.text

    async def dm(self, sender: Account, recipient: Account, text: str = "hello") -> str:
        """Send ``recipient`` a direct message; returns the conversation id."""
        started = await self.client.post(
            "/api/v1/conversations",
            json={"participants": [recipient.username]},
            headers=sender.headers,
        )
        assert started.status_code in (200, 201), started.text
        conversation_id: str = started.json()["id"]
        sent = await self.client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": text, "client_id": uuid.uuid4().hex},
            headers=sender.headers,
        )
        assert sent.status_code == 201, sent.text
        return conversation_id

    async def grant(self, who: Account, entitlement: str = "premium") -> None:
        await self.plaza.entitlements.grant(int(who.id), entitlement, until=None, source="test")

    async def notifications(self, who: Account) -> list[JSON]:
        response = await self.client.get("/api/v1/notifications", headers=who.headers)
        assert response.status_code == 200, response.text
        data: list[JSON] = response.json()["data"]
        return data

    async def events(self, who: Account, prefix: str = "call.") -> list[tuple[str, JSON]]:
        """What reached the user's stream so far (stored events, in order)."""
        rows = await self.plaza.realtime.events_after(int(who.id), 0, 1000)
        return [(kind, orjson.loads(data)) for _seq, kind, data in rows if kind.startswith(prefix)]

    async def kinds(self, who: Account, call_id: str | None = None) -> list[str]:
        return [
            kind
            for kind, data in await self.events(who)
            if call_id is None or data.get("id") == call_id
        ]
