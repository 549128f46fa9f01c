"""The Premium pages over HTTP: /premium opens on the plans or on the subscriber's own
subscription, a receipt prints only for its owner, and /admin/premium (with its link)
exists only for administrators. What the pages' modules do in a browser is tested in
tests/e2e/test_premium_flow.py."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from plaza.config import Settings
from plaza.core.clock import ManualClock
from tests.conftest import Account, Users

HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Top-ups settle at once; renewals run only when a test asks; sessions outlive the
    month a test skips."""
    return settings.model_copy(
        update={
            "sandbox_rail_delay_seconds": 0.0,
            "premium_renewal_interval_seconds": 3600.0,
            "session_idle_seconds": 365 * 86_400,
            "session_absolute_seconds": 365 * 86_400,
        }
    )


def page_headers(who: Account) -> dict[str, str]:
    return {**HTML, **who.headers}


async def subscribe(client: httpx.AsyncClient, who: Account, plan: str = "monthly") -> Any:
    """Top up $100 and subscribe to ``plan``; returns the subscription."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    deposit = await client.post(
        "/api/v1/wallet/deposits",
        json={"amount": {"amount": 10_000, "currency": "USD"}},
        headers=who.headers | key,
    )
    assert deposit.status_code == 201, deposit.text
    made = await client.post(
        "/api/v1/premium/subscription",
        json={"plan": plan},
        headers=who.headers | {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert made.status_code == 201, made.text
    return made.json()


async def only_receipt(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    found = await client.get("/api/v1/premium/receipts", headers=who.headers)
    assert found.status_code == 200, found.text
    (receipt,) = found.json()["data"]
    return dict(receipt)


def section(html: str, section_id: str) -> str:
    """The opening tag of the element with ``id``."""
    match = re.search(rf'<section[^>]* id="{section_id}"[^>]*>', html)
    assert match, f"no section #{section_id}"
    return match.group(0)


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/premium", "/premium/receipts/123", "/admin/premium"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 303, path
        assert page.headers["location"] == f"/login?next={path}"
    # The navigation offers Premium to signed-in people only.
    login = await client.get("/login", headers=HTML)
    assert 'href="/premium"' not in login.text


async def test_without_premium_the_page_offers_the_plans_and_what_they_bring(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    client.cookies.clear()
    plans = (await client.get("/api/v1/premium/plans")).json()
    page = await client.get("/premium", headers=page_headers(alice))
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert '<a href="/premium" aria-current="page">Premium</a>' in html
    assert '<script type="module" src="/static/js/premium/premium.js"></script>' in html
    assert 'data-live="false"' in html
    assert " hidden" not in section(html, "plans")
    assert " hidden" in section(html, "manage")
    # One Subscribe button per plan, with the plan's price beside it.
    assert [p["id"] for p in plans] == ["monthly", "yearly"]
    assert '<button type="button" class="button" data-plan="monthly"' in html
    assert ">Subscribe monthly</button>" in html
    assert ">Subscribe yearly</button>" in html
    assert "<strong>$8.00</strong> a month" in html
    assert "<strong>$84.00</strong> a year: $7.00 a month" in html
    yearly = next(p for p in plans if p["id"] == "yearly")
    assert yearly["discount_percent"] > 0
    assert f"save {yearly['discount_percent']}%" in html
    for benefit in ("verified badge", "Calls", "25,000 characters", "within an hour", "requests"):
        assert benefit in html
    assert 'href="/wallet#bank"' in html  # where to top up
    # Not an administrator: no admin link.
    assert 'href="/admin/premium"' not in html


async def test_a_subscriber_gets_the_manage_view_until_premium_has_ended(
    client: httpx.AsyncClient, users: Users, plaza: Any, clock: ManualClock
) -> None:
    alice = await users.create()
    client.cookies.clear()
    sub = await subscribe(client, alice)
    page = await client.get("/premium", headers=page_headers(alice))
    assert 'data-live="true"' in page.text
    assert " hidden" not in section(page.text, "manage")
    assert " hidden" in section(page.text, "plans")

    # Cancelled, it stays until the period ends; then the plans come back.
    cancelled = await client.delete("/api/v1/premium/subscription", headers=alice.headers)
    assert cancelled.json()["cancel_at_period_end"] is True
    page = await client.get("/premium", headers=page_headers(alice))
    assert 'data-live="true"' in page.text
    clock.set(datetime.fromisoformat(sub["current_period_end"]) + timedelta(seconds=1))
    await plaza.billing.renew_due()
    page = await client.get("/premium", headers=page_headers(alice))
    assert 'data-live="false"' in page.text
    assert " hidden" not in section(page.text, "plans")


async def test_a_receipt_prints_for_its_owner_only(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()
    bob = await users.create()
    client.cookies.clear()
    await subscribe(client, alice, "yearly")
    receipt = await only_receipt(client, alice)

    page = await client.get(f"/premium/receipts/{receipt['id']}", headers=page_headers(alice))
    assert page.status_code == 200
    html = page.text
    assert f"<title>Receipt {receipt['number']} · Plaza</title>" in html
    assert f'<dd id="receipt-number">{receipt["number"]}</dd>' in html
    assert receipt["number"] == f"PLZ-{receipt['id']}"
    assert '<dd id="receipt-plan">Premium yearly</dd>' in html
    assert '<dd id="receipt-amount">$84.00</dd>' in html
    assert f"@{alice.username}" in html
    assert "Your Plaza wallet" in html
    start = receipt["period_start"][:10]
    end = receipt["period_end"][:10]
    assert f'<time datetime="{start}' in html
    assert f'<time datetime="{end}' in html
    assert int(end[:4]) == int(start[:4]) + 1  # a year

    # Someone else's receipt, and one that doesn't exist, are the same plain 404.
    for who, path in (
        (bob, f"/premium/receipts/{receipt['id']}"),
        (alice, f"/premium/receipts/{int(receipt['id']) + 1}"),
        (alice, "/premium/receipts/not-a-number"),
        (alice, "/premium/receipts/99999999999999999999999"),
    ):
        refused = await client.get(path, headers=page_headers(who))
        assert refused.status_code == 404, path
        assert "Page not found" in refused.text
        assert "$84.00" not in refused.text


async def test_the_admin_page_is_for_administrators_only(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    admin = await users.create()
    member = await users.create()
    client.cookies.clear()
    await plaza.identity.set_admin(admin.username, True)

    page = await client.get("/admin/premium", headers=page_headers(admin))
    assert page.status_code == 200
    assert '<a href="/admin/premium" aria-current="page">Premium admin</a>' in page.text
    assert '<script type="module" src="/static/js/premium/admin.js"></script>' in page.text
    for figure in ("figure-active", "figure-cancelling", "figure-past-due", "figure-mrr"):
        assert f'id="{figure}"' in page.text
    assert 'id="past-due-rows"' in page.text

    refused = await client.get("/admin/premium", headers=page_headers(member))
    assert refused.status_code == 404
    assert 'href="/admin/premium"' not in refused.text
    assert '<a href="/premium">Premium</a>' in refused.text
    # The data behind it is refused too.
    api = await client.get("/api/v1/admin/premium", headers=member.headers)
    assert api.status_code == 403


async def test_the_wallet_history_can_show_premium_charges(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    client.cookies.clear()
    page = await client.get("/wallet", headers=page_headers(alice))
    assert '<option value="premium">Premium</option>' in page.text


async def test_the_premium_scripts_are_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/static/js/premium/premium.js",
        "/static/js/premium/admin.js",
        "/static/js/premium/receipt.js",
        "/static/js/premium/badge.js",
        "/static/css/premium.css",
    ):
        response = await client.get(path)
        assert response.status_code == 200, path
