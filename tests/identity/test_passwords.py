"""Password storage: argon2id at OWASP's parameters or above, upgraded on sign-in,
with a bound on how many hashes run at once."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import argon2
import httpx
import pytest
from argon2.low_level import Type
from sqlalchemy import update

from plaza.app import create_app
from plaza.config import Settings
from plaza.core.clock import ManualClock
from plaza.identity.models import User
from tests.conftest import PASSWORD, Users
from tests.identity.helpers import stored_user


async def stored_hash(plaza: Any, username: str) -> str:
    user = await stored_user(plaza, username)
    assert user is not None
    return user.password_hash


async def test_passwords_are_stored_as_argon2id_at_owasp_parameters(
    plaza: Any, users: Users
) -> None:
    account = await users.create()

    stored = await stored_hash(plaza, account.username)

    params = argon2.extract_parameters(stored)
    assert params.type is Type.ID
    assert params.memory_cost >= 19_456
    assert params.time_cost >= 2
    assert params.parallelism == 1
    assert PASSWORD not in stored
    assert argon2.PasswordHasher().verify(stored, PASSWORD)


async def test_two_accounts_with_one_password_get_different_hashes(
    plaza: Any, users: Users
) -> None:
    a, b = await users.create(), await users.create()
    assert await stored_hash(plaza, a.username) != await stored_hash(plaza, b.username)


async def test_a_weaker_stored_hash_is_upgraded_at_the_next_sign_in(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    account = await users.create()
    weak = argon2.PasswordHasher(memory_cost=8192, time_cost=1, parallelism=1).hash(PASSWORD)
    async with plaza.db.session() as session:
        await session.execute(
            update(User).where(User.id == int(account.id)).values(password_hash=weak)
        )
        await session.commit()

    await users.sign_in(account.username)

    upgraded = await stored_hash(plaza, account.username)
    assert upgraded != weak
    params = argon2.extract_parameters(upgraded)
    assert (params.memory_cost, params.time_cost) == (19_456, 2)
    # The upgraded hash is of the same password.
    await users.sign_in(account.username)


async def test_raising_the_cost_setting_upgrades_hashes_as_users_sign_in(
    settings: Settings, clock: ManualClock, plaza: Any, users: Users
) -> None:
    account = await users.create()
    stronger = settings.model_copy(update={"argon2_memory_kib": 32_768, "argon2_time_cost": 3})
    restarted = create_app(stronger, clock=clock)

    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            signed_in = await c.post(
                "/api/v1/sessions", json={"username": account.username, "password": PASSWORD}
            )

    assert signed_in.status_code == 201
    params = argon2.extract_parameters(await stored_hash(plaza, account.username))
    assert (params.memory_cost, params.time_cost) == (32_768, 3)


async def test_wrong_username_and_wrong_password_read_the_same(
    client: httpx.AsyncClient, users: Users
) -> None:
    account = await users.create()

    wrong_password = await client.post(
        "/api/v1/sessions", json={"username": account.username, "password": "not it at all"}
    )
    no_such_user = await client.post(
        "/api/v1/sessions", json={"username": "nobody_here", "password": "not it at all"}
    )

    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json()["detail"] == no_such_user.json()["detail"]


async def test_a_password_typed_in_another_unicode_form_still_signs_in(
    client: httpx.AsyncClient, users: Users
) -> None:
    # "ﬁ" (one ligature code point) and "fi" are the same text after NFKC.
    await users.create("grace", password="ﬁve boxing wizards")
    await users.sign_in("grace", password="five boxing wizards")


@pytest.mark.settings(max_concurrent_hashes=2)
async def test_at_most_the_configured_number_of_hashes_run_at_once(
    client: httpx.AsyncClient, plaza: Any, users: Users, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await users.create()
    hasher = plaza.identity.hasher
    original = hasher._verify_sync
    lock = threading.Lock()
    running = peak = 0

    def counted(stored: str | None, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.03)  # long enough that unbounded calls would overlap
            return bool(original(stored, password))
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(hasher, "_verify_sync", counted)

    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/sessions", json={"username": account.username, "password": f"wrong {i}"}
            )
            for i in range(8)
        )
    )

    assert [a.status_code for a in answers] == [401] * 8
    # Two at once (so hashing runs off the event loop, in parallel), never three.
    assert peak == 2
