"""Sign-in throttling: failures count per address and per account, but an owner's
browser that signed in before keeps its own allowance."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD, Users
from tests.identity.conftest import Browser

LIMIT = 5
pytestmark = pytest.mark.settings(login_failures_per_hour=LIMIT)


async def attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/sessions", json={"username": username, "password": password})


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # At LIMIT failures an hour, one more attempt comes back within the hour.
    assert 0 < int(response.headers["retry-after"]) <= 3600


async def test_repeated_wrong_passwords_end_in_429_with_retry_after(
    users: Users, browser: Browser
) -> None:
    account = await users.create()
    attacker = await browser("10.0.0.9")

    failures = [
        (await attempt(attacker, account.username, f"guess {i}")).status_code for i in range(LIMIT)
    ]
    throttled = await attempt(attacker, account.username, "guess again")
    even_right = await attempt(attacker, account.username, PASSWORD)

    assert failures == [401] * LIMIT
    assert_throttled(throttled)
    assert_throttled(even_right)


async def test_successful_sign_ins_do_not_count(users: Users, browser: Browser) -> None:
    account = await users.create()
    web = await browser("10.0.0.10")

    statuses = [
        (await attempt(web, account.username, PASSWORD)).status_code for _ in range(LIMIT + 1)
    ]

    assert statuses == [201] * (LIMIT + 1)


async def test_failures_count_per_address_across_accounts(users: Users, browser: Browser) -> None:
    target = await users.create()
    sprayer = await browser("10.0.0.11")
    for i in range(LIMIT):
        assert (await attempt(sprayer, f"someone_{i}", "Spring2024!")).status_code == 401

    from_sprayer = await attempt(sprayer, target.username, "Spring2024!")
    from_elsewhere = await attempt(await browser("10.0.0.12"), target.username, PASSWORD)

    assert_throttled(from_sprayer)
    assert from_elsewhere.status_code == 201


async def test_failures_count_per_account_across_addresses(users: Users, browser: Browser) -> None:
    account = await users.create()
    for i in range(LIMIT):
        botnet_node = await browser(f"10.0.1.{i}")
        assert (await attempt(botnet_node, account.username, "guess")).status_code == 401

    fresh_address = await attempt(await browser("10.0.1.99"), account.username, PASSWORD)
    other_account = await users.create()

    assert_throttled(fresh_address)
    assert other_account.token


async def test_the_owner_is_not_locked_out_by_an_attacker(users: Users, browser: Browser) -> None:
    account = await users.create()
    owners_browser = await browser("192.168.1.20")
    first = await attempt(owners_browser, account.username, PASSWORD)
    assert first.status_code == 201
    assert "plaza_device" in owners_browser.cookies
    await owners_browser.delete(
        "/api/v1/sessions/current", headers={"X-CSRF-Token": first.json()["csrf_token"]}
    )

    attacker = await browser("10.0.0.9")
    for _ in range(LIMIT + 3):
        await attempt(attacker, account.username, "guess")
    new_browser = await browser("192.168.1.21")

    owner = await attempt(owners_browser, account.username, PASSWORD)
    stranger = await attempt(new_browser, account.username, PASSWORD)

    assert owner.status_code == 201, owner.text
    assert_throttled(stranger)  # the account's shared allowance really is used up


async def test_a_device_cookie_from_another_account_does_not_bypass_the_limit(
    users: Users, browser: Browser
) -> None:
    victim = await users.create()
    attacker_account = await users.create()
    attacker = await browser("10.0.0.9")
    # The attacker signs in to their own account to get a genuine device cookie.
    assert (await attempt(attacker, attacker_account.username, PASSWORD)).status_code == 201
    for _ in range(LIMIT):
        await attempt(await browser("10.0.2.1"), victim.username, "guess")

    response = await attempt(attacker, victim.username, PASSWORD)

    assert_throttled(response)


async def test_a_forged_device_cookie_does_not_bypass_the_limit(
    users: Users, browser: Browser
) -> None:
    account = await users.create()
    for _ in range(LIMIT):
        await attempt(await browser("10.0.3.1"), account.username, "guess")
    forger = await browser("10.0.3.2", cookies={"plaza_device": "abc.def"})

    response = await attempt(forger, account.username, PASSWORD)

    assert_throttled(response)
