"""Paying from a direct-message conversation: the payment is checked against the
conversation and shows in its thread, once, to its two members only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Account, Users
from tests.payments.wallet_helpers import (
    WalletApi,
    key,
    ledger_verified,
    problem_fields,
    settings,
    usd,
)

__all__ = ["ledger_verified", "settings"]

DM = "/api/v1/conversations"


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def _chat(client: httpx.AsyncClient, a: Account, b: Account) -> str:
    """A conversation both have accepted: ``a`` writes, ``b`` answers."""
    started = await client.post(DM, json={"participants": [b.username]}, headers=a.headers)
    assert started.status_code in (200, 201), started.text
    cid: str = started.json()["id"]
    for who in (a, b):
        sent = await client.post(
            f"{DM}/{cid}/messages",
            json={"text": "hello", "client_id": uuid.uuid4().hex},
            headers=who.headers,
        )
        assert sent.status_code == 201, sent.text
    return cid


async def _payment_lines(client: httpx.AsyncClient, who: Account, cid: str) -> list[Any]:
    page = await client.get(f"{DM}/{cid}/messages", headers=who.headers)
    assert page.status_code == 200, page.text
    return [m for m in page.json()["data"] if m["kind"] == "payment"]


async def _wait_for_payment_lines(
    client: httpx.AsyncClient, who: Account, cid: str, count: int
) -> list[Any]:
    # The thread entry follows the payment's committed event, a moment after the 201.
    for _ in range(100):
        lines = await _payment_lines(client, who, cid)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.02)
    return await _payment_lines(client, who, cid)


async def test_a_payment_sent_from_a_dm_shows_in_the_thread_once(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    cid = await _chat(client, alice, bob)
    await api.deposit(alice, 5_000)
    headers = alice.headers | key()
    body = {"to": bob.username, "amount": usd(1_250), "note": "lunch", "conversation_id": cid}
    paid = await client.post("/api/v1/payments", json=body, headers=headers)
    assert paid.status_code == 201, paid.text
    assert paid.json()["conversation_id"] == cid
    replay = await client.post("/api/v1/payments", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.json()["id"] == paid.json()["id"]

    for who in (alice, bob):
        lines = await _wait_for_payment_lines(client, who, cid, 1)
        assert len(lines) == 1, lines
        line = lines[0]
        assert line["payment"]["id"] == paid.json()["id"]
        assert line["payment"]["amount"] == usd(1_250)
        assert line["sender"]["username"] == alice.username
    await asyncio.sleep(0.1)  # a late second post would show up by now
    assert len(await _payment_lines(client, bob, cid)) == 1
    assert await api.available(bob) == 1_250


async def test_paying_into_a_conversation_you_do_not_share_is_refused(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    cid = await _chat(client, alice, bob)
    await api.deposit(carol, 5_000)
    body = {"to": bob.username, "amount": usd(100), "conversation_id": cid}
    refused = await client.post("/api/v1/payments", json=body, headers=carol.headers | key())
    assert refused.status_code == 422, refused.text
    assert problem_fields(refused) == ["conversation_id"]
    assert await api.available(carol) == 5_000
    assert await _payment_lines(client, alice, cid) == []


async def test_a_message_request_is_not_a_place_to_pay(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    started = await client.post(DM, json={"participants": [bob.username]}, headers=alice.headers)
    cid = started.json()["id"]
    sent = await client.post(
        f"{DM}/{cid}/messages", json={"text": "hi", "client_id": "c1"}, headers=alice.headers
    )
    assert sent.status_code == 201
    await api.deposit(alice, 5_000)
    body = {"to": bob.username, "amount": usd(100), "conversation_id": cid}
    refused = await client.post("/api/v1/payments", json=body, headers=alice.headers | key())
    assert refused.status_code == 422, refused.text
    assert problem_fields(refused) == ["conversation_id"]
    assert await api.available(alice) == 5_000
