"""What the Premium billing tests share: settings in which time only moves when a test
moves it, the ledger checked after every scenario, and a small client for the wallet
and the Premium API.

The in-process renewal scheduler is slowed to once an hour of real time, so that a
renewal happens only when a test calls ``renew_due`` at the instant it chose (one test
turns it back on to see it run by itself). Sessions are made to outlive the months the
tests skip, so that the same bearer tokens keep working after ``clock.set``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from plaza.config import Settings
from plaza.premium import Entitlement
from tests.conftest import PASSWORD, Account, Users

MONTHLY = 800
YEARLY = 8_400
GRACE = timedelta(days=7)
RETRY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)
# Settings every Premium test runs with (the calls tests apply them through their
# ``settings`` marker, whose fixture is not this module's).
BILLING_SETTINGS: dict[str, Any] = {
    "sandbox_rail_delay_seconds": 0.0,
    "premium_renewal_interval_seconds": 3600.0,
    "session_idle_seconds": 20 * 365 * 86_400,
    "session_absolute_seconds": 20 * 365 * 86_400,
}


@pytest.fixture
def billing_overrides() -> dict[str, Any]:
    """Settings one test changes: parametrize this fixture's name to change them."""
    return {}


@pytest.fixture
def settings(settings: Settings, billing_overrides: dict[str, Any]) -> Settings:
    return settings.model_copy(update={**BILLING_SETTINGS, **billing_overrides})


@pytest.fixture(autouse=True)
async def ledger_verified(plaza: Any) -> AsyncIterator[None]:
    """After every scenario, every ledger invariant must still hold."""
    yield
    report = await plaza.ledger.verify()
    assert report.ok, [c for c in report.checks if not c[1]]


class BearerUsers(Users):
    """Users whose requests carry only their bearer token (no session cookie), so that
    a request made "as" one user is never quietly made as the last one signed in."""

    async def sign_in(self, username: str, password: str = PASSWORD) -> Account:
        account = await super().sign_in(username, password)
        self.client.cookies.clear()
        return account


@pytest.fixture
def users(client: httpx.AsyncClient) -> Users:
    return BearerUsers(client)


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def at(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp from the API as an aware datetime (None stays None)."""
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def fields(response: httpx.Response) -> list[str]:
    """The fields a 422 problem names."""
    return [e["field"] for e in response.json().get("errors", [])]


def problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with this status (and type slug)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if slug is not None:
        assert body["type"].endswith("/" + slug), body
    return body


async def holds_premium(plaza: Any, user_id: str | int) -> bool:
    """Whether the user holds Premium now, asked every way other domains ask; the
    answers must agree (a path that forgot subscriptions would show here)."""
    uid = int(user_id)
    of = await plaza.entitlements.of(uid)
    has_calls = await plaza.entitlements.has(uid, Entitlement.PLACE_CALLS)
    verified = await plaza.entitlements.holders({uid}, Entitlement.VERIFIED) == {uid}
    is_premium = await plaza.entitlements.is_premium(uid)
    assert (of == set(Entitlement), has_calls, verified, is_premium) in (
        (True, True, True, True),
        (False, False, False, False),
    ), (of, has_calls, verified, is_premium)
    return bool(is_premium)


class PremiumApi:
    """The wallet and Premium calls the scenarios repeat, through HTTP."""

    def __init__(self, client: httpx.AsyncClient, plaza: Any) -> None:
        self.client = client
        self.plaza = plaza

    # ---- wallet -----------------------------------------------------------------------

    async def fund(self, who: Account, amount: int) -> None:
        """Top up ``who``'s wallet through the sandbox rail (settles at once here)."""
        response = await self.client.post(
            "/api/v1/wallet/deposits", json={"amount": usd(amount)}, headers=who.headers | key()
        )
        assert response.status_code == 201, response.text

    async def wallet(self, who: Account) -> dict[str, Any]:
        response = await self.client.get("/api/v1/wallet", headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def balance(self, who: Account) -> int:
        wallet = await self.wallet(who)
        # Nothing is left reserved once a charge has been made or refused.
        assert wallet["balance"] == wallet["available"], wallet
        return int(wallet["balance"]["amount"])

    async def history(self, who: Account, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/wallet/history", params=params, headers=who.headers
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    # ---- Premium ----------------------------------------------------------------------

    async def subscribe(
        self, who: Account, plan: str = "monthly", idempotency_key: str | None = None
    ) -> httpx.Response:
        headers = who.headers | {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return await self.client.post(
            "/api/v1/premium/subscription", json={"plan": plan}, headers=headers
        )

    async def subscribed(self, who: Account, plan: str = "monthly") -> dict[str, Any]:
        response = await self.subscribe(who, plan)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def subscription(self, who: Account) -> httpx.Response:
        return await self.client.get("/api/v1/premium/subscription", headers=who.headers)

    async def current(self, who: Account) -> dict[str, Any]:
        response = await self.subscription(who)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def cancel(self, who: Account) -> httpx.Response:
        return await self.client.delete("/api/v1/premium/subscription", headers=who.headers)

    async def resume(self, who: Account) -> httpx.Response:
        return await self.client.post("/api/v1/premium/subscription/resume", headers=who.headers)

    async def pay(self, who: Account) -> httpx.Response:
        return await self.client.post(
            "/api/v1/premium/subscription/pay", headers=who.headers | key()
        )

    async def receipts(self, who: Account, **params: Any) -> httpx.Response:
        return await self.client.get("/api/v1/premium/receipts", params=params, headers=who.headers)

    async def all_receipts(self, who: Account, limit: int = 100) -> list[dict[str, Any]]:
        """Every receipt of ``who``, following cursors page by page."""
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            response = await self.receipts(who, **params)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["data"]) <= limit
            seen += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return seen

    async def notification_kinds(self, who: Account) -> list[str]:
        response = await self.client.get("/api/v1/notifications", headers=who.headers)
        assert response.status_code == 200, response.text
        return [n["kind"] for n in response.json()["data"]]

    async def notifications(self, who: Account) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/notifications", headers=who.headers)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def events(self, who: Account, prefix: str = "premium.") -> list[dict[str, Any]]:
        """The data of the stream events of this type prefix the user got, in order."""
        rows = await self.plaza.realtime.events_after(int(who.id), 0, 1000)
        return [orjson.loads(data) for _seq, kind, data in rows if kind.startswith(prefix)]


@pytest.fixture
def premium(client: httpx.AsyncClient, plaza: Any) -> PremiumApi:
    return PremiumApi(client, plaza)
