"""Passkeys through the API, with a software authenticator: registration, passwordless
sign-in, passkeys as the second factor, and their management."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from plaza.identity.models import Passkey
from tests.conftest import Account, Users
from tests.identity.authenticator import SoftAuthenticator, b64url
from tests.identity.helpers import STEP_UP_WINDOW, bearer, mfa, password_step


async def register(
    client: httpx.AsyncClient, account: Account, key: SoftAuthenticator, name: str = "Laptop"
) -> dict[str, Any]:
    options = await client.post("/api/v1/me/passkeys/options", headers=account.headers)
    assert options.status_code == 200, options.text
    ceremony = options.json()
    response = await client.post(
        "/api/v1/me/passkeys",
        json={
            "challenge_id": ceremony["challenge_id"],
            "credential": key.create(ceremony["public_key"]),
            "name": name,
        },
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def passkey_options(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/v1/sessions/passkey-options")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_in_with(
    client: httpx.AsyncClient, key: SoftAuthenticator, **get: Any
) -> httpx.Response:
    options = await passkey_options(client)
    return await client.post(
        "/api/v1/sessions/passkey",
        json={
            "challenge_id": options["challenge_id"],
            "credential": key.get(options["public_key"], **get),
        },
    )


async def stored_sign_count(plaza: Any, passkey_id: str) -> int:
    async with plaza.db.session(write=False) as session:
        count = await session.scalar(
            select(Passkey.sign_count).where(Passkey.id == int(passkey_id))
        )
        assert count is not None
        return int(count)


async def test_registration_options_ask_for_a_user_verified_resident_key(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()

    options = (await client.post("/api/v1/me/passkeys/options", headers=account.headers)).json()

    public_key = options["public_key"]
    assert public_key["rp"]["id"] == "localhost"
    assert public_key["user"]["name"] == account.username
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    assert public_key["authenticatorSelection"]["residentKey"] == "required"
    assert len(public_key["challenge"]) >= 22  # at least 16 random bytes


async def test_a_registered_passkey_signs_in_without_a_password(
    client: httpx.AsyncClient, plaza: Any, users: Users, browser: Any
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    passkey = await register(client, account, key, name="My laptop")
    web = await browser()

    response = await sign_in_with(web, key)

    assert passkey["name"] == "My laptop"
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["username"] == account.username
    me = await web.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.json()["id"] == account.id
    devices = (await web.get("/api/v1/me/sessions", headers=bearer(body["token"]))).json()
    assert [d["method"] for d in devices["data"] if d["current"]] == ["passkey"]
    listed = (await client.get("/api/v1/me/passkeys", headers=account.headers)).json()["data"]
    assert [(p["id"], p["last_used_at"] is not None) for p in listed] == [(passkey["id"], True)]


async def test_each_use_raises_the_stored_sign_count(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    passkey = await register(client, account, key)

    assert (await sign_in_with(client, key)).status_code == 201
    assert await stored_sign_count(plaza, passkey["id"]) == 1
    assert (await sign_in_with(client, key)).status_code == 201
    assert await stored_sign_count(plaza, passkey["id"]) == 2


async def test_a_cloned_passkey_with_a_stale_counter_is_refused(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    assert (await sign_in_with(client, key)).status_code == 201  # counter now 1

    clone = await sign_in_with(client, key, sign_count=1)

    assert clone.status_code == 422


async def test_a_replayed_assertion_is_refused(client: httpx.AsyncClient, users: Users) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    options = await passkey_options(client)
    body = {
        "challenge_id": options["challenge_id"],
        "credential": key.get(options["public_key"]),
    }

    first = await client.post("/api/v1/sessions/passkey", json=body)
    replay = await client.post("/api/v1/sessions/passkey", json=body)

    assert first.status_code == 201
    assert replay.status_code == 422
    assert "token" not in replay.json()


async def test_an_assertion_for_another_challenge_is_refused(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    signed_for = await passkey_options(client)
    presented_with = await passkey_options(client)

    response = await client.post(
        "/api/v1/sessions/passkey",
        json={
            "challenge_id": presented_with["challenge_id"],
            "credential": key.get(signed_for["public_key"]),
        },
    )

    assert response.status_code == 422


async def test_an_assertion_from_another_origin_is_refused(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    key.origin = "http://evil.example"

    response = await sign_in_with(client, key)

    assert response.status_code == 422


async def test_a_registration_for_another_origin_is_refused(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    options = (await client.post("/api/v1/me/passkeys/options", headers=account.headers)).json()

    response = await client.post(
        "/api/v1/me/passkeys",
        json={
            "challenge_id": options["challenge_id"],
            "credential": SoftAuthenticator(origin="http://evil.example").create(
                options["public_key"]
            ),
        },
        headers=account.headers,
    )

    assert response.status_code == 422
    assert (await client.get("/api/v1/me/passkeys", headers=account.headers)).json()["data"] == []


async def test_malformed_credentials_are_a_422_not_a_crash(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    options = (await client.post("/api/v1/me/passkeys/options", headers=account.headers)).json()
    sign_in_options = await passkey_options(client)

    bad_registration = await client.post(
        "/api/v1/me/passkeys",
        json={"challenge_id": options["challenge_id"], "credential": {"id": "x"}},
        headers=account.headers,
    )
    bad_assertion = await client.post(
        "/api/v1/sessions/passkey",
        json={"challenge_id": sign_in_options["challenge_id"], "credential": {"rawId": "AAAA"}},
    )

    assert bad_registration.status_code == 422, bad_registration.text
    assert bad_assertion.status_code in (404, 422), bad_assertion.text


async def test_the_same_authenticator_cannot_be_registered_twice(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    options = (await client.post("/api/v1/me/passkeys/options", headers=account.headers)).json()
    # The options list it as excluded; a browser would refuse. Force it anyway.
    excluded = [c["id"] for c in options["public_key"]["excludeCredentials"]]
    options["public_key"]["excludeCredentials"] = []

    response = await client.post(
        "/api/v1/me/passkeys",
        json={
            "challenge_id": options["challenge_id"],
            "credential": key.create(options["public_key"]),
        },
        headers=account.headers,
    )

    assert excluded == [b64url(key.credential_id)]
    assert response.status_code == 409


async def test_with_a_passkey_a_password_sign_in_asks_for_it_as_second_factor(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    first = await client.post(
        "/api/v1/sessions", json={"username": account.username, "password": account.password}
    )
    assert first.status_code == 200
    assert "passkey" in first.json()["methods"]
    mfa_token = first.json()["mfa_token"]

    options = await client.post(
        "/api/v1/sessions/mfa/passkey-options", json={"mfa_token": mfa_token}
    )
    assert options.status_code == 200
    ceremony = options.json()
    assert len(ceremony["public_key"]["allowCredentials"]) == 1
    response = await mfa(
        client,
        mfa_token,
        passkey={
            "challenge_id": ceremony["challenge_id"],
            "credential": key.get(ceremony["public_key"]),
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["user"]["two_factor_enabled"] is True


async def test_someone_elses_passkey_is_no_second_factor(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    alice, mallory = await users.create(), await users.create()
    await register(client, alice, SoftAuthenticator())
    mallorys_key = SoftAuthenticator()
    await register(client, mallory, mallorys_key)
    mfa_token = await password_step(client, alice.username)
    # Options meant for mallory's own sign-in, answered with mallory's key.
    ceremony = await passkey_options(client)

    response = await mfa(
        client,
        mfa_token,
        passkey={
            "challenge_id": ceremony["challenge_id"],
            "credential": mallorys_key.get(ceremony["public_key"]),
        },
    )

    assert response.status_code == 404
    assert "token" not in response.json()


async def test_a_passkey_steps_up(client: httpx.AsyncClient, plaza: Any, users: Users) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    plaza.clock.advance(STEP_UP_WINDOW)
    options = await client.post("/api/v1/me/step-up/passkey-options", headers=account.headers)
    ceremony = options.json()
    stepped = await client.post(
        "/api/v1/me/step-up",
        json={
            "passkey": {
                "challenge_id": ceremony["challenge_id"],
                "credential": key.get(ceremony["public_key"]),
            }
        },
        headers=account.headers,
    )

    assert stepped.status_code == 200, stepped.text
    assert (
        await client.post("/api/v1/me/recovery-codes", headers=account.headers)
    ).status_code == 201


async def test_passkeys_can_be_renamed_and_removed(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    passkey = await register(client, account, key, name="Old name")

    renamed = await client.patch(
        f"/api/v1/me/passkeys/{passkey['id']}", json={"name": "Work phone"}, headers=account.headers
    )
    listed = (await client.get("/api/v1/me/passkeys", headers=account.headers)).json()["data"]
    removed = await client.delete(f"/api/v1/me/passkeys/{passkey['id']}", headers=account.headers)
    after = (await client.get("/api/v1/me/passkeys", headers=account.headers)).json()["data"]
    sign_in = await sign_in_with(client, key)

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Work phone"
    assert [p["name"] for p in listed] == ["Work phone"]
    assert removed.status_code == 204
    assert after == []
    assert sign_in.status_code == 404
    # Without a passkey (or TOTP), the password alone signs in again.
    await users.sign_in(account.username)


async def test_another_users_passkey_is_not_found(client: httpx.AsyncClient, users: Users) -> None:
    alice, bob = await users.create(), await users.create()
    bobs = await register(client, bob, SoftAuthenticator(), name="Bob's key")

    rename = await client.patch(
        f"/api/v1/me/passkeys/{bobs['id']}", json={"name": "pwned"}, headers=alice.headers
    )
    remove = await client.delete(f"/api/v1/me/passkeys/{bobs['id']}", headers=alice.headers)
    listed = (await client.get("/api/v1/me/passkeys", headers=bob.headers)).json()["data"]

    assert rename.status_code == 404
    assert remove.status_code == 404
    assert [p["name"] for p in listed] == ["Bob's key"]


async def test_adding_a_passkey_signs_out_other_sessions(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()
    other = await users.sign_in(account.username)

    await register(client, account, SoftAuthenticator())

    assert (await client.get("/api/v1/me", headers=other.headers)).status_code == 401
    assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200


@pytest.mark.settings(login_failures_per_hour=3)
async def test_only_failed_passkey_sign_ins_are_throttled(
    client: httpx.AsyncClient, users: Users, browser: Any
) -> None:
    account = await users.create()
    key = SoftAuthenticator()
    await register(client, account, key)
    web = await browser("10.4.4.4")

    successes = [(await sign_in_with(web, key)).status_code for _ in range(4)]
    key.origin = "http://evil.example"
    failures = [(await sign_in_with(web, key)).status_code for _ in range(3)]
    key.origin = "http://localhost"
    throttled = await sign_in_with(web, key)

    assert successes == [201] * 4
    assert failures == [422] * 3
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
