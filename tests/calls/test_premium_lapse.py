"""Calls and a paid Premium subscription: subscribing from the wallet is what lets a
person call someone who has messaged them; when Premium lapses (cancelled, or never
paid after the grace), a call already in progress carries on to its end, and the next
call is refused under the Premium rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plaza.core.clock import ManualClock
from tests.calls.helpers import CANDIDATE, CallsApi
from tests.conftest import Account, Users
from tests.premium.billing_helpers import (
    BILLING_SETTINGS,
    GRACE,
    MONTHLY,
    PremiumApi,
    holds_premium,
    ledger_verified,
    premium,
)

__all__ = ["ledger_verified", "premium"]

pytestmark = pytest.mark.settings(
    calls_require_premium=True, calls_require_prior_dm=True, **BILLING_SETTINGS
)

START = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
END = datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def _pair(users: Users, api: CallsApi) -> tuple[Account, Account]:
    """A caller and a callee who follows them and has sent them a message."""
    caller, callee = await users.create(), await users.create()
    await api.follow(callee, caller)
    await api.dm(callee, caller, "call me when you can")
    return caller, callee


def _refused_for_premium(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["rule"] == "premium_required"


async def test_subscribing_lets_a_person_call_someone_who_messaged_them(
    users: Users, api: CallsApi, premium: PremiumApi
) -> None:
    caller, callee = await _pair(users, api)
    _refused_for_premium(await api.place(caller, callee))
    await premium.fund(caller, MONTHLY)
    _refused_for_premium(await api.place(caller, callee))  # money alone is not Premium
    await premium.subscribed(caller)
    eligibility = await api.client.get(
        "/api/v1/calls/eligibility", params={"callee": callee.username}, headers=caller.headers
    )
    assert eligibility.json() == {"allowed": True, "rule": None, "detail": None}
    call = await api.placed(caller, callee)
    assert call["state"] == "ringing"
    # Premium is for placing calls only; the prior-DM rule still applies to others.
    stranger = await users.create()
    await api.set(stranger, call_policy="everyone")
    refused = await api.place(caller, stranger)
    assert (refused.status_code, refused.json()["rule"]) == (403, "prior_dm_required")


@pytest.mark.parametrize("lapse", ["cancelled", "unpaid"])
async def test_a_call_in_progress_outlives_premium_but_the_next_one_is_refused(
    users: Users,
    api: CallsApi,
    premium: PremiumApi,
    plaza: Any,
    clock: ManualClock,
    lapse: str,
) -> None:
    caller, callee = await _pair(users, api)
    await premium.fund(caller, MONTHLY)
    await premium.subscribed(caller)
    if lapse == "cancelled":
        assert (await premium.cancel(caller)).status_code == 200
        access_ends = END
    else:
        clock.set(END)
        assert (await plaza.billing.renew_due()).failed == 1  # past due: kept through the grace
        access_ends = END + GRACE

    clock.set(access_ends - timedelta(minutes=10))
    call = await api.placed(caller, callee)
    assert (await api.answer(callee, call["id"])).status_code == 200

    clock.set(access_ends + timedelta(minutes=5))
    assert not await holds_premium(plaza, caller.id)
    report = await plaza.billing.renew_due()  # the job marks it expired meanwhile
    assert report.expired == 1
    assert (await premium.current(caller))["status"] == "expired"

    # The call goes on: both sides still signal, and it ends with its full length.
    sent = await api.step(caller, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert sent.status_code in (200, 202), sent.text
    back = await api.step(callee, call["id"], "candidates", {"candidates": [CANDIDATE]})
    assert back.status_code in (200, 202), back.text
    assert (await api.call(caller, call["id"]))["state"] == "accepted"
    ended = await api.step(caller, call["id"], "hangup")
    assert ended.status_code == 200, ended.text
    assert (ended.json()["state"], ended.json()["duration_seconds"]) == ("ended", 15 * 60)

    _refused_for_premium(await api.place(caller, callee))

    # Subscribing again brings calling back.
    await premium.fund(caller, MONTHLY)
    await premium.subscribed(caller)
    assert (await api.place(caller, callee)).status_code == 201
