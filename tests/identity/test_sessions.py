"""Sessions: opaque tokens stored hashed, cookies with CSRF, expiry, devices, sign-out."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from plaza.core.db import Base
from plaza.identity.models import AuthSession
from tests.conftest import PASSWORD, Users
from tests.identity.conftest import Browser
from tests.identity.helpers import bearer, enable_totp, problem_fields


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> Any:
    response = await client.post(
        "/api/v1/sessions", json={"username": username, "password": password}
    )
    assert response.status_code == 201, response.text
    return response


async def everything_stored(plaza: Any) -> str:
    """Every value of every table, as one string to search."""
    parts: list[str] = []
    async with plaza.db.session(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    parts.append(value.hex() if isinstance(value, bytes) else str(value))
                    if isinstance(value, bytes):
                        parts.append(value.decode("latin-1"))
    return "\n".join(parts)


async def test_a_session_token_is_long_random_and_stored_only_as_its_sha256(
    plaza: Any, users: Users
) -> None:
    account = await users.create()

    raw = base64.urlsafe_b64decode(account.token + "=" * (-len(account.token) % 4))
    assert len(raw) * 8 >= 128
    async with plaza.db.session(write=False) as session:
        hashes = (
            await session.scalars(
                select(AuthSession.token_hash).where(AuthSession.user_id == int(account.id))
            )
        ).all()
    assert hashlib.sha256(account.token.encode()).digest() in hashes
    assert account.token not in await everything_stored(plaza)


async def test_each_sign_in_gets_its_own_working_token(
    client: httpx.AsyncClient, users: Users
) -> None:
    first = await users.create()
    second = await users.sign_in(first.username)

    assert first.token != second.token
    for account in (first, second):
        me = await client.get("/api/v1/me", headers=account.headers)
        assert me.status_code == 200
        assert me.json()["id"] == first.id


async def test_an_unknown_or_malformed_token_is_401(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/v1/me", headers=bearer("x" * 43))
    malformed = await client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    anonymous = await client.get("/api/v1/me")

    assert unknown.status_code == malformed.status_code == anonymous.status_code == 401
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_the_session_cookie_is_http_only_and_same_site_lax(
    users: Users, browser: Browser
) -> None:
    account = await users.create()
    web = await browser()

    response = await sign_in(web, account.username)

    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("plaza_session=")
    )
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].split("=")[1].strip().lower() == "lax"
    assert attributes["path"].split("=")[1].strip() == "/"
    assert response.json()["token"] in cookie


async def test_cookie_requests_that_change_things_need_the_csrf_token(
    users: Users, browser: Browser
) -> None:
    account = await users.create()
    other = await users.sign_in(account.username)
    web = await browser()
    csrf = (await sign_in(web, account.username)).json()["csrf_token"]

    read = await web.get("/api/v1/me")
    without = await web.delete("/api/v1/sessions/current")
    forged = await web.delete(
        "/api/v1/sessions/current", headers={"X-CSRF-Token": other.csrf_token}
    )
    still_signed_in = await web.get("/api/v1/me")
    signed_out = await web.delete("/api/v1/sessions/current", headers={"X-CSRF-Token": csrf})

    assert read.status_code == 200
    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    assert forged.status_code == 403
    assert still_signed_in.status_code == 200
    assert signed_out.status_code == 204
    assert (await web.get("/api/v1/me")).status_code == 401


async def test_bearer_requests_need_no_csrf_token(client: httpx.AsyncClient, users: Users) -> None:
    account = await users.create()
    response = await client.post(
        "/api/v1/me/step-up", json={"password": PASSWORD}, headers=account.headers
    )
    assert response.status_code == 200


async def test_an_idle_session_expires_and_an_active_one_does_not(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    idle = await users.create()
    active = await users.sign_in(idle.username)

    for _ in range(2):
        plaza.clock.advance(timedelta(days=13))
        assert (await client.get("/api/v1/me", headers=active.headers)).status_code == 200

    assert (await client.get("/api/v1/me", headers=idle.headers)).status_code == 401
    plaza.clock.advance(timedelta(days=14))
    assert (await client.get("/api/v1/me", headers=active.headers)).status_code == 401


async def test_even_an_active_session_ends_sixty_days_after_sign_in(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()

    for _ in range(4):
        plaza.clock.advance(timedelta(days=13))
        assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
    plaza.clock.advance(timedelta(days=7, hours=23))
    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
    plaza.clock.advance(timedelta(hours=1))

    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 401
    await users.sign_in(account.username)


async def test_devices_are_listed_and_one_can_be_signed_out(
    client: httpx.AsyncClient, users: Users, browser: Browser
) -> None:
    account = await users.create()
    phone = await browser("10.1.2.3", headers={"User-Agent": "PlazaPhone/1.0"})
    lost = (await sign_in(phone, account.username)).json()["token"]

    listed = await client.get("/api/v1/me/sessions", headers=account.headers)

    assert listed.status_code == 200
    devices = listed.json()["data"]
    assert len(devices) == 2
    assert [d["current"] for d in devices].count(True) == 1
    lost_device = next(d for d in devices if d["user_agent"] == "PlazaPhone/1.0")
    assert lost_device["ip"] == "10.1.2.3"
    assert lost_device["current"] is False
    assert lost_device["method"] == "password"

    revoked = await client.delete(
        f"/api/v1/me/sessions/{lost_device['id']}", headers=account.headers
    )

    assert revoked.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(lost))).status_code == 401
    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
    remaining = (await client.get("/api/v1/me/sessions", headers=account.headers)).json()
    assert [d["current"] for d in remaining["data"]] == [True]


async def test_nobody_can_sign_out_someone_elses_device(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice, bob = await users.create(), await users.create()
    bobs = (await client.get("/api/v1/me/sessions", headers=bob.headers)).json()["data"]

    attempt = await client.delete(f"/api/v1/me/sessions/{bobs[0]['id']}", headers=alice.headers)

    assert attempt.status_code == 404
    assert (await client.get("/api/v1/me", headers=bob.headers)).status_code == 200


async def test_signing_out_ends_only_this_session(client: httpx.AsyncClient, users: Users) -> None:
    laptop = await users.create()
    desktop = await users.sign_in(laptop.username)

    response = await client.delete("/api/v1/sessions/current", headers=laptop.headers)

    assert response.status_code == 204
    assert (await client.get("/api/v1/me", headers=laptop.headers)).status_code == 401
    assert (await client.get("/api/v1/me", headers=desktop.headers)).status_code == 200


async def test_changing_the_password_signs_out_every_other_session(
    client: httpx.AsyncClient, users: Users
) -> None:
    here = await users.create()
    elsewhere = await users.sign_in(here.username)
    new_password = "a whole new passphrase"

    changed = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=here.headers,
    )

    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/v1/me", headers=here.headers)).status_code == 200
    assert (await client.get("/api/v1/me", headers=elsewhere.headers)).status_code == 401
    old = await client.post(
        "/api/v1/sessions", json={"username": here.username, "password": PASSWORD}
    )
    assert old.status_code == 401
    await users.sign_in(here.username, new_password)


async def test_a_password_change_needs_the_current_password_and_a_strong_new_one(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()

    wrong = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not my password", "new_password": "a whole new passphrase"},
        headers=account.headers,
    )
    weak = await client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "password1"},
        headers=account.headers,
    )

    assert wrong.status_code == 422
    assert problem_fields(wrong) == ["current_password"]
    assert weak.status_code == 422
    assert problem_fields(weak) == ["new_password"]
    await users.sign_in(account.username)


async def test_turning_on_two_factor_signs_out_every_other_session(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    here = await users.create()
    elsewhere = await users.sign_in(here.username)

    await enable_totp(client, here, plaza.clock)

    me = await client.get("/api/v1/me", headers=here.headers)
    assert me.status_code == 200
    assert me.json()["two_factor_enabled"] is True
    assert (await client.get("/api/v1/me", headers=elsewhere.headers)).status_code == 401
