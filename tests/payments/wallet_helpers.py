"""What the wallet tests share: settings with an instant sandbox rail, a check that the
ledger's invariants hold after every test, and small API helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from plaza.config import Settings
from tests.conftest import Account


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The sandbox rail settles at once unless a test says otherwise."""
    return settings.model_copy(update={"sandbox_rail_delay_seconds": 0.0})


@pytest.fixture(autouse=True)
async def ledger_verified(plaza: Any) -> AsyncIterator[None]:
    """After every scenario, every ledger invariant must still hold."""
    yield
    report = await plaza.ledger.verify()
    assert report.ok, [c for c in report.checks if not c[1]]


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def problem_fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


class WalletApi:
    """API calls the scenarios repeat."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def wallet(self, who: Account) -> dict[str, Any]:
        response = await self.client.get("/api/v1/wallet", headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def available(self, who: Account) -> int:
        return int((await self.wallet(who))["available"]["amount"])

    async def deposit(self, who: Account, amount: int, note: str = "") -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/wallet/deposits",
            json={"amount": usd(amount), "note": note},
            headers=who.headers | key(),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def pay(
        self, payer: Account, to: Account | str, amount: int, note: str = "", **extra: Any
    ) -> httpx.Response:
        name = to if isinstance(to, str) else to.username
        return await self.client.post(
            "/api/v1/payments",
            json={"to": name, "amount": usd(amount), "note": note},
            headers=payer.headers | extra.pop("headers", key()),
        )

    async def paid(
        self, payer: Account, to: Account, amount: int, note: str = ""
    ) -> dict[str, Any]:
        response = await self.pay(payer, to, amount, note)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


async def make_admin(plaza: Any, account: Account) -> None:
    await plaza.identity.set_admin(account.username, True)


async def expire_step_up(plaza: Any) -> None:
    """Make every session's last sign-in or step-up too old for sensitive actions."""
    from plaza.identity.models import AuthSession

    async with plaza.db.session() as session:
        await session.execute(update(AuthSession).values(reauthenticated_at=None))
        await session.commit()


IDENTITY = {
    "legal_name": "Alex Example",
    "date_of_birth": "1990-04-01",
    "address": {
        "line1": "1 Main Street",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": "US",
    },
}


async def verify_identity(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    """Move ``who`` to the verified tier (the sandbox approves at once)."""
    response = await client.post("/api/v1/wallet/verification", json=IDENTITY, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["tier"] == "verified"
    return body
