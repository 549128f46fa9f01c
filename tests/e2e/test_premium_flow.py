"""Premium in a real browser, with a controlled clock.

Alice and Bob sign up; Bob follows Alice and messages her, which is what Plaza's
default rules ask before she may call him. Alice's call is refused: placing calls needs
Premium, and the page says so, with a link to get it. On /premium her empty wallet is
refused with a way to top up; she tops up, subscribes monthly, and gets the verified
badge (her profile, her post, Bob's ringing screen). Her call now rings on Bob's page;
she hangs up. She cancels (Premium stays until the period ends, and the page says
until when). Then the server's clock jumps 32 days (``PLAZA_CLOCK_OFFSET_FILE``): the
open page learns live that Premium ended, the badge is gone, the call is refused again,
and the charge is in her wallet history with its receipt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_calls_flow import (  # noqa: F401 - chromium: the fake-media browser
    PASSWORD,
    STREAM_OPEN,
    _dm,
    _follow,
    _until,
    chromium,
)
from tests.e2e.test_identity_flows import sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

DAY = 86_400
CLOCK_FILE = "clock-offset"
PREMIUM_NEEDED = re.compile("needs Plaza Premium")


@pytest.fixture
def server_settings(tmp_path: Path) -> dict[str, str]:
    """The server's clock runs as far ahead as the test writes in its file; top-ups
    settle at once; renewals are looked for every half second; sessions outlive the
    month the test skips."""
    return {
        "PLAZA_CLOCK_OFFSET_FILE": str(tmp_path / CLOCK_FILE),
        "PLAZA_SANDBOX_RAIL_DELAY_SECONDS": "0",
        "PLAZA_PREMIUM_RENEWAL_INTERVAL_SECONDS": "0.5",
        "PLAZA_SESSION_IDLE_SECONDS": str(365 * DAY),
        "PLAZA_SESSION_ABSOLUTE_SECONDS": str(365 * DAY),
    }


def _bearer(server: LiveServer, username: str) -> dict[str, str]:
    """API headers of an account made in the browser (for setup not under test)."""
    with server.api() as http:
        signed_in = http.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
        assert signed_in.status_code == 201, signed_in.text
        return {"Authorization": f"Bearer {signed_in.json()['token']}"}


async def _call_refused_for_premium(alice: Any, callee: str) -> None:
    """On ``callee``'s profile the call buttons say, before any click, that Premium is
    needed; pressed anyway, the page says it out loud and places no call."""
    await alice.goto(f"/@{callee}")
    refusal = alice.locator("#profile-call .call-refusal")
    await expect(refusal).to_have_text(PREMIUM_NEEDED)
    await expect(refusal).to_have_attribute("data-rule", "premium_required")
    audio = alice.get_by_role("button", name=f"Audio call with @{callee}")
    await expect(audio).to_have_attribute("aria-disabled", "true")
    # Pressed anyway (from the keyboard: it is marked disabled but stays focusable).
    await audio.focus()
    await alice.keyboard.press("Enter")
    await expect(refusal).to_have_attribute("role", "alert")
    await expect(refusal).to_have_text(PREMIUM_NEEDED)
    await expect(alice.locator("#call-panel")).to_have_count(0)


async def test_subscribe_call_cancel_and_lose_premium_when_the_period_ends(
    page: Any, second_page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    alice, bob = page, second_page
    await sign_up(alice, "alice_prem")
    await sign_up(bob, "bob_prem")
    bob_api = _bearer(live_server, "bob_prem")
    # Bob takes calls from people he follows (his default), and has messaged Alice
    # (the operator's default: the callee writes first).
    _follow(live_server, bob_api, "alice_prem")
    _dm(live_server, bob_api, "alice_prem", "Call me when you can")
    with live_server.api() as http:
        posted = http.post(
            "/api/v1/posts",
            json={"text": "Trying out Plaza"},
            headers=_bearer(live_server, "alice_prem"),
        )
        assert posted.status_code == 201, posted.text
    # Bob is somewhere else in the app: a call rings wherever he is.
    await bob.goto("/notifications")
    await _until(bob, STREAM_OPEN, "Bob's stream")

    # Without Premium, the call is refused, and the refusal says where to get it.
    await _call_refused_for_premium(alice, "bob_prem")
    await (
        alice.locator("#profile-call .call-refusal").get_by_role("link", name="Get Premium").click()
    )
    await expect(alice.get_by_role("heading", name="Plaza Premium", level=1)).to_be_visible()

    # An empty wallet: subscribing is refused, with the way to a top-up.
    plans = alice.get_by_role("region", name="Choose a plan")
    await expect(plans.locator("#wallet-available")).to_have_text(re.compile(r"0\.00"))
    await plans.get_by_role("button", name="Subscribe monthly").click()
    refused = alice.locator("#plans-error")
    await expect(refused).to_contain_text("Not enough money in your wallet")
    await expect(refused).to_contain_text(re.compile(r"costs (US)?\$8\.00"))
    await refused.get_by_role("link", name="Top up your wallet").click()
    # The balance is drawn by the page's module: once it shows, the form is wired.
    await expect(alice.locator("#available-amount")).to_have_text(re.compile(r"0\.00"))
    await alice.get_by_label("Top up (USD)").fill("20")
    await alice.get_by_role("button", name="Top up").click()
    await expect(alice.locator("#topup-status")).to_have_text(re.compile(r"20\.00 added"))

    # Subscribe monthly: $8 from the wallet, and the page turns into the manage view.
    nav = alice.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Premium", exact=True).click()
    await _until(alice, STREAM_OPEN, "Alice's stream")
    await expect(plans.locator("#wallet-available")).to_have_text(re.compile(r"20\.00"))
    await plans.get_by_role("button", name="Subscribe monthly").click()
    await expect(alice.locator("#premium-status")).to_have_text(re.compile("Welcome to Premium"))
    manage = alice.get_by_role("region", name="Your Premium")
    await expect(manage).to_be_visible()
    await expect(plans).to_be_hidden()
    await expect(manage.locator("#sub-badge")).to_have_text("Active")
    await expect(manage.locator("#sub-plan")).to_have_text(
        re.compile(r"^Premium monthly, (US)?\$8\.00 a month$")
    )
    await expect(manage.locator("#sub-next")).to_have_text(
        re.compile(r"^(US)?\$8\.00 on \d+ \w+ \d{4}$")
    )
    receipts = alice.locator("#receipt-list")
    await expect(receipts.locator("li")).to_have_count(1)
    await expect(receipts).to_contain_text(re.compile(r"PLZ-\d+"))
    await expect(receipts).to_contain_text(re.compile(r"\$8\.00"))

    # The badge: on her profile and on her post.
    await alice.goto("/@alice_prem")
    await expect(alice.locator("#profile-name .verified")).to_be_visible()
    post = alice.get_by_label("Posts of @alice_prem").locator(
        "article.post", has_text="Trying out Plaza"
    )
    await expect(post.get_by_role("img", name="Verified account")).to_be_visible()

    # The call that was refused now rings on Bob's page, with her badge; she hangs up.
    await alice.goto("/@bob_prem")
    audio = alice.get_by_role("button", name="Audio call with @bob_prem")
    await expect(audio).not_to_have_attribute("aria-disabled", "true")
    await audio.click()
    ringing = bob.get_by_role("dialog", name="Incoming audio call")
    await expect(ringing).to_contain_text("alice_prem")
    await expect(ringing.get_by_role("img", name="Verified account")).to_be_visible()
    await expect(alice.locator("#call-status")).to_have_text("Ringing…")
    await alice.get_by_role("button", name="Hang up").click()
    await expect(alice.locator("#call-status")).to_have_text("Call cancelled.")
    await expect(bob.get_by_role("dialog")).to_have_count(0)

    # She cancels: Premium stays until the end of the period she paid for.
    await alice.goto("/premium")
    await _until(alice, STREAM_OPEN, "Alice's stream")
    await manage.get_by_role("button", name="Cancel Premium").click()
    await manage.get_by_role("button", name="Yes, cancel Premium").click()
    await expect(alice.locator("#premium-status")).to_have_text(
        re.compile(r"^Premium is cancelled: it stays on until \d+ \w+ \d{4}\.$")
    )
    await expect(manage.locator("#sub-badge")).to_have_text(re.compile(r"^Ends \d+ \w+ \d{4}$"))
    await expect(manage.locator("#sub-next-label")).to_have_text("Premium until")
    await expect(manage.get_by_role("button", name="Resume Premium")).to_be_focused()
    await expect(manage.get_by_role("button", name="Cancel Premium")).to_be_hidden()
    with live_server.api() as http:
        still = http.get("/api/v1/me/entitlements", headers=_bearer(live_server, "alice_prem"))
        assert still.json()["premium"] is True

    # A month and a day later (on the server's clock) the period is over. The open
    # page learns it live: the scheduler ends the subscription and the stream says so.
    (tmp_path / CLOCK_FILE).write_text(str(32 * DAY))
    await expect(plans).to_be_visible(timeout=20_000)
    await expect(manage).to_be_hidden()
    await expect(alice.locator("#ended-note")).to_have_text(
        re.compile(r"^Your Premium ended on \d+ \w+ \d{4}\. Subscribe again any time\.$")
    )
    await alice.reload()
    await expect(plans).to_be_visible()
    await expect(alice.locator("#ended-note")).to_be_visible()

    # The badge is gone, and the call is refused again.
    await alice.goto("/@alice_prem")
    await expect(post).to_be_visible()
    await expect(alice.locator("#profile-name .verified")).to_have_count(0)
    await expect(post.get_by_role("img", name="Verified account")).to_have_count(0)
    await _call_refused_for_premium(alice, "bob_prem")

    # The charge is in the wallet history, with its receipt.
    await alice.goto("/wallet")
    await expect(alice.locator("#available-amount")).to_have_text(re.compile(r"12\.00"))
    charge = alice.locator("#history-list li", has_text="Plaza Premium")
    await expect(charge).to_have_count(1)
    await expect(charge).to_contain_text("Plaza Premium (monthly)")
    await expect(charge).to_contain_text(re.compile("\N{MINUS SIGN}" r"(US)?\$8\.00"))
    await charge.get_by_role("link", name=re.compile("^Receipt")).click()
    await expect(
        alice.get_by_role("heading", name=re.compile(r"^Receipt PLZ-\d+$"))
    ).to_be_visible()
    await expect(alice.locator("#receipt-plan")).to_have_text("Premium monthly")
    await expect(alice.locator("#receipt-amount")).to_have_text("$8.00")
