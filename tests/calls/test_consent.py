"""Who may call whom, enforced on the server: every rule refuses with a 403 naming it,
and lets the call through once satisfied (both sides of each rule). The operator's
rules are on here, as they are by default."""

from __future__ import annotations

from typing import Any

import pytest

from tests.calls.helpers import CallsApi
from tests.conftest import Account, Users

pytestmark = pytest.mark.settings(calls_require_premium=True, calls_require_prior_dm=True)


async def _eligible(users: Users, api: CallsApi) -> tuple[Account, Account]:
    """A Premium caller whom the callee follows and has sent a DM: every rule allows."""
    caller, callee = await users.create(), await users.create()
    await api.grant(caller)
    await api.follow(callee, caller)
    await api.dm(callee, caller)
    return caller, callee


def _refused(response: Any, rule: str, detail: str | None = None) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["detail"] == (detail or rule)
    assert body["rule"] == rule


async def test_an_eligible_call_rings(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    assert (await api.placed(caller, callee))["state"] == "ringing"


async def test_placing_a_call_needs_premium(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    await api.dm(callee, caller)
    _refused(await api.place(caller, callee), "premium_required")
    # The place_calls entitlement alone is enough.
    await api.grant(caller, "place_calls")
    assert (await api.place(caller, callee)).status_code == 201


async def test_receiving_a_call_never_needs_premium(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    assert not await api.plaza.entitlements.is_premium(int(callee.id))
    call = await api.placed(caller, callee)
    assert (await api.answer(callee, call["id"])).status_code == 200


async def test_calls_switched_off_refuse_everyone(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    await api.set(callee, calls_enabled=False, call_policy="everyone")
    _refused(await api.place(caller, callee), "calls_enabled")
    await api.set(callee, calls_enabled=True)
    assert (await api.place(caller, callee)).status_code == 201


async def test_the_default_policy_takes_calls_from_people_the_callee_follows(
    users: Users, api: CallsApi
) -> None:
    caller, callee = await users.create(), await users.create()
    await api.grant(caller)
    await api.dm(callee, caller)
    # The caller following the callee is not the callee following the caller.
    await api.follow(caller, callee)
    _refused(await api.place(caller, callee), "call_policy", "call_policy: following")
    await api.follow(callee, caller)
    assert (await api.place(caller, callee)).status_code == 201


async def test_the_verified_policy_adds_verified_callers(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.grant(caller, "place_calls")
    await api.dm(callee, caller)
    await api.set(callee, call_policy="verified")
    _refused(await api.place(caller, callee), "call_policy", "call_policy: verified")
    await api.grant(caller, "verified")
    assert (await api.place(caller, callee)).status_code == 201


async def test_the_verified_policy_still_takes_calls_from_followed_people(
    users: Users, api: CallsApi
) -> None:
    caller, callee = await _eligible(users, api)
    await api.set(callee, call_policy="verified")
    assert (await api.place(caller, callee)).status_code == 201


async def test_the_dm_contacts_policy_needs_messages_both_ways(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)  # the callee wrote; the caller never did
    await api.set(callee, call_policy="dm_contacts")
    _refused(await api.place(caller, callee), "call_policy", "call_policy: dm_contacts")
    await api.dm(caller, callee, "hi back")
    assert (await api.place(caller, callee)).status_code == 201


async def test_everyone_means_strangers_too(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.grant(caller)
    await api.dm(callee, caller)
    await api.set(callee, call_policy="everyone")
    assert (await api.place(caller, callee)).status_code == 201


async def test_the_callee_must_have_messaged_the_caller_first(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.grant(caller)
    await api.set(callee, call_policy="everyone")
    _refused(await api.place(caller, callee), "prior_dm_required")
    # A message from the caller does not count: the callee has to have written.
    await api.dm(caller, callee, "please pick up")
    _refused(await api.place(caller, callee), "prior_dm_required")
    await api.dm(callee, caller, "ok, call me")
    assert (await api.place(caller, callee)).status_code == 201


@pytest.mark.settings(calls_require_premium=False, calls_require_prior_dm=False)
async def test_the_operator_can_switch_both_rules_off(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    assert (await api.place(caller, callee)).status_code == 201


@pytest.mark.settings(calls_require_premium=False, calls_require_prior_dm=True)
async def test_the_operator_rules_are_independent(users: Users, api: CallsApi) -> None:
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    _refused(await api.place(caller, callee), "prior_dm_required")
    await api.dm(callee, caller)
    assert (await api.place(caller, callee)).status_code == 201


@pytest.mark.parametrize("blocker", ["callee", "caller"])
async def test_a_block_either_way_looks_like_an_unknown_user(
    users: Users, api: CallsApi, blocker: str
) -> None:
    caller, callee = await _eligible(users, api)
    await api.set(callee, call_policy="everyone")
    unknown = await api.place(caller, "no-such-user")
    if blocker == "callee":
        await api.block(callee, caller)
    else:
        await api.block(caller, callee)
    response = await api.place(caller, callee)
    assert response.status_code == 404
    assert response.json()["detail"] == unknown.json()["detail"]
    assert await api.events(callee) == []


@pytest.mark.settings(calls_per_hour=3)
async def test_call_attempts_are_rate_limited_per_caller(users: Users, api: CallsApi) -> None:
    caller, callee = await _eligible(users, api)
    stranger = await users.create()
    # Refused attempts count too, so settings cannot be probed without limit.
    _refused(await api.place(caller, stranger), "call_policy", "call_policy: following")
    call = await api.placed(caller, callee)
    await api.step(caller, call["id"], "cancel")
    assert (await api.place(caller, callee)).status_code == 201
    limited = await api.place(caller, callee)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    # Another caller has their own allowance.
    other, their_callee = await _eligible(users, api)
    assert (await api.place(other, their_callee)).status_code == 201
