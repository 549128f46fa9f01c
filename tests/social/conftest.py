"""Social test helpers: per-test settings overrides and short calls of the graph API.

Everything is set up through the HTTP API, as a client would; the posts tests may add
their own helpers here."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from plaza.config import Settings
from plaza.core.events import Event
from tests.conftest import PASSWORD, Account, Users


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "settings(**overrides): run the test with these Settings fields changed"
    )


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The shared settings, with the test's ``@pytest.mark.settings(...)`` applied."""
    marker = request.node.get_closest_marker("settings")
    if marker is None:
        return settings
    return settings.model_copy(update=marker.kwargs)


class BearerUsers(Users):
    """Users whose requests carry only their bearer token: the sign-in's cookie is
    dropped, so that a request without headers is really anonymous."""

    async def sign_in(self, username: str, password: str = PASSWORD) -> Account:
        account = await super().sign_in(username, password)
        self.client.cookies.clear()
        return account


@pytest.fixture
def users(client: httpx.AsyncClient) -> Users:
    return BearerUsers(client)


class Graph:
    """One-line graph actions for tests; each returns the raw response."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def profile(self, viewer: Account | None, username: str) -> httpx.Response:
        headers = viewer.headers if viewer else {}
        return await self.client.get(f"/api/v1/users/{username}", headers=headers)

    async def counts(self, username: str) -> dict[str, int]:
        response = await self.profile(None, username)
        assert response.status_code == 200, response.text
        counts: dict[str, int] = response.json()["counts"]
        return counts

    async def follow(self, actor: Account, target: Account) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/users/{target.username}/follow", headers=actor.headers
        )

    async def unfollow(self, actor: Account, target: Account) -> httpx.Response:
        return await self.client.delete(
            f"/api/v1/users/{target.username}/follow", headers=actor.headers
        )

    async def block(self, actor: Account, target: Account) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/users/{target.username}/block", headers=actor.headers
        )

    async def unblock(self, actor: Account, target: Account) -> httpx.Response:
        return await self.client.delete(
            f"/api/v1/users/{target.username}/block", headers=actor.headers
        )

    async def mute(self, actor: Account, target: Account) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/users/{target.username}/mute", headers=actor.headers
        )

    async def set_profile(self, actor: Account, **fields: Any) -> httpx.Response:
        return await self.client.patch("/api/v1/me/profile", json=fields, headers=actor.headers)

    async def usernames(self, path: str, viewer: Account | None = None) -> list[str]:
        """Every username of a paged list, following cursors to the end."""
        headers = viewer.headers if viewer else {}
        names: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
            response = await self.client.get(path, headers=headers, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            names += [item["username"] for item in body["data"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return names

    async def notifications(self, account: Account) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/notifications", headers=account.headers)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def unread(self, account: Account) -> int:
        response = await self.client.get(
            "/api/v1/notifications/unread-count", headers=account.headers
        )
        assert response.status_code == 200, response.text
        count: int = response.json()["count"]
        return count


@pytest.fixture
def graph(client: httpx.AsyncClient) -> Graph:
    return Graph(client)


# ---- posts helpers (social-posts) ----------------------------------------------------


class Posts:
    """Short calls of the posts API for tests; ``create`` asserts the 201."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def create(self, author: Account, text: str = "hello", **fields: Any) -> dict[str, Any]:
        response = await self.post(author, text, **fields)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def post(self, author: Account, text: str = "hello", **fields: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/posts", json={"text": text, **fields}, headers=author.headers
        )

    async def get(self, viewer: Account | None, post_id: str) -> httpx.Response:
        return await self.client.get(
            f"/api/v1/posts/{post_id}", headers=viewer.headers if viewer else {}
        )

    async def act(self, method: str, who: Account, post_id: str, action: str) -> httpx.Response:
        return await self.client.request(
            method, f"/api/v1/posts/{post_id}/{action}", headers=who.headers
        )

    async def page(self, path: str, viewer: Account | None = None, **params: str) -> dict[str, Any]:
        response = await self.client.get(
            path, headers=viewer.headers if viewer else {}, params=params
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def home_ids(self, viewer: Account, limit: int = 100) -> list[str]:
        body = await self.page("/api/v1/timelines/home", viewer, limit=str(limit))
        return [item["post"]["id"] for item in body["data"]]

    async def tab_ids(self, viewer: Account | None, username: str, tab: str) -> list[str]:
        body = await self.page(f"/api/v1/users/{username}/posts", viewer, tab=tab, limit="100")
        return [item["post"]["id"] for item in body["data"]]

    async def search_ids(self, viewer: Account | None, q: str) -> list[str]:
        body = await self.page("/api/v1/search/posts", viewer, q=q, limit="100")
        return [post["id"] for post in body["data"]]


@pytest.fixture
def posts(client: httpx.AsyncClient) -> Posts:
    return Posts(client)


class Heard:
    """Events of chosen types as subscribers see them. Subscribed after the app's own
    handlers, so hearing an event also means those handlers have run for it."""

    def __init__(self, plaza: Any) -> None:
        self.plaza = plaza
        self.events: list[Event] = []

    def listen(self, *types: type[Event]) -> None:
        async def record(event: Event) -> None:
            self.events.append(event)

        for event_type in types:
            self.plaza.bus.subscribe(event_type, record)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Event]:
        """Wait until ``count`` events have arrived (Redis delivers asynchronously)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.plaza.bus.drain()
        while len(self.events) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} events, heard {self.events}")
            await asyncio.sleep(0.01)
        return self.events


@pytest.fixture
def heard(plaza: Any) -> Heard:
    return Heard(plaza)
