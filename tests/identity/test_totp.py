"""TOTP: enrolment with a QR code, MFA at sign-in, single use, skew and throttling."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import PASSWORD, Users
from tests.identity.helpers import (
    bearer,
    enable_totp,
    mfa,
    password_step,
    problem_fields,
    totp_code,
)


async def test_enrolment_gives_a_secret_uri_and_qr_code_but_is_off_until_confirmed(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()

    enrol = await client.post("/api/v1/me/totp", headers=account.headers)

    assert enrol.status_code == 201
    body = enrol.json()
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert account.username in uri.path
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["Plaza"]
    assert body["qr_svg"].lstrip().startswith("<svg")
    # Not yet on: the password alone still signs in.
    assert (await client.get("/api/v1/me/factors", headers=account.headers)).json()["totp"] is False
    await users.sign_in(account.username)


async def test_confirming_with_a_wrong_code_leaves_totp_off(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    secret = (await client.post("/api/v1/me/totp", headers=account.headers)).json()["secret"]
    wrong = "000000" if totp_code(secret, plaza.clock) != "000000" else "111111"

    response = await client.post(
        "/api/v1/me/totp/confirm", json={"code": wrong}, headers=account.headers
    )

    assert response.status_code == 422
    assert problem_fields(response) == ["code"]
    await users.sign_in(account.username)


async def test_confirming_turns_totp_on_and_issues_ten_recovery_codes(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()

    two_factor = await enable_totp(client, account, plaza.clock)

    assert len(two_factor.recovery_codes) == 10
    assert len(set(two_factor.recovery_codes)) == 10
    factors = (await client.get("/api/v1/me/factors", headers=account.headers)).json()
    assert factors["totp"] is True
    assert factors["recovery_codes_left"] == 10
    again = await client.post("/api/v1/me/totp", headers=account.headers)
    assert again.status_code == 409


async def test_with_totp_on_the_password_alone_does_not_sign_in(
    client: httpx.AsyncClient, plaza: Any, users: Users, browser: Any
) -> None:
    account = await users.create()
    await enable_totp(client, account, plaza.clock)
    web = await browser()

    response = await web.post(
        "/api/v1/sessions", json={"username": account.username, "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["mfa_required"] is True
    assert body["methods"] == ["totp", "recovery_code"]
    assert "token" not in body
    assert "plaza_session" not in web.cookies
    # The MFA token is not a session token.
    assert (await web.get("/api/v1/me", headers=bearer(body["mfa_token"]))).status_code == 401


async def test_a_totp_code_completes_sign_in_once(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    code = totp_code(two_factor.secret, plaza.clock)

    first = await mfa(client, await password_step(client, account.username), totp_code=code)
    replay = await mfa(client, await password_step(client, account.username), totp_code=code)

    assert first.status_code == 201, first.text
    assert first.json()["user"]["two_factor_enabled"] is True
    me = await client.get("/api/v1/me", headers=bearer(first.json()["token"]))
    assert me.json()["username"] == account.username
    assert replay.status_code == 401
    assert "token" not in replay.json()


async def test_a_code_from_before_the_last_accepted_one_is_refused(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    newer = totp_code(two_factor.secret, plaza.clock, offset=1)
    older = totp_code(two_factor.secret, plaza.clock)

    used_newer = await mfa(client, await password_step(client, account.username), totp_code=newer)
    then_older = await mfa(client, await password_step(client, account.username), totp_code=older)

    assert used_newer.status_code == 201
    assert then_older.status_code == 401


async def test_two_requests_racing_with_one_code_sign_in_exactly_once(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    tokens = [await password_step(client, account.username) for _ in range(2)]
    code = totp_code(two_factor.secret, plaza.clock)

    answers = await asyncio.gather(*(mfa(client, t, totp_code=code) for t in tokens))

    assert sorted(a.status_code for a in answers) == [201, 401]


@pytest.mark.parametrize("offset", [-1, 1])
async def test_one_step_of_clock_skew_is_accepted(
    client: httpx.AsyncClient, plaza: Any, users: Users, offset: int
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    plaza.clock.advance(timedelta(minutes=3))

    response = await mfa(
        client,
        await password_step(client, account.username),
        totp_code=totp_code(two_factor.secret, plaza.clock, offset=offset),
    )

    assert response.status_code == 201


@pytest.mark.parametrize("offset", [-2, 2])
async def test_two_steps_of_clock_skew_are_refused(
    client: httpx.AsyncClient, plaza: Any, users: Users, offset: int
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    plaza.clock.advance(timedelta(minutes=3))
    mfa_token = await password_step(client, account.username)

    skewed = await mfa(
        client, mfa_token, totp_code=totp_code(two_factor.secret, plaza.clock, offset=offset)
    )
    current = await mfa(client, mfa_token, totp_code=totp_code(two_factor.secret, plaza.clock))

    assert skewed.status_code == 401
    assert current.status_code == 201  # the same sign-in goes on with a right code


async def test_a_wrong_code_is_401_and_spaces_in_a_right_one_are_fine(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    mfa_token = await password_step(client, account.username)
    code = totp_code(two_factor.secret, plaza.clock)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    refused = await mfa(client, mfa_token, totp_code=wrong)
    spaced = await mfa(client, mfa_token, totp_code=f"{code[:3]} {code[3:]}")

    assert refused.status_code == 401
    assert spaced.status_code == 201


async def test_wrong_codes_are_throttled_per_account(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    victim = await users.create()
    bystander = await users.create()
    victim_2fa = await enable_totp(client, victim, plaza.clock)
    bystander_2fa = await enable_totp(client, bystander, plaza.clock)
    code = totp_code(victim_2fa.secret, plaza.clock)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    statuses = []
    for _ in range(2):  # each sign-in allows five tries; the account allows ten an hour
        mfa_token = await password_step(client, victim.username)
        statuses += [(await mfa(client, mfa_token, totp_code=wrong)).status_code for _ in range(5)]
    throttled = await mfa(client, await password_step(client, victim.username), totp_code=code)
    other = await mfa(
        client,
        await password_step(client, bystander.username),
        totp_code=totp_code(bystander_2fa.secret, plaza.clock),
    )

    assert statuses == [401] * 10
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert other.status_code == 201


async def test_one_sign_in_allows_only_a_few_tries(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    mfa_token = await password_step(client, account.username)
    code = totp_code(two_factor.secret, plaza.clock)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    for _ in range(5):
        assert (await mfa(client, mfa_token, totp_code=wrong)).status_code == 401
    exhausted = await mfa(client, mfa_token, totp_code=code)

    assert exhausted.status_code == 401
    assert "start again" in exhausted.json()["detail"]


async def test_the_second_step_must_come_within_five_minutes(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    mfa_token = await password_step(client, account.username)
    plaza.clock.advance(timedelta(minutes=5, seconds=1))

    late = await mfa(client, mfa_token, totp_code=totp_code(two_factor.secret, plaza.clock))

    assert late.status_code == 401


async def test_the_second_step_takes_exactly_one_factor(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    two_factor = await enable_totp(client, account, plaza.clock)
    mfa_token = await password_step(client, account.username)

    both = await mfa(
        client,
        mfa_token,
        totp_code=totp_code(two_factor.secret, plaza.clock),
        recovery_code=two_factor.recovery_codes[0],
    )
    neither = await mfa(client, mfa_token)

    assert both.status_code == neither.status_code == 422


async def test_turning_totp_off_brings_back_password_sign_in(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    await enable_totp(client, account, plaza.clock)

    disabled = await client.delete("/api/v1/me/totp", headers=account.headers)

    assert disabled.status_code == 204
    assert (await client.get("/api/v1/me", headers=account.headers)).json()[
        "two_factor_enabled"
    ] is False
    await users.sign_in(account.username)
    again = await client.delete("/api/v1/me/totp", headers=account.headers)
    assert again.status_code == 404
