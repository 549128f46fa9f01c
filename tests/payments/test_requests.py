"""Requests for money and bill splits through the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaza.core.clock import ManualClock
from plaza.payments.requests import split_shares
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


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def ask(
    client: httpx.AsyncClient, requester: Account, payer: Account, amount: int, note: str = ""
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/payment-requests",
        json={"from": payer.username, "amount": usd(amount), "note": note},
        headers=requester.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_payer_accepts_a_request_and_pays_it(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(bob, 5_000)
    request = await ask(client, alice, bob, 1_200, "dinner")
    assert request["status"] == "pending"
    assert request["direction"] == "outgoing"
    inbox = await client.get(
        "/api/v1/payment-requests", params={"direction": "incoming"}, headers=bob.headers
    )
    assert [r["id"] for r in inbox.json()["data"]] == [request["id"]]
    assert inbox.json()["data"][0]["direction"] == "incoming"

    url = f"/api/v1/payment-requests/{request['id']}/accept"
    by_requester = await client.post(url, headers=alice.headers | key())
    assert by_requester.status_code == 404
    paid = await client.post(url, headers=bob.headers | key())
    assert paid.status_code == 201, paid.text
    assert paid.json()["request_id"] == request["id"]
    assert paid.json()["note"] == "dinner"
    assert await api.available(alice) == 1_200
    assert await api.available(bob) == 3_800
    again = await client.post(url, headers=bob.headers | key())
    assert again.status_code == 409
    assert await api.available(bob) == 3_800
    found = await client.get(f"/api/v1/payment-requests/{request['id']}", headers=alice.headers)
    assert found.json()["status"] == "paid"
    assert found.json()["payment_id"] == paid.json()["id"]


async def test_accepting_without_funds_leaves_the_request_open(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    request = await ask(client, alice, bob, 1_200)
    url = f"/api/v1/payment-requests/{request['id']}/accept"
    broke = await client.post(url, headers=bob.headers | key())
    assert broke.status_code == 422
    found = await client.get(f"/api/v1/payment-requests/{request['id']}", headers=bob.headers)
    assert found.json()["status"] == "pending"
    await api.deposit(bob, 1_200)
    assert (await client.post(url, headers=bob.headers | key())).status_code == 201


async def test_decline_and_cancel_belong_to_each_side(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice, bob = await users.create(), await users.create()
    first = await ask(client, alice, bob, 100)
    second = await ask(client, alice, bob, 200)
    wrong = await client.post(
        f"/api/v1/payment-requests/{first['id']}/decline", headers=alice.headers
    )
    assert wrong.status_code == 422
    declined = await client.post(
        f"/api/v1/payment-requests/{first['id']}/decline", headers=bob.headers
    )
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    wrong = await client.post(
        f"/api/v1/payment-requests/{second['id']}/cancel", headers=bob.headers
    )
    assert wrong.status_code == 422
    cancelled = await client.post(
        f"/api/v1/payment-requests/{second['id']}/cancel", headers=alice.headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    paid = await client.post(
        f"/api/v1/payment-requests/{second['id']}/accept", headers=bob.headers | key()
    )
    assert paid.status_code == 409
    pending = await client.get(
        "/api/v1/payment-requests", params={"status": "pending"}, headers=bob.headers
    )
    assert pending.json()["data"] == []


async def test_reminders_are_rate_limited_per_request(
    client: httpx.AsyncClient, users: Users, clock: ManualClock, plaza: Any
) -> None:
    alice, bob = await users.create(), await users.create()
    request = await ask(client, alice, bob, 100)
    url = f"/api/v1/payment-requests/{request['id']}/remind"
    too_soon = await client.post(url, headers=alice.headers)
    assert too_soon.status_code == 429
    assert int(too_soon.headers["Retry-After"]) > 0
    interval = timedelta(seconds=plaza.settings.payments_reminder_interval_seconds)
    clock.advance(interval)
    reminded = await client.post(url, headers=alice.headers)
    assert reminded.status_code == 200
    assert reminded.json()["reminders"] == 1
    again = await client.post(url, headers=alice.headers)
    assert again.status_code == 429
    by_payer = await client.post(url, headers=bob.headers)
    assert by_payer.status_code == 422
    clock.advance(interval)
    assert (await client.post(url, headers=alice.headers)).json()["reminders"] == 2


async def test_requesting_from_yourself_or_nobody_is_refused(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    myself = await client.post(
        "/api/v1/payment-requests",
        json={"from": alice.username, "amount": usd(100)},
        headers=alice.headers,
    )
    assert myself.status_code == 422
    assert problem_fields(myself) == ["from"]
    nobody = await client.post(
        "/api/v1/payment-requests",
        json={"from": "nobody_at_all", "amount": usd(100)},
        headers=alice.headers,
    )
    assert nobody.status_code == 404


async def test_a_split_requests_each_share_and_the_shares_add_up(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    response = await client.post(
        "/api/v1/payment-splits",
        json={
            "participants": [bob.username, carol.username],
            "amount": usd(1_000),
            "note": "groceries",
        },
        headers=alice.headers | key(),
    )
    assert response.status_code == 201, response.text
    shares = response.json()["shares"]
    # 1000 / 3 = 333 rest 1: the first participant in the given order carries the cent.
    assert [(s["user"]["username"], s["amount"]["amount"]) for s in shares] == [
        (bob.username, 334),
        (carol.username, 333),
        (alice.username, 333),
    ]
    assert shares[2]["request_id"] is None
    outgoing = await client.get(
        "/api/v1/payment-requests", params={"direction": "outgoing"}, headers=alice.headers
    )
    assert sorted(r["amount"]["amount"] for r in outgoing.json()["data"]) == [333, 334]
    assert all(r["split_id"] == response.json()["id"] for r in outgoing.json()["data"])
    await api.deposit(carol, 333)
    carols = await client.get("/api/v1/payment-requests", headers=carol.headers)
    [request] = carols.json()["data"]
    paid = await client.post(
        f"/api/v1/payment-requests/{request['id']}/accept", headers=carol.headers | key()
    )
    assert paid.status_code == 201
    assert await api.available(alice) == 333


async def test_a_split_with_an_unknown_or_repeated_person_creates_nothing(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice, bob = await users.create(), await users.create()
    for participants, field in (
        ([bob.username, "nobody_here"], None),
        ([bob.username, bob.username], "participants.1"),
        ([alice.username], "participants.0"),
    ):
        response = await client.post(
            "/api/v1/payment-splits",
            json={"participants": participants, "amount": usd(1_000)},
            headers=alice.headers,
        )
        assert response.status_code == (404 if field is None else 422), response.text
        if field:
            assert problem_fields(response) == [field]
    listed = await client.get("/api/v1/payment-requests", headers=bob.headers)
    assert listed.json()["data"] == []


@given(total=st.integers(min_value=1, max_value=10**12), count=st.integers(1, 50))
def test_split_shares_add_up_exactly_and_differ_by_at_most_a_cent(total: int, count: int) -> None:
    if total < count:
        return
    shares = split_shares(total, count)
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)
