"""Fixtures for the messaging tests: a small client for the conversations API, and
in-process stream sockets (the realtime tests' ``FakeSocket``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, Users
from tests.realtime.conftest import FakeSocket, SocketFactory, socket_factory

__all__ = ["Dm", "FakeSocket", "frames_until"]

BASE = "/api/v1/conversations"


class Dm:
    """The conversations API as the tests call it. Methods that should succeed assert
    the status and return the JSON; ``raw`` gives the response for refusals."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(
        self, who: Account, method: str, path: str, json: Any = None, **kw: Any
    ) -> httpx.Response:
        return await self.client.request(
            method, BASE + path, json=json, headers={**who.headers, **kw.pop("headers", {})}, **kw
        )

    async def ok(
        self, who: Account, method: str, path: str, json: Any = None, status: int = 200, **kw: Any
    ) -> Any:
        response = await self.raw(who, method, path, json, **kw)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    async def start(self, who: Account, *others: Account, name: str | None = None) -> Any:
        body: dict[str, Any] = {"participants": [o.username for o in others]}
        if name is not None:
            body["name"] = name
        response = await self.raw(who, "POST", "", body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def send(self, who: Account, cid: str, text: str = "hi", **extra: Any) -> Any:
        body = {"text": text, "client_id": extra.pop("client_id", uuid.uuid4().hex), **extra}
        return await self.ok(who, "POST", f"/{cid}/messages", body, status=201)

    async def history(self, who: Account, cid: str, **params: Any) -> Any:
        return await self.ok(who, "GET", f"/{cid}/messages", params=params)

    async def conversation(self, who: Account, cid: str) -> Any:
        return await self.ok(who, "GET", f"/{cid}")

    async def listing(self, who: Account, box: str = "inbox", **params: Any) -> Any:
        return await self.ok(who, "GET", "", params={"box": box, **params})

    async def unread(self, who: Account) -> Any:
        return await self.ok(who, "GET", "/unread")

    async def settings(self, who: Account, **changes: Any) -> Any:
        response = await self.client.patch("/api/v1/me/settings", json=changes, headers=who.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def follow(self, who: Account, whom: Account) -> None:
        response = await self.client.post(
            f"/api/v1/users/{whom.username}/follow", headers=who.headers
        )
        assert response.status_code in (200, 204), response.text

    async def block(self, who: Account, whom: Account) -> None:
        response = await self.client.post(
            f"/api/v1/users/{whom.username}/block", headers=who.headers
        )
        assert response.status_code in (200, 204), response.text


@pytest.fixture
def dm(client: httpx.AsyncClient) -> Dm:
    return Dm(client)


@pytest.fixture
def connect(app: FastAPI) -> SocketFactory:
    return socket_factory(app)


async def frames_until(sock: FakeSocket, kind: str, n: int = 1) -> list[dict[str, Any]]:
    """Read frames until ``n`` of type ``kind`` arrived; returns those."""
    found: list[dict[str, Any]] = []
    while len(found) < n:
        frame = await sock.receive_event()
        if frame["type"] == kind:
            found.append(frame)
    return found


async def friends(dm: Dm, users: Users, n: int = 2) -> list[Account]:
    """``n`` accounts that all follow each other (every DM lands in the inbox)."""
    accounts = [await users.create() for _ in range(n)]
    for a in accounts:
        for b in accounts:
            if a is not b:
                await dm.follow(a, b)
    return accounts
