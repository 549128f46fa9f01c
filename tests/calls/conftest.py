"""Fixtures for the calls tests: settings per test, bearer-only users (so that one
person can hold several devices), and a small client for the calls API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plaza.config import Settings
from tests.calls.helpers import CallsApi
from tests.conftest import PASSWORD, Account, Users

# The state-machine tests are about signalling, not consent: the operator's Premium and
# prior-DM rules are off unless a test turns them on (the consent tests do).
SIGNALLING_DEFAULTS: dict[str, Any] = {
    "calls_require_premium": False,
    "calls_require_prior_dm": False,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "settings(**overrides): run the test with these Settings fields changed"
    )
    config.addinivalue_line("markers", "turn: TURN configured, with a coturn the test starts")


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("settings")
    overrides = {**SIGNALLING_DEFAULTS, **(marker.kwargs if marker else {})}
    return settings.model_copy(update=overrides)


class BearerUsers(Users):
    """Users whose requests carry only their bearer token. Each ``sign_in`` is another
    device (session) of the same person."""

    async def sign_in(self, username: str, password: str = PASSWORD) -> Account:
        account = await super().sign_in(username, password)
        self.client.cookies.clear()
        return account


@pytest.fixture
def users(client: httpx.AsyncClient) -> Users:
    return BearerUsers(client)


@pytest.fixture
def api(client: httpx.AsyncClient, plaza: Any) -> CallsApi:
    return CallsApi(client, plaza)
