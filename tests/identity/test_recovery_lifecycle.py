"""Recovery codes follow the second factors they back up: issued with the first
factor, voided when the last factor goes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Users
from tests.identity.authenticator import SoftAuthenticator
from tests.identity.helpers import enable_totp, mfa, password_step
from tests.identity.test_passkeys import register


async def _codes_left(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/me/factors", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["recovery_codes_left"])


async def test_first_passkey_issues_recovery_codes_once(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    first = await register(client, alice, SoftAuthenticator(), "Laptop")
    codes = first["recovery_codes"]
    assert len(codes) == 10
    assert await _codes_left(client, alice.headers) == 10
    second = await register(client, alice, SoftAuthenticator(), "Phone")
    assert second["recovery_codes"] is None
    # A code issued with the passkey finishes a password sign-in.
    token = await password_step(client, alice.username)
    signed_in = await mfa(client, token, recovery_code=codes[0])
    assert signed_in.status_code == 201, signed_in.text


async def test_disabling_the_last_factor_voids_recovery_codes(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    alice = await users.create()
    two_factor = await enable_totp(client, alice, plaza.clock)
    disabled = await client.delete("/api/v1/me/totp", headers=alice.headers)
    assert disabled.status_code == 204, disabled.text
    assert await _codes_left(client, alice.headers) == 0
    # Adding a passkey later must not bring the old codes back to life.
    added = await register(client, alice, SoftAuthenticator())
    assert set(added["recovery_codes"]).isdisjoint(two_factor.recovery_codes)
    token = await password_step(client, alice.username)
    refused = await mfa(client, token, recovery_code=two_factor.recovery_codes[0])
    assert refused.status_code == 401


async def test_removing_one_of_two_factors_keeps_the_codes(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    alice = await users.create()
    await enable_totp(client, alice, plaza.clock)
    key = await register(client, alice, SoftAuthenticator())
    removed = await client.delete(f"/api/v1/me/passkeys/{key['id']}", headers=alice.headers)
    assert removed.status_code == 204, removed.text
    assert await _codes_left(client, alice.headers) == 10
