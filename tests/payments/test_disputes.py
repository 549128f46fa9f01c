"""Disputes: the payer opens one, an administrator resolves it for either side."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Users
from tests.payments.wallet_helpers import WalletApi, key, ledger_verified, make_admin, settings

__all__ = ["ledger_verified", "settings"]


@pytest.fixture
def api(client: httpx.AsyncClient) -> WalletApi:
    return WalletApi(client)


async def test_a_dispute_won_by_the_payer_credits_them_through_the_disputes_account(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    admin = await users.create()
    await make_admin(plaza, admin)
    await api.deposit(alice, 5_000)
    payment = await api.paid(alice, bob, 3_000, "never delivered")
    # Bob refunded part and spent most of the rest before the dispute is decided.
    refunded = await client.post(
        f"/api/v1/payments/{payment['id']}/refunds",
        json={"amount": {"amount": 500, "currency": "USD"}},
        headers=bob.headers | key(),
    )
    assert refunded.status_code == 201
    await api.paid(bob, carol, 2_000)

    by_payee = await client.post(
        f"/api/v1/payments/{payment['id']}/dispute", json={"reason": "x"}, headers=bob.headers
    )
    assert by_payee.status_code == 422
    opened = await client.post(
        f"/api/v1/payments/{payment['id']}/dispute",
        json={"reason": "The bike never arrived."},
        headers=alice.headers,
    )
    assert opened.status_code == 201
    assert opened.json()["status"] == "open"
    twice = await client.post(
        f"/api/v1/payments/{payment['id']}/dispute", json={"reason": "again"}, headers=alice.headers
    )
    assert twice.status_code == 409
    seen = await client.get(f"/api/v1/payments/{payment['id']}", headers=bob.headers)
    assert seen.json()["disputed"] is True

    listed = await client.get("/api/v1/admin/payments/disputes", headers=admin.headers)
    assert [d["id"] for d in listed.json()["data"]] == [opened.json()["id"]]
    assert (
        await client.get("/api/v1/admin/payments/disputes", headers=alice.headers)
    ).status_code == 403
    resolved = await client.post(
        f"/api/v1/admin/payments/disputes/{opened.json()['id']}/resolve",
        json={"outcome": "payer", "note": "no proof of delivery"},
        headers=admin.headers | key(),
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "won"
    # 3000 paid, 500 refunded already: 2500 owed; bob held only 500 of it.
    assert body["credited"]["amount"] == 2_500
    assert body["clawed_back"]["amount"] == 500
    assert await api.available(alice) == 5_000
    assert await api.available(bob) == 0
    disputes = await plaza.ledger.system_account("disputes")
    assert (await plaza.ledger.balance(disputes)).balance == -2_000  # what Plaza covered

    again = await client.post(
        f"/api/v1/admin/payments/disputes/{opened.json()['id']}/resolve",
        json={"outcome": "payer"},
        headers=admin.headers | key(),
    )
    assert again.status_code == 409
    assert await api.available(alice) == 5_000


async def test_a_dispute_lost_by_the_payer_moves_nothing(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any
) -> None:
    alice, bob, admin = await users.create(), await users.create(), await users.create()
    await make_admin(plaza, admin)
    await api.deposit(alice, 1_000)
    payment = await api.paid(alice, bob, 1_000)
    opened = await client.post(
        f"/api/v1/payments/{payment['id']}/dispute",
        json={"reason": "changed my mind"},
        headers=alice.headers,
    )
    resolved = await client.post(
        f"/api/v1/admin/payments/disputes/{opened.json()['id']}/resolve",
        json={"outcome": "payee", "note": "delivered as described"},
        headers=admin.headers | key(),
    )
    assert resolved.json()["status"] == "lost"
    assert resolved.json()["credited"]["amount"] == 0
    assert await api.available(alice) == 0
    assert await api.available(bob) == 1_000
    mine = await client.get(f"/api/v1/payments/{payment['id']}/dispute", headers=alice.headers)
    assert mine.json()["resolution_note"] == "delivered as described"


async def test_a_resolution_interrupted_by_a_crash_is_finished_by_recovery(
    client: httpx.AsyncClient, users: Users, api: WalletApi, plaza: Any, clock: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from plaza.payments.models import WalletDispute

    alice, bob, admin = await users.create(), await users.create(), await users.create()
    await make_admin(plaza, admin)
    await api.deposit(alice, 1_000)
    payment = await api.paid(alice, bob, 1_000)
    opened = await client.post(
        f"/api/v1/payments/{payment['id']}/dispute",
        json={"reason": "counterfeit"},
        headers=alice.headers,
    )
    dispute_id = int(opened.json()["id"])
    # The administrator's resolution stored its plan, then the process died before the
    # correcting transfers were submitted.
    async with plaza.db.session() as session:
        await session.execute(
            update(WalletDispute)
            .where(WalletDispute.id == dispute_id)
            .values(
                status="resolving",
                amount=1_000,
                clawed_back=1_000,
                clawback_transfer_id=plaza.ids.next_id(),
                credit_transfer_id=plaza.ids.next_id(),
                resolved_by=int(admin.id),
            )
        )
        await session.commit()
    clock.advance(timedelta(seconds=plaza.settings.payments_recovery_grace_seconds + 1))
    await plaza.payments.recover()
    await plaza.payments.recover()
    mine = await client.get(f"/api/v1/payments/{payment['id']}/dispute", headers=alice.headers)
    assert mine.json()["status"] == "won"
    assert await api.available(alice) == 1_000
    assert await api.available(bob) == 0
