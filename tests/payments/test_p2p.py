"""Peer-to-peer payments through the HTTP API: paying, replays, bad input, blocks,
step-up and refunds. Every scenario ends with the ledger's invariants checked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Users
from tests.payments.wallet_helpers import (
    WalletApi,
    expire_step_up,
    key,
    ledger_verified,
    problem_fields,
    settings,
    usd,
    verify_identity,
)

__all__ = ["ledger_verified", "settings"]


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def test_pay_a_friend_moves_money_and_both_sides_see_it(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 10_000)
    payment = await api.paid(alice, bob, 2_550, "pizza")
    assert payment["status"] == "completed"
    assert payment["amount"] == usd(2_550)
    assert payment["payer"]["username"] == alice.username
    assert payment["payee"]["username"] == bob.username
    assert payment["direction"] == "out"
    assert await api.available(alice) == 7_450
    assert await api.available(bob) == 2_550

    theirs = await client.get("/api/v1/payments", headers=bob.headers)
    assert [p["id"] for p in theirs.json()["data"]] == [payment["id"]]
    assert theirs.json()["data"][0]["direction"] == "in"
    assert theirs.json()["data"][0]["note"] == "pizza"
    one = await client.get(f"/api/v1/payments/{payment['id']}", headers=bob.headers)
    assert one.status_code == 200
    assert one.json()["amount"] == usd(2_550)


async def test_a_replayed_payment_pays_once_and_returns_the_first_answer(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 5_000)
    headers = alice.headers | {"Idempotency-Key": "pay-bob-once"}
    body = {"to": bob.username, "amount": usd(1_000), "note": "rent"}
    first = await client.post("/api/v1/payments", json=body, headers=headers)
    again = await client.post("/api/v1/payments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await api.available(alice) == 4_000
    assert await api.available(bob) == 1_000

    other = await client.post(
        "/api/v1/payments", json=body | {"note": "different"}, headers=headers
    )
    assert other.status_code == 422
    assert problem_fields(other) == ["Idempotency-Key"]
    assert await api.available(alice) == 4_000


async def test_a_replayed_refusal_is_the_same_refusal(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    headers = alice.headers | {"Idempotency-Key": "broke"}
    body = {"to": bob.username, "amount": usd(500)}
    first = await client.post("/api/v1/payments", json=body, headers=headers)
    assert first.status_code == 422
    assert first.json()["type"].endswith("/insufficient-funds")
    await api.deposit(alice, 1_000)
    # Stripe's semantics: the key's first answer stands, even though funds arrived.
    again = await client.post("/api/v1/payments", json=body, headers=headers)
    assert again.status_code == 422
    assert again.json() == first.json()
    assert await api.available(alice) == 1_000


async def test_money_moving_requests_need_an_idempotency_key(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    response = await client.post(
        "/api/v1/payments",
        json={"to": bob.username, "amount": usd(100)},
        headers=alice.headers,
    )
    assert response.status_code == 422
    assert problem_fields(response) == ["Idempotency-Key"]
    deposit = await client.post(
        "/api/v1/wallet/deposits", json={"amount": usd(100)}, headers=alice.headers
    )
    assert deposit.status_code == 422
    assert await api.available(alice) == 1_000
    assert await api.available(bob) == 0


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        ({"amount": 0, "currency": "USD"}, "amount.amount"),
        ({"amount": -500, "currency": "USD"}, "amount.amount"),
        ({"amount": 10.5, "currency": "USD"}, "amount.amount"),
        ({"amount": 10.0, "currency": "USD"}, "amount.amount"),
        ({"amount": "1000", "currency": "USD"}, "amount.amount"),
        ({"amount": 1e9, "currency": "USD"}, "amount.amount"),
        ({"amount": True, "currency": "USD"}, "amount.amount"),
        ({"amount": 100, "currency": "EUR"}, "amount.currency"),
        ({"amount": 100, "currency": "XXXX"}, "amount.currency"),
        ({"amount": 100}, "amount.currency"),
    ],
)
async def test_bad_amounts_are_422_naming_the_field_and_apply_nothing(
    client: httpx.AsyncClient, users: Users, api: WalletApi, amount: Any, field: str
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    response = await client.post(
        "/api/v1/payments",
        json={"to": bob.username, "amount": amount},
        headers=alice.headers | key(),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in problem_fields(response)
    assert await api.available(alice) == 1_000
    assert await api.available(bob) == 0
    listed = await client.get("/api/v1/payments", headers=alice.headers)
    assert listed.json()["data"] == []


async def test_unknown_fields_are_refused(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    response = await client.post(
        "/api/v1/payments",
        json={"to": bob.username, "amount": usd(100), "balance": 1e9},
        headers=alice.headers | key(),
    )
    assert response.status_code == 422
    assert "balance" in problem_fields(response)


async def test_paying_yourself_an_unknown_user_or_without_funds_is_refused(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    myself = await api.pay(alice, alice, 100)
    assert myself.status_code == 422
    assert problem_fields(myself) == ["to"]
    nobody = await api.pay(alice, "no_such_user_here", 100)
    assert nobody.status_code == 404
    broke = await api.pay(alice, bob, 1_001)
    assert broke.status_code == 422
    assert broke.json()["type"].endswith("/insufficient-funds")
    assert problem_fields(broke) == ["amount.amount"]
    assert await api.available(alice) == 1_000
    assert await api.available(bob) == 0
    for who in (alice, bob):
        listed = await client.get("/api/v1/payments", headers=who.headers)
        assert listed.json()["data"] == []


async def test_a_block_either_way_refuses_payments_and_requests(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    await api.deposit(carol, 1_000)
    blocked = await client.post(f"/api/v1/users/{alice.username}/block", headers=bob.headers)
    assert blocked.status_code in (200, 204), blocked.text
    for payer, payee in ((alice, bob), (bob, alice)):
        response = await api.pay(payer, payee, 100)
        assert response.status_code == 403
        assert response.json()["type"].endswith("/blocked")
    asked = await client.post(
        "/api/v1/payment-requests",
        json={"from": bob.username, "amount": usd(100)},
        headers=alice.headers,
    )
    assert asked.status_code == 403
    assert asked.json()["type"].endswith("/blocked")
    # Carol is not involved: she can still pay either of them.
    assert (await api.pay(carol, bob, 100)).status_code == 201
    assert await api.available(alice) == 1_000


async def test_a_large_payment_needs_a_recent_step_up(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any
) -> None:
    alice, bob = await users.create(), await users.create()
    await verify_identity(client, alice)
    await api.deposit(alice, 50_000)
    threshold = plaza.settings.payments_step_up_threshold
    # A fresh sign-in counts as a recent check; once that has aged, large payments stop.
    await expire_step_up(plaza)
    small = await api.pay(alice, bob, threshold - 1)
    assert small.status_code == 201, small.text
    large = await api.pay(alice, bob, threshold)
    assert large.status_code == 403
    assert large.json()["type"].endswith("/step-up-required")
    assert await api.available(bob) == threshold - 1
    stepped = await client.post(
        "/api/v1/me/step-up", json={"password": alice.password}, headers=alice.headers
    )
    assert stepped.status_code == 200, stepped.text
    assert (await api.pay(alice, bob, threshold)).status_code == 201
    assert await api.available(bob) == 2 * threshold - 1


async def test_the_payee_refunds_in_part_then_in_full_never_more(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 5_000)
    payment = await api.paid(alice, bob, 3_000, "tickets")
    url = f"/api/v1/payments/{payment['id']}/refunds"

    by_payer = await client.post(url, json={}, headers=alice.headers | key())
    assert by_payer.status_code == 422
    too_much = await client.post(url, json={"amount": usd(3_001)}, headers=bob.headers | key())
    assert too_much.status_code == 422
    assert problem_fields(too_much) == ["amount.amount"]

    part = await client.post(url, json={"amount": usd(1_000)}, headers=bob.headers | key())
    assert part.status_code == 201, part.text
    assert part.json()["kind"] == "refund"
    assert part.json()["refund_of"] == payment["id"]
    assert part.json()["payee"]["username"] == alice.username
    rest = await client.post(url, json={}, headers=bob.headers | key())
    assert rest.status_code == 201
    assert rest.json()["amount"] == usd(2_000)
    more = await client.post(url, json={"amount": usd(1)}, headers=bob.headers | key())
    assert more.status_code == 409

    assert await api.available(alice) == 5_000
    assert await api.available(bob) == 0
    original = await client.get(f"/api/v1/payments/{payment['id']}", headers=alice.headers)
    assert original.json()["refunded"] == usd(3_000)


async def test_a_refund_needs_the_funds_and_is_all_or_nothing(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    await api.deposit(alice, 2_000)
    payment = await api.paid(alice, bob, 2_000)
    await api.paid(bob, carol, 1_500)
    url = f"/api/v1/payments/{payment['id']}/refunds"
    refused = await client.post(url, json={}, headers=bob.headers | key())
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/insufficient-funds")
    assert await api.available(bob) == 500
    part = await client.post(url, json={"amount": usd(500)}, headers=bob.headers | key())
    assert part.status_code == 201
    assert await api.available(alice) == 500


async def test_a_payment_left_pending_by_a_crash_is_finished_by_recovery(
    users: Users, api: WalletApi, plaza: Any, clock: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from plaza.payments.models import WalletPayment

    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    principal = await plaza.identity.authenticate(alice.token)
    # The first step ran (the payment row with its transfer id), then the process died.
    payment = await plaza.payments.p2p.open_payment(
        principal, payer_id=int(alice.id), payee_id=int(bob.id), amount=400, note="crash"
    )
    assert await api.available(bob) == 0
    clock.advance(timedelta(seconds=plaza.settings.payments_recovery_grace_seconds + 1))
    assert await plaza.payments.recover() == 1
    assert await api.available(bob) == 400
    # Running it again (or a late retry of the same transfer) moves nothing more.
    await plaza.payments.p2p.execute(payment)
    assert await plaza.payments.recover() == 0
    assert await api.available(alice) == 600
    async with plaza.db.session(write=False) as session:
        row = await session.scalar(select(WalletPayment).where(WalletPayment.id == payment.id))
    assert row is not None
    assert row.status == "completed"


async def test_payments_list_pages_with_a_cursor(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    made = [(await api.paid(alice, bob, 10 + i))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/v1/payments", params=params, headers=alice.headers)
        seen += [p["id"] for p in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    incoming = await client.get(
        "/api/v1/payments", params={"direction": "in"}, headers=alice.headers
    )
    assert incoming.json()["data"] == []


async def test_concurrent_payments_never_overdraw_the_wallet(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    answers = await asyncio.gather(*(api.pay(alice, bob, 300) for _ in range(5)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 201, 201, 422, 422], [a.text for a in answers]
    assert await api.available(alice) == 100
    assert await api.available(bob) == 900
    listed = await client.get("/api/v1/payments", headers=bob.headers)
    assert len(listed.json()["data"]) == 3


async def test_the_same_key_sent_twice_at_once_pays_once(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob = await users.create(), await users.create()
    await api.deposit(alice, 1_000)
    same = {"Idempotency-Key": "one-click-two-requests"}
    answers = await asyncio.gather(*(api.pay(alice, bob, 400, headers=same) for _ in range(3)))
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]
    assert any(a.status_code == 201 for a in answers)
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert await api.available(bob) == 400
