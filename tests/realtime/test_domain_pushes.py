"""What other domains' facts put on whose stream (plaza.live): the parties get them,
nobody else does, and each arrives once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Users
from tests.payments.wallet_helpers import WalletApi, ledger_verified, settings

__all__ = ["ledger_verified", "settings"]


async def _stream(plaza: Any, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await plaza.realtime.events_after(int(user_id), 0, 100)
    return [(kind, orjson.loads(data)) for _seq, kind, data in rows]


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """The bus pushes after commit, in the background: poll the stored stream."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def test_a_payment_reaches_both_parties_streams_and_no_one_elses(
    plaza: Any, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    await api.deposit(alice, 5_000)
    payment = await api.paid(alice, bob, 1_250, "lunch")
    await plaza.bus.drain()

    async def payments_of(user_id: str) -> list[dict[str, Any]]:
        return [data for kind, data in await _stream(plaza, user_id) if kind == "payment.completed"]

    for party in (alice, bob):
        seen: list[dict[str, Any]] = []

        async def arrived(who: str = party.id, into: list[dict[str, Any]] = seen) -> bool:
            into[:] = await payments_of(who)
            return bool(into)

        await _until(arrived)
        [event] = seen
        assert event["id"] == payment["id"]
        assert event["amount"] == {"amount": 1_250, "currency": "USD"}
        assert (event["payer_id"], event["payee_id"]) == (alice.id, bob.id)
    assert await payments_of(carol.id) == []


async def test_the_deposit_settling_reaches_the_depositor(
    plaza: Any, users: Users, api: WalletApi
) -> None:
    alice = await users.create()
    deposit = await api.deposit(alice, 2_000)
    await plaza.bus.drain()

    async def statuses() -> list[str]:
        return [
            data["status"]
            for kind, data in await _stream(plaza, alice.id)
            if kind == "wallet.transfer" and data["id"] == deposit["id"]
        ]

    found: list[str] = []

    async def settled() -> bool:
        found[:] = await statuses()
        return "settled" in found

    await _until(settled)
    assert found.count("settled") == 1
