"""The dry run of the consent rules (``GET /api/v1/calls/eligibility``): call buttons ask
it before they are drawn. It answers what placing the call would, rule by rule (each
rule from both sides), with the same names and wording; a blocked or unknown person is
a 404 as for a call; and it neither rings anyone nor uses up call attempts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.calls.helpers import CallsApi
from tests.conftest import Account, Users

pytestmark = pytest.mark.settings(calls_require_premium=True, calls_require_prior_dm=True)


async def _check(api: CallsApi, caller: Account, callee: Account | str) -> httpx.Response:
    name = callee if isinstance(callee, str) else callee.username
    return await api.client.get(
        "/api/v1/calls/eligibility", params={"callee": name}, headers=caller.headers
    )


async def _eligibility(api: CallsApi, caller: Account, callee: Account) -> Any:
    response = await _check(api, caller, callee)
    assert response.status_code == 200, response.text
    return response.json()


async def _same_as_placing(
    api: CallsApi, caller: Account, callee: Account, rule: str | None, detail: str | None = None
) -> None:
    """The dry run says ``rule`` (or allowed), and placing the call agrees word for word."""
    found = await _eligibility(api, caller, callee)
    if rule is None:
        assert found == {"allowed": True, "rule": None, "detail": None}
        placed = await api.placed(caller, callee)
        await api.step(caller, placed["id"], "cancel")
        return
    assert found == {"allowed": False, "rule": rule, "detail": detail or rule}
    refused = await api.place(caller, callee)
    assert refused.status_code == 403, refused.text
    assert (refused.json()["rule"], refused.json()["detail"]) == (found["rule"], found["detail"])


async def _eligible(users: Users, api: CallsApi) -> tuple[Account, Account]:
    """A Premium caller whom the callee follows and has sent a DM: every rule allows."""
    caller, callee = await users.create(), await users.create()
    await api.grant(caller)
    await api.follow(callee, caller)
    await api.dm(callee, caller)
    return caller, callee


async def test_premium_required_both_sides(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    await api.dm(callee, caller)
    await _same_as_placing(api, caller, callee, "premium_required")
    await api.grant(caller, "place_calls")
    await _same_as_placing(api, caller, callee, None)


async def test_calls_enabled_both_sides(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    await api.set(callee, calls_enabled=False)
    await _same_as_placing(api, caller, callee, "calls_enabled")
    await api.set(callee, calls_enabled=True)
    await _same_as_placing(api, caller, callee, None)


@pytest.mark.parametrize("policy", ["following", "verified", "dm_contacts"])
async def test_call_policy_both_sides(users: Users, api: CallsApi, policy: str) -> None:
    caller, callee = await users.create(), await users.create()
    await api.grant(caller, "place_calls")
    await api.dm(callee, caller)
    await api.set(callee, call_policy=policy)
    await _same_as_placing(api, caller, callee, "call_policy", f"call_policy: {policy}")
    if policy == "following":
        await api.follow(callee, caller)
    elif policy == "verified":
        await api.grant(caller, "verified")
    else:
        await api.dm(caller, callee, "hi back")
    await _same_as_placing(api, caller, callee, None)


async def test_prior_dm_required_both_sides(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.grant(caller)
    await api.set(callee, call_policy="everyone")
    await _same_as_placing(api, caller, callee, "prior_dm_required")
    await api.dm(callee, caller, "call me")
    await _same_as_placing(api, caller, callee, None)


async def test_rules_are_checked_in_the_order_placing_checks_them(
    users: Users, api: CallsApi
) -> None:
    # No Premium, calls off, a policy that refuses and no DM: the first rule is named.
    caller, callee = await users.create(), await users.create()
    await api.set(callee, calls_enabled=False)
    await _same_as_placing(api, caller, callee, "premium_required")
    await api.grant(caller)
    await _same_as_placing(api, caller, callee, "calls_enabled")


@pytest.mark.settings(calls_require_premium=False, calls_require_prior_dm=False)
async def test_the_operator_rules_switched_off_are_not_checked(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    await _same_as_placing(api, caller, callee, None)


@pytest.mark.parametrize("blocker", ["callee", "caller"])
async def test_a_block_either_way_is_a_404_like_an_unknown_user(
    users: Users, api: CallsApi, blocker: str
) -> None:
    caller, callee = await _eligible(users, api)
    unknown = await _check(api, caller, "no-such-user")
    assert unknown.status_code == 404
    if blocker == "callee":
        await api.block(callee, caller)
    else:
        await api.block(caller, callee)
    response = await _check(api, caller, callee)
    assert response.status_code == 404
    assert response.json()["detail"] == unknown.json()["detail"]
    assert response.json()["detail"] == (await api.place(caller, callee)).json()["detail"]


async def test_oneself_and_a_missing_name_are_invalid(users: Users, api: CallsApi) -> None:
    caller = await users.create()
    await api.grant(caller)
    response = await _check(api, caller, caller)
    assert response.status_code == 422
    assert response.json()["detail"] == (await api.place(caller, caller)).json()["detail"]
    missing = await api.client.get("/api/v1/calls/eligibility", headers=caller.headers)
    assert missing.status_code == 422


async def test_it_needs_a_signed_in_user(api: CallsApi) -> None:
    response = await api.client.get("/api/v1/calls/eligibility", params={"callee": "someone"})
    assert response.status_code == 401


async def test_a_dry_run_rings_nobody(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    assert (await _eligibility(api, caller, callee))["allowed"] is True
    assert await api.events(callee) == []
    assert await api.events(caller) == []
    assert (await api.log(caller))["data"] == []


@pytest.mark.settings(calls_per_hour=2)
async def test_dry_runs_do_not_use_up_call_attempts(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    stranger = await users.create()
    for _ in range(10):
        assert (await _eligibility(api, caller, callee))["allowed"] is True
        assert (await _eligibility(api, caller, stranger))["rule"] == "call_policy"
    # Both attempts of the hour are still there.
    first = await api.placed(caller, callee)
    await api.step(caller, first["id"], "cancel")
    second = await api.placed(caller, callee)
    await api.step(caller, second["id"], "cancel")
    assert (await api.place(caller, callee)).status_code == 429
    # And spent attempts do not stop the dry run.
    assert (await _eligibility(api, caller, callee))["allowed"] is True


@pytest.mark.settings(calls_checks_per_hour=3)
async def test_dry_runs_have_an_allowance_of_their_own(users: Users, api: CallsApi) -> None:
    # Settings still cannot be probed without limit, but through a bucket of their own.
    caller, callee = await _eligible(users, api)
    for _ in range(3):
        assert (await _check(api, caller, callee)).status_code == 200
    limited = await _check(api, caller, callee)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert (await api.place(caller, callee)).status_code == 201
