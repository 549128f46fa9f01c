"""What a person does with their account in a real browser: sign up, turn on an
authenticator app, sign in with it, and use a passkey instead of a password."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from playwright.async_api import expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.conftest import LiveServer, add_virtual_authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "lantern orbit meadow 42"
CONFIRM_HEADING = "Confirm it\N{RIGHT SINGLE QUOTATION MARK}s you"


async def sign_up(page: Any, username: str, password: str = PASSWORD) -> None:
    await page.goto("/signup")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {username}")).to_be_visible()


async def expire_step_up(database_url: str) -> None:
    """Make every session's last sign-in or step-up too old to allow sensitive changes."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE identity_session SET reauthenticated_at = NULL"))
    finally:
        await engine.dispose()


async def sign_in_with_password(page: Any, username: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def sign_out(page: Any) -> None:
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("status")).to_have_text("You are signed out.")


async def test_totp_enrolment_then_sign_in_with_password_and_code(page: Any) -> None:
    await sign_up(page, "alice")
    await expect(page.get_by_text("Member since")).to_be_visible()

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
    await expect(page.get_by_role("heading", name="Security settings")).to_be_visible()
    totp_section = page.locator("#totp")
    await expect(totp_section.get_by_text("Off", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Set up authenticator app").click()
    await expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = (await page.locator("#totp-secret").inner_text()).strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    totp = pyotp.TOTP(secret)
    await page.get_by_label("Code from your app").fill(totp.now())
    await page.get_by_role("button", name="Turn on").click()

    codes = page.locator("#recovery-list li")
    await expect(codes).to_have_count(10)
    recovery_codes = await codes.all_inner_texts()
    pattern = re.compile(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}")
    assert all(pattern.fullmatch(c) for c in recovery_codes), recovery_codes
    await expect(totp_section.get_by_text("On", exact=True)).to_be_visible()
    await page.get_by_role("button", name="I have saved them").click()
    await expect(codes).to_have_count(0)
    await expect(page.locator("#recovery-badge")).to_have_text("10 left")

    await sign_out(page)
    await sign_in_with_password(page, "alice")
    await expect(page.get_by_role("heading", name=CONFIRM_HEADING)).to_be_visible()
    # The enrolment used this 30-second step's code, and a code works once, so use
    # the next step's (the server accepts one step of clock skew).
    await page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    await page.get_by_role("button", name="Verify").click()

    await expect(page.get_by_role("heading", name="Welcome, alice")).to_be_visible()
    await expect(page.get_by_role("heading", name="Your account is protected")).to_be_visible()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
    log = page.locator("#log-list")
    await expect(log).to_contain_text("Signed in with password and authenticator app")
    await expect(log).to_contain_text("Authenticator app turned on")

    # Without the phone, a recovery code does instead, once.
    await sign_out(page)
    await sign_in_with_password(page, "alice")
    await page.get_by_role("button", name="Use a recovery code instead").click()
    await page.get_by_label("Recovery code").fill(recovery_codes[0])
    await page.get_by_role("button", name="Use recovery code").click()
    await expect(page.get_by_role("heading", name="Welcome, alice")).to_be_visible()
    await page.goto("/settings/security")
    await expect(page.locator("#recovery-badge")).to_have_text("9 left")


async def test_passkey_registration_then_passwordless_sign_in(page: Any) -> None:
    await add_virtual_authenticator(page)
    await sign_up(page, "bob")
    await page.goto("/settings/security")
    await page.get_by_label("Name for the new passkey").fill("Test laptop")
    await page.get_by_role("button", name="Add a passkey").click()
    await expect(page.locator("#passkey-status")).to_have_text("Passkey “Test laptop” added.")
    await expect(page.locator("#passkey-list")).to_contain_text("Test laptop")
    await expect(page.locator("#passkey-badge")).to_have_text("1 passkey")
    # The first factor comes with recovery codes, shown once.
    await expect(page.locator("#recovery-list li")).to_have_count(10)
    await page.get_by_role("button", name="I have saved them").click()
    await expect(page.locator("#recovery-codes")).to_be_hidden()

    await page.get_by_role("button", name="Rename passkey Test laptop").click()
    await page.get_by_label("New name for “Test laptop”").fill("Work laptop")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#passkey-list")).to_contain_text("Work laptop")

    # The passkey is now bob's second factor after his password...
    await sign_out(page)
    await sign_in_with_password(page, "bob")
    await expect(page.get_by_role("heading", name=CONFIRM_HEADING)).to_be_visible()
    await expect(page.get_by_label("Code from your authenticator app")).to_be_hidden()
    await page.get_by_role("button", name="Use a passkey").click()
    await expect(page.get_by_role("heading", name="Welcome, bob")).to_be_visible()

    # ...and enough on its own, without the password.
    await sign_out(page)
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page.get_by_role("heading", name="Welcome, bob")).to_be_visible()

    await page.goto("/settings/security")
    await expect(page.locator("#passkey-list")).to_contain_text("Last used")
    await expect(page.locator("#device-list")).to_contain_text("with passkey")
    await expect(page.locator("#log-list")).to_contain_text(
        "Signed in with a passkey “Work laptop”"
    )


async def test_mistakes_are_shown_and_nothing_signs_in(page: Any, live_server: LiveServer) -> None:
    # A weak password is refused on its field, and the alert says why.
    await page.goto("/signup")
    await page.get_by_label("Username").fill("carol")
    await page.get_by_label("Password", exact=True).fill("password")
    await page.get_by_role("button", name="Create account").click()
    alert = page.locator("#signup-error")
    await expect(alert).to_contain_text("too common")
    password = page.get_by_label("Password", exact=True)
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_have_accessible_description(re.compile("too common"))
    await expect(password).to_be_focused()
    await expect(page).to_have_url(re.compile(r"/signup$"))

    # Carol gets an authenticator app through the API; then a wrong code in the
    # browser is refused and leaves her signed out.
    with live_server.api() as http:
        created = http.post("/api/v1/accounts", json={"username": "carol", "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = http.post(
            "/api/v1/sessions", json={"username": "carol", "password": PASSWORD}
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        secret = http.post("/api/v1/me/totp", headers=auth).json()["secret"]
        confirmed = http.post(
            "/api/v1/me/totp/confirm", headers=auth, json={"code": pyotp.TOTP(secret).now()}
        )
        assert confirmed.status_code == 200, confirmed.text

        unknown = http.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"

    await page.goto("/settings/security")
    await expect(page).to_have_url(re.compile(r"/login\?next=/settings/security$"))
    await page.get_by_label("Username").fill("carol")
    await page.get_by_label("Password").fill("not her password")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#login-error")).to_have_text(re.compile("wrong", re.I))

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    code = page.get_by_label("Code from your authenticator app")
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    await code.fill(wrong)
    await page.get_by_role("button", name="Verify").click()
    await expect(page.locator("#mfa-error")).to_have_text(re.compile("code is wrong", re.I))
    await expect(code).to_be_focused()
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    assert (await page.request.get("/api/v1/me")).status == 401
    await page.goto("/settings/security")
    await expect(page).to_have_url(re.compile(r"/login\?next=/settings/security$"))

    await page.goto("/no-such-page")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


async def test_a_stale_session_confirms_with_the_password_before_changing_it(
    page: Any, database_url: str
) -> None:
    await sign_up(page, "dave")
    await page.goto("/settings/security")
    # Ten minutes later, the sign-in no longer counts as a fresh check.
    await expire_step_up(database_url)

    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_label("New password").fill("quiet harbour violet 7")
    await page.get_by_role("button", name="Change password").click()
    prompt = page.get_by_role("form", name=CONFIRM_HEADING)
    await expect(prompt).to_be_visible()
    await expect(prompt.get_by_label("Your password")).to_be_focused()
    await prompt.get_by_label("Your password").fill("not my password")
    await prompt.get_by_role("button", name="Confirm").click()
    await expect(prompt.get_by_role("alert")).to_have_text(re.compile("wrong password", re.I))

    await prompt.get_by_label("Your password").fill(PASSWORD)
    await prompt.get_by_role("button", name="Confirm").click()
    await expect(page.locator("#password-status")).to_have_text(
        "Password changed. Your other devices were signed out."
    )
    await expect(prompt).to_be_hidden()
    await expect(page.locator("#log-list")).to_contain_text("Password changed")
