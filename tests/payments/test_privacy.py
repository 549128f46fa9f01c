"""Payments are private: an A/B matrix over every wallet, payment and request endpoint.

Alice pays Carol, requests money from her, splits a bill, tops up and disputes. Bob, a
third party, then calls every endpoint with Alice's ids: each answer is a 404 that is
indistinguishable from an id that never existed, and nothing he can list or download
carries Alice's amounts, notes or names.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Users
from tests.payments.wallet_helpers import WalletApi, key, ledger_verified, settings, usd

__all__ = ["ledger_verified", "settings"]
SECRET_NOTE = "secret-note-7c1f"
SECRET_AMOUNT = 4_321
MISSING_ID = "123456789012345678"


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def test_a_third_party_sees_nothing_of_anyone_elses_money(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    deposit = await api.deposit(alice, 20_000, note=SECRET_NOTE)
    payment = await api.paid(alice, carol, SECRET_AMOUNT, SECRET_NOTE)
    request = (
        await client.post(
            "/api/v1/payment-requests",
            json={"from": carol.username, "amount": usd(SECRET_AMOUNT), "note": SECRET_NOTE},
            headers=alice.headers,
        )
    ).json()
    split = (
        await client.post(
            "/api/v1/payment-splits",
            json={
                "participants": [carol.username],
                "amount": usd(SECRET_AMOUNT),
                "note": SECRET_NOTE,
            },
            headers=alice.headers,
        )
    ).json()
    dispute = await client.post(
        f"/api/v1/payments/{payment['id']}/dispute",
        json={"reason": SECRET_NOTE},
        headers=alice.headers,
    )
    assert dispute.status_code == 201

    ids = {
        "payment": payment["id"],
        "request": request["id"],
        "split": split["id"],
        "transfer": deposit["id"],
    }
    object_calls = [
        ("GET", "/api/v1/payments/{payment}", None),
        ("POST", "/api/v1/payments/{payment}/refunds", {}),
        ("POST", "/api/v1/payments/{payment}/dispute", {"reason": "mine now"}),
        ("GET", "/api/v1/payments/{payment}/dispute", None),
        ("GET", "/api/v1/payment-requests/{request}", None),
        ("POST", "/api/v1/payment-requests/{request}/accept", None),
        ("POST", "/api/v1/payment-requests/{request}/decline", None),
        ("POST", "/api/v1/payment-requests/{request}/cancel", None),
        ("POST", "/api/v1/payment-requests/{request}/remind", None),
        ("GET", "/api/v1/payment-splits/{split}", None),
        ("GET", "/api/v1/wallet/transfers/{transfer}", None),
    ]
    for method, template, body in object_calls:
        real = template.format(**ids)
        fake = template.format(**dict.fromkeys(ids, MISSING_ID))
        answers = []
        for url in (real, fake):
            response = await client.request(method, url, json=body, headers=bob.headers | key())
            answers.append(response)
        theirs, nothing = answers
        assert theirs.status_code == 404, (method, template, theirs.text)
        assert nothing.status_code == 404, (method, template, nothing.text)
        # Same answer as for an id that never existed: nothing leaks that it does.
        assert theirs.json()["detail"] == nothing.json()["detail"], template
        assert SECRET_NOTE not in theirs.text
        assert str(SECRET_AMOUNT) not in theirs.text

    list_calls = [
        "/api/v1/wallet",
        "/api/v1/wallet/history",
        "/api/v1/wallet/transfers",
        "/api/v1/wallet/statement?month=" + payment["created_at"][:7],
        "/api/v1/wallet/statement.csv?month=" + payment["created_at"][:7],
        "/api/v1/wallet/verification",
        "/api/v1/payments",
        "/api/v1/payment-requests",
    ]
    for url in list_calls:
        response = await client.get(url, headers=bob.headers)
        assert response.status_code == 200, (url, response.text)
        for secret in (
            SECRET_NOTE,
            str(SECRET_AMOUNT),
            alice.username,
            carol.username,
            payment["id"],
            request["id"],
        ):
            assert secret not in response.text, (url, secret)
    for url in (
        "/api/v1/admin/payments/reconciliation",
        "/api/v1/admin/payments/disputes",
        "/api/v1/admin/payments/flags",
    ):
        assert (await client.get(url, headers=bob.headers)).status_code == 403

    # Nothing Bob tried changed anything: the request is still open, the money in place.
    still = await client.get(f"/api/v1/payment-requests/{request['id']}", headers=carol.headers)
    assert still.json()["status"] == "pending"
    assert await api.available(carol) == SECRET_AMOUNT
    assert await api.available(bob) == 0


async def test_each_party_sees_only_their_own_side(
    client: httpx.AsyncClient, users: Users, api: WalletApi
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    await api.deposit(alice, 10_000)
    await api.deposit(bob, 10_000)
    to_bob = await api.paid(alice, bob, 100)
    to_carol = await api.paid(bob, carol, 200)
    mine = await client.get("/api/v1/payments", headers=alice.headers)
    assert [p["id"] for p in mine.json()["data"]] == [to_bob["id"]]
    carols = await client.get("/api/v1/payments", headers=carol.headers)
    assert [p["id"] for p in carols.json()["data"]] == [to_carol["id"]]
    history = await client.get("/api/v1/wallet/history", headers=carol.headers)
    assert [line["amount"]["amount"] for line in history.json()["data"]] == [200]
    assert (
        await client.get(f"/api/v1/payments/{to_carol['id']}", headers=alice.headers)
    ).status_code == 404
