"""Account lifecycle: a full export without secrets, and deletion with a grace period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from plaza.identity.models import AuthSession, SecurityEvent
from tests.conftest import PASSWORD, Account, Users
from tests.identity.helpers import enable_totp, mfa, password_step, stored_user, totp_code

GRACE = timedelta(days=30)


async def schedule_deletion(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await client.post(
        "/api/v1/me/deletion", json={"password": PASSWORD}, headers=account.headers
    )


async def test_the_export_has_the_account_and_its_log_but_no_secret(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)

    response = await client.get("/api/v1/me/export", headers=account.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["account"]["username"] == account.username
    assert data["account"]["id"] == account.id
    assert data["totp_enabled"] is True
    assert {"account.created", "signin", "totp.enabled"} <= {
        e["kind"] for e in data["security_log"]
    }
    assert any(s["current"] for s in data["sessions"])
    stored = await stored_user(plaza, account.username)
    assert stored is not None
    text = response.text
    secrets = [stored.password_hash, PASSWORD, account.token, two_factor.secret]
    secrets += two_factor.recovery_codes
    assert [s for s in secrets if s in text] == []


async def test_deletion_is_scheduled_after_a_grace_period_and_signs_out_everywhere(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    other = await users.sign_in(account.username)
    now = plaza.clock.now()

    response = await schedule_deletion(client, account)

    assert response.status_code == 202
    when = response.json()["deletion_scheduled_for"]
    assert when == (now + GRACE).isoformat().replace("+00:00", "Z")
    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 401
    assert (await client.get("/api/v1/me", headers=other.headers)).status_code == 401


async def test_deletion_needs_the_password(client: httpx.AsyncClient, users: Users) -> None:
    account = await users.create()

    response = await client.post(
        "/api/v1/me/deletion", json={"password": "not my password"}, headers=account.headers
    )

    assert response.status_code == 422
    assert (await client.get("/api/v1/me", headers=account.headers)).json()[
        "deletion_scheduled_for"
    ] is None


async def test_signing_in_during_the_grace_period_can_cancel_the_deletion(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    await schedule_deletion(client, account)
    plaza.clock.advance(GRACE - timedelta(days=1))

    back = await users.sign_in(account.username)
    me = (await client.get("/api/v1/me", headers=back.headers)).json()
    cancelled = await client.delete("/api/v1/me/deletion", headers=back.headers)
    plaza.clock.advance(timedelta(days=2))
    purged = await plaza.lifecycle.purge_due()

    assert me["deletion_scheduled_for"] is not None
    assert cancelled.status_code == 204
    assert purged == 0
    assert (await client.get("/api/v1/me", headers=back.headers)).json()[
        "deletion_scheduled_for"
    ] is None
    await users.sign_in(account.username)
    again = await client.delete("/api/v1/me/deletion", headers=back.headers)
    assert again.status_code == 409


async def test_after_the_grace_period_the_account_is_gone_and_its_name_free(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    bystander = await users.create()
    await schedule_deletion(client, account)

    plaza.clock.advance(GRACE - timedelta(seconds=1))
    too_early = await plaza.lifecycle.purge_due()
    plaza.clock.advance(timedelta(seconds=1))
    purged = await plaza.lifecycle.purge_due()

    assert too_early == 0
    assert purged == 1
    assert await stored_user(plaza, account.username) is None
    async with plaza.db.session(write=False) as session:
        for table in (AuthSession, SecurityEvent):
            left = await session.scalar(
                select(func.count()).select_from(table).where(table.user_id == int(account.id))
            )
            assert left == 0, table.__tablename__
    signed_in = await client.post(
        "/api/v1/sessions", json={"username": account.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 401
    reused = await client.post(
        "/api/v1/accounts", json={"username": account.username, "password": "someone else's pw"}
    )
    assert reused.status_code == 201
    assert reused.json()["id"] != account.id
    await users.sign_in(bystander.username)  # other accounts are untouched


async def test_a_two_factor_account_can_schedule_its_deletion(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    plaza.clock.advance(timedelta(minutes=11))
    refused = await schedule_deletion(client, account)
    await client.post(
        "/api/v1/me/step-up",
        json={"totp_code": totp_code(two_factor.secret, plaza.clock)},
        headers=account.headers,
    )

    scheduled = await schedule_deletion(client, account)

    assert refused.status_code == 403
    assert scheduled.status_code == 202
    # Coming back during the grace period still takes both factors.
    plaza.clock.advance(timedelta(minutes=1))
    back = await mfa(
        client,
        await password_step(client, account.username),
        totp_code=totp_code(two_factor.secret, plaza.clock),
    )
    assert back.status_code == 201
