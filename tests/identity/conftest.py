"""Identity fixtures: per-test settings overrides, extra browsers on other addresses,
and direct reads of identity tables (to check what is stored, never to set up state
that the API could set up)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plaza.config import Settings

Browser = Callable[..., Awaitable[httpx.AsyncClient]]


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


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    """Factory for further clients, each with its own cookie jar and client address."""
    opened: list[httpx.AsyncClient] = []

    async def make(ip: str = "127.0.0.1", **kwargs: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000 + len(opened)))
        c = httpx.AsyncClient(transport=transport, base_url="http://localhost", **kwargs)
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()
