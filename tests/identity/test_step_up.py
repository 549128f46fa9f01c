"""Step-up: sensitive changes need the session to have re-proved itself in the last
ten minutes, with the second factor when there is one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Account, Users
from tests.identity.authenticator import SoftAuthenticator
from tests.identity.conftest import Browser
from tests.identity.helpers import STEP_UP_WINDOW, enable_totp, totp_code

PAST_THE_WINDOW = STEP_UP_WINDOW + timedelta(seconds=1)


async def step_up(client: httpx.AsyncClient, account: Account, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/me/step-up", json=body, headers=account.headers)


def assert_step_up_required(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"].endswith("/step-up-required")
    assert "step-up" in problem["detail"]
    assert "/api/v1/me/step-up" in problem["detail"]


SENSITIVE = {
    "change password": (
        "POST",
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": "a whole new passphrase"},
    ),
    "turn off TOTP": ("DELETE", "/api/v1/me/totp", None),
    "new recovery codes": ("POST", "/api/v1/me/recovery-codes", None),
    "start adding a passkey": ("POST", "/api/v1/me/passkeys/options", None),
    "delete the account": ("POST", "/api/v1/me/deletion", {"password": PASSWORD}),
}


@pytest.mark.parametrize("action", list(SENSITIVE))
async def test_sensitive_changes_need_a_recent_step_up(
    client: httpx.AsyncClient, plaza: Any, users: Users, action: str
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    method, path, body = SENSITIVE[action]
    plaza.clock.advance(PAST_THE_WINDOW)

    refused = await client.request(method, path, json=body, headers=account.headers)
    stepped = await step_up(client, account, totp_code=totp_code(two_factor.secret, plaza.clock))
    allowed = await client.request(method, path, json=body, headers=account.headers)

    assert_step_up_required(refused)
    assert stepped.status_code == 200
    assert allowed.status_code in (200, 201, 202, 204), allowed.text


async def test_adding_a_passkey_with_old_options_needs_a_recent_step_up(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    plaza.clock.advance(timedelta(minutes=9))
    options = (await client.post("/api/v1/me/passkeys/options", headers=account.headers)).json()
    credential = SoftAuthenticator().create(options["public_key"])
    plaza.clock.advance(timedelta(minutes=2))  # the options live on; the step-up does not

    response = await client.post(
        "/api/v1/me/passkeys",
        json={"challenge_id": options["challenge_id"], "credential": credential},
        headers=account.headers,
    )

    assert_step_up_required(response)


async def test_the_window_is_ten_minutes_and_shown_in_factors(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    plaza.clock.advance(STEP_UP_WINDOW - timedelta(seconds=1))

    still = await client.post("/api/v1/me/recovery-codes", headers=account.headers)
    plaza.clock.advance(timedelta(seconds=1))
    expired = await client.post("/api/v1/me/recovery-codes", headers=account.headers)
    stepped = await step_up(client, account, password=PASSWORD)
    factors = (await client.get("/api/v1/me/factors", headers=account.headers)).json()

    assert still.status_code == 201
    assert_step_up_required(expired)
    assert stepped.status_code == 200
    assert factors["step_up_valid_until"] == stepped.json()["valid_until"]


async def test_without_two_factor_the_password_steps_up(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    plaza.clock.advance(PAST_THE_WINDOW)

    wrong = await step_up(client, account, password="not my password")
    still_refused = await client.post("/api/v1/me/recovery-codes", headers=account.headers)
    missing = await step_up(client, account)
    right = await step_up(client, account, password=PASSWORD)
    allowed = await client.post("/api/v1/me/recovery-codes", headers=account.headers)

    # Signed in but not allowed: 403, not the 401 that would tell a client to sign in again.
    assert wrong.status_code == 403
    assert_step_up_required(still_refused)
    assert missing.status_code == 422
    assert right.status_code == 200
    assert allowed.status_code == 201


async def test_with_two_factor_on_the_password_alone_does_not_step_up(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    plaza.clock.advance(PAST_THE_WINDOW)

    password_only = await step_up(client, account, password=PASSWORD)
    nothing = await step_up(client, account)
    wrong_code = await step_up(
        client, account, totp_code=totp_code(two_factor.secret, plaza.clock, offset=5)
    )
    refused = await client.delete("/api/v1/me/totp", headers=account.headers)

    assert password_only.status_code == 403
    assert "second factor" in password_only.json()["detail"]
    assert nothing.status_code == 422
    assert wrong_code.status_code == 403
    assert_step_up_required(refused)


async def test_a_recovery_code_steps_up_once(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    code = (await enable_totp(client, account, plaza.clock)).recovery_codes[0]
    plaza.clock.advance(PAST_THE_WINDOW)

    first = await step_up(client, account, recovery_code=code)
    plaza.clock.advance(PAST_THE_WINDOW)
    again = await step_up(client, account, recovery_code=code)

    assert first.status_code == 200
    assert again.status_code == 403


async def test_a_step_up_counts_for_its_own_session_only(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    other = await users.sign_in(account.username)
    plaza.clock.advance(PAST_THE_WINDOW)

    await step_up(client, account, password=PASSWORD)
    response = await client.post("/api/v1/me/recovery-codes", headers=other.headers)

    assert_step_up_required(response)


@pytest.mark.settings(login_failures_per_hour=5)
async def test_an_attacker_guessing_the_password_does_not_block_the_owners_step_up(
    client: httpx.AsyncClient, plaza: Any, users: Users, browser: Browser
) -> None:
    account = await users.create()
    attacker = await browser("10.6.6.6")
    for _ in range(6):
        await attacker.post(
            "/api/v1/sessions", json={"username": account.username, "password": "guess"}
        )
    plaza.clock.advance(PAST_THE_WINDOW)

    stepped = await step_up(client, account, password=PASSWORD)

    assert stepped.status_code == 200, stepped.text
