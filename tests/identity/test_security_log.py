"""The security log: what happened to one's account, newest first, for the owner only."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Account, Users
from tests.identity.conftest import Browser
from tests.identity.helpers import bearer, enable_totp


async def whole_log(client: httpx.AsyncClient, account: Account, limit: int = 100) -> list[Any]:
    events: list[Any] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        page = await client.get("/api/v1/me/security-log", params=params, headers=account.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        events += body["data"]
        if body["next_cursor"] is None:
            return events
        params["cursor"] = body["next_cursor"]


async def test_sign_up_sign_in_and_new_devices_are_logged(
    client: httpx.AsyncClient, users: Users, browser: Browser
) -> None:
    account = await users.create()
    phone = await browser("10.9.8.7", headers={"User-Agent": "PlazaPhone/2.0"})
    first = await phone.post(
        "/api/v1/sessions", json={"username": account.username, "password": account.password}
    )
    await phone.delete(
        "/api/v1/sessions/current", headers={"X-CSRF-Token": first.json()["csrf_token"]}
    )
    # The same browser again: a sign-in, but not a new device.
    await phone.post(
        "/api/v1/sessions", json={"username": account.username, "password": account.password}
    )

    events = await whole_log(client, account)

    kinds = [e["kind"] for e in reversed(events)]  # oldest first
    assert kinds[0] == "account.created"
    assert kinds.count("signin") == 3
    assert kinds.count("device.new") == 2
    from_phone = [e for e in events if e["ip"] == "10.9.8.7"]
    assert {e["kind"] for e in from_phone} == {"signin", "device.new"}
    assert all(e["user_agent"] == "PlazaPhone/2.0" for e in from_phone)
    assert [e["details"].get("method") for e in from_phone if e["kind"] == "signin"] == [
        "password",
        "password",
    ]


async def test_failed_sign_ins_and_factor_changes_are_logged(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    await client.post("/api/v1/sessions", json={"username": account.username, "password": "not it"})
    await enable_totp(client, account, plaza.clock)
    await client.post("/api/v1/me/recovery-codes", headers=account.headers)
    await client.delete("/api/v1/me/totp", headers=account.headers)

    kinds = [e["kind"] for e in await whole_log(client, account)]

    assert kinds[:4] == [
        "totp.disabled",
        "recovery_codes.regenerated",
        "totp.enabled",
        "signin.failed",
    ]


async def test_the_log_pages_newest_first_without_gaps_or_repeats(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    for _ in range(2):
        await users.sign_in(account.username)
    everything = await whole_log(client, account)

    paged = await whole_log(client, account, limit=2)

    assert len(everything) >= 5
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert [int(e["id"]) for e in everything] == sorted(
        (int(e["id"]) for e in everything), reverse=True
    )
    first_page = await client.get(
        "/api/v1/me/security-log", params={"limit": 2}, headers=account.headers
    )
    assert len(first_page.json()["data"]) == 2
    assert first_page.json()["next_cursor"]


async def test_a_cursor_stays_valid_while_new_events_arrive(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    await users.sign_in(account.username)
    first = (
        await client.get("/api/v1/me/security-log", params={"limit": 2}, headers=account.headers)
    ).json()
    await users.sign_in(account.username)  # new events at the head

    rest = await client.get(
        "/api/v1/me/security-log",
        params={"limit": 100, "cursor": first["next_cursor"]},
        headers=account.headers,
    )

    seen = {e["id"] for e in first["data"]}
    assert rest.status_code == 200
    assert rest.json()["data"]
    assert not seen & {e["id"] for e in rest.json()["data"]}
    assert rest.json()["data"][-1]["kind"] == "account.created"


async def test_a_bad_cursor_is_a_422(client: httpx.AsyncClient, users: Users) -> None:
    account = await users.create()
    response = await client.get(
        "/api/v1/me/security-log", params={"cursor": "!!not-a-cursor"}, headers=account.headers
    )
    assert response.status_code == 422


async def test_each_user_sees_only_their_own_log(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    alice = await users.create()
    bob = await users.create()
    await enable_totp(client, alice, plaza.clock)
    alices = await whole_log(client, alice)
    bobs = await whole_log(client, bob)
    # Even handed a cursor from alice's log, bob pages through his own events only.
    alices_cursor = (
        await client.get("/api/v1/me/security-log", params={"limit": 1}, headers=alice.headers)
    ).json()["next_cursor"]
    with_her_cursor = await client.get(
        "/api/v1/me/security-log", params={"cursor": alices_cursor}, headers=bob.headers
    )

    assert {e["id"] for e in alices}.isdisjoint({e["id"] for e in bobs})
    assert "totp.enabled" not in {e["kind"] for e in bobs}
    assert [e["kind"] for e in bobs].count("account.created") == 1
    assert {e["id"] for e in with_her_cursor.json()["data"]} <= {e["id"] for e in bobs}
    anonymous = await client.get("/api/v1/me/security-log", headers=bearer("nope" * 11))
    assert anonymous.status_code == 401
