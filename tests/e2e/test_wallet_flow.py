"""The wallet in a real browser: Alice tops up through the sandbox bank rail (which
settles at once here), pays Bob with a note; Bob, whose wallet page is already open,
sees the payment arrive live and refunds it, and Alice's page shows her balance whole
again, live too (the stream pushes payments to both parties).

Paying from a DM conversation is tested in test_messages_more.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "lantern orbit meadow 42"


@pytest.fixture
def server_settings() -> dict[str, str]:
    """The sandbox rail settles at once."""
    return {"PLAZA_SANDBOX_RAIL_DELAY_SECONDS": "0"}


async def sign_in(page: Any, username: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", name=f"Welcome, {username}")).to_be_visible()


async def test_top_up_pay_a_friend_and_the_friend_refunds(
    page: Any, second_page: Any, live_server: LiveServer
) -> None:
    with live_server.api() as http:
        for name in ("alice_pay", "bob_pay"):
            made = http.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})
            assert made.status_code == 201, made.text

    await sign_in(page, "alice_pay")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Wallet").click()
    await expect(page.get_by_role("heading", name="Wallet", exact=True)).to_be_visible()
    available = page.locator("#available-amount")
    await expect(available).to_have_text(re.compile(r"0\.00"))

    await page.get_by_label("Top up (USD)").fill("50")
    await page.get_by_role("button", name="Top up").click()
    await expect(page.locator("#topup-status")).to_have_text(re.compile(r"50\.00 added"))
    await expect(available).to_have_text(re.compile(r"50\.00"))

    # Bob's wallet is open before anything is sent to him: what follows arrives live.
    await sign_in(second_page, "bob_pay")
    await second_page.goto("/wallet")
    await expect(second_page.locator("#available-amount")).to_have_text(re.compile(r"0\.00"))

    send = page.locator("#send-form")
    await send.get_by_label("To").fill("@bob_pay")
    await send.get_by_label("Amount (USD)").fill("12.50")
    await send.get_by_label("Note").fill("pizza 🍕")
    await send.get_by_role("button", name="Send").click()
    await expect(page.locator("#send-status")).to_have_text(
        re.compile(r"Sent .*12\.50 to @bob_pay")
    )
    await expect(available).to_have_text(re.compile(r"37\.50"))
    history = page.locator("#history-list")
    await expect(history.get_by_text("Payment to @bob_pay")).to_be_visible()

    # A bad amount is refused before anything is sent, on the field itself.
    await send.get_by_label("To").fill("@bob_pay")
    await send.get_by_label("Amount (USD)").fill("1.234")
    await send.get_by_role("button", name="Send").click()
    await expect(send.get_by_label("Amount (USD)")).to_have_attribute("aria-invalid", "true")
    await expect(available).to_have_text(re.compile(r"37\.50"))

    bob_history = second_page.locator("#history-list")
    received = bob_history.locator("li", has_text="Payment from @alice_pay")
    await expect(received).to_contain_text("pizza 🍕")
    await expect(received).to_contain_text("12.50")
    await expect(second_page.locator("#available-amount")).to_have_text(re.compile(r"12\.50"))
    await received.get_by_role("button", name=re.compile("Refund")).click()
    await expect(second_page.locator("#history-status")).to_have_text("Refunded @alice_pay.")
    await expect(second_page.locator("#available-amount")).to_have_text(re.compile(r"0\.00"))
    await expect(bob_history.get_by_text("Refund to @alice_pay")).to_be_visible()

    # Alice's page was left alone: the refund reaches it live.
    await expect(available).to_have_text(re.compile(r"50\.00"))
    await expect(history.get_by_text("Refund from @bob_pay")).to_be_visible()

    # Verification lifts the limits; the details never come back to the page.
    verify = page.locator("#verify-form")
    await verify.get_by_label("Legal name").fill("Alice Example")
    await verify.get_by_label("Date of birth").fill("1990-04-01")
    await verify.get_by_label("Street address").fill("1 Main Street")
    await verify.get_by_label("City").fill("Springfield")
    await verify.get_by_label("Postal code").fill("62701")
    await verify.get_by_label("Country code").fill("us")
    await verify.get_by_role("button", name="Verify").click()
    await expect(page.locator("#verify-status")).to_have_text(re.compile("You are verified"))
    await expect(page.locator("#tier-badge")).to_have_text("Verified")
    await expect(verify).to_be_hidden()
    await expect(page.locator("#limits-text")).to_contain_text("2,500.00")
