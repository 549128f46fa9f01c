"""Recovery codes: ten single-use codes, replaced as a set."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import Users
from tests.identity.helpers import enable_totp, mfa, password_step


async def codes_left(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    factors = await client.get("/api/v1/me/factors", headers=headers)
    return int(factors.json()["recovery_codes_left"])


async def test_a_recovery_code_signs_in_exactly_once(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    codes = (await enable_totp(client, account, plaza.clock)).recovery_codes

    first = await mfa(client, await password_step(client, account.username), recovery_code=codes[0])
    again = await mfa(client, await password_step(client, account.username), recovery_code=codes[0])
    next_one = await mfa(
        client, await password_step(client, account.username), recovery_code=codes[1]
    )

    assert first.status_code == 201, first.text
    assert again.status_code == 401
    assert next_one.status_code == 201
    assert await codes_left(client, account.headers) == 8


async def test_a_recovery_code_may_be_typed_in_capitals_and_without_dashes(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    code = (await enable_totp(client, account, plaza.clock)).recovery_codes[0]

    typed = code.upper().replace("-", " ")
    response = await mfa(client, await password_step(client, account.username), recovery_code=typed)

    assert response.status_code == 201


async def test_a_code_only_works_for_its_own_account(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    alice, bob = await users.create(), await users.create()
    alices = (await enable_totp(client, alice, plaza.clock)).recovery_codes
    await enable_totp(client, bob, plaza.clock)

    response = await mfa(client, await password_step(client, bob.username), recovery_code=alices[0])

    assert response.status_code == 401
    assert await codes_left(client, alice.headers) == 10


async def test_regenerating_voids_the_old_set(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    old = (await enable_totp(client, account, plaza.clock)).recovery_codes

    regenerated = await client.post("/api/v1/me/recovery-codes", headers=account.headers)

    assert regenerated.status_code == 201
    new = regenerated.json()["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    stale = await mfa(client, await password_step(client, account.username), recovery_code=old[1])
    fresh = await mfa(client, await password_step(client, account.username), recovery_code=new[1])
    assert stale.status_code == 401
    assert fresh.status_code == 201


async def test_two_requests_racing_with_one_recovery_code_sign_in_exactly_once(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    code = (await enable_totp(client, account, plaza.clock)).recovery_codes[0]
    tokens = [await password_step(client, account.username) for _ in range(2)]

    answers = await asyncio.gather(*(mfa(client, t, recovery_code=code) for t in tokens))

    assert sorted(a.status_code for a in answers) == [201, 401]
    assert await codes_left(client, account.headers) == 9


async def test_one_sign_in_raced_with_two_codes_makes_one_session_and_spends_one_code(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    codes = (await enable_totp(client, account, plaza.clock)).recovery_codes

    rounds = []
    for i in range(4):  # a few rounds, since a race need not show itself every time
        mfa_token = await password_step(client, account.username)
        answers = await asyncio.gather(
            mfa(client, mfa_token, recovery_code=codes[2 * i]),
            mfa(client, mfa_token, recovery_code=codes[2 * i + 1]),
        )
        rounds.append(sorted(a.status_code for a in answers))

    assert rounds == [[201, 401]] * 4
    assert await codes_left(client, account.headers) == 6
