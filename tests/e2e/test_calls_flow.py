"""Calls in two real browsers, with Chromium's fake camera and microphone.

Bob follows Alice and sends her a direct message, which is what Plaza's default rules
ask before she may call him; Alice holds Premium, granted by the operator's command
(``plaza admin grant-premium``) against the server's database. Alice calls Bob with
video from their conversation; Bob's page, wherever he is, rings; he answers with
video; both browsers receive and decode the other's video (``getStats``); Bob hangs
up and both screens say the call ended, with the same duration, which the call log
shows too.

And a call the rules refuse: the page says which rule, in words, by the button, before
anyone clicks it.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import expect

from tests.conftest import IN_CI
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "lantern orbit meadow 42"
# Fake devices, no permission prompt, and host candidates on a loopback-only machine.
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
STREAM_OPEN = "document.documentElement.dataset.stream === 'open'"
# The inbound video of this page's call: bytes and decoded frames so far (null: none).
INBOUND_VIDEO = """async () => {
  const pc = window.plazaCall?.pc;
  if (!pc) return null;
  let found = null;
  (await pc.getStats()).forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") {
      found = { bytes: report.bytesReceived || 0, frames: report.framesDecoded || 0 };
    }
  });
  return found;
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chromium() -> AsyncIterator[Any]:
    """This module's own Chromium, with fake media devices (the other e2e tests keep
    the shared browser without them)."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        if IN_CI:
            pytest.fail(f"Chromium is not installed at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    async_api = pytest.importorskip("playwright.async_api")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *MEDIA_ARGS], headless=True
        )
        yield browser
        await browser.close()


def _accounts(server: LiveServer, *names: str) -> dict[str, dict[str, str]]:
    """Create the accounts; returns each one's API headers."""
    headers = {}
    with server.api() as http:
        for name in names:
            made = http.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})
            assert made.status_code == 201, made.text
            signed_in = http.post("/api/v1/sessions", json={"username": name, "password": PASSWORD})
            assert signed_in.status_code == 201, signed_in.text
            headers[name] = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    return headers


def _follow(server: LiveServer, who: dict[str, str], username: str) -> None:
    with server.api() as http:
        followed = http.post(f"/api/v1/users/{username}/follow", headers=who)
        assert followed.status_code in (200, 204), followed.text


def _dm(server: LiveServer, sender: dict[str, str], recipient: str, text: str) -> str:
    """``sender`` messages ``recipient``; returns the conversation id."""
    with server.api() as http:
        started = http.post(
            "/api/v1/conversations", json={"participants": [recipient]}, headers=sender
        )
        assert started.status_code in (200, 201), started.text
        conversation_id = str(started.json()["id"])
        sent = http.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": text, "client_id": secrets.token_hex(8)},
            headers=sender,
        )
        assert sent.status_code == 201, sent.text
    return conversation_id


async def _grant_premium(database_url: str, data_dir: Path, username: str) -> None:
    """The operator's command, run against the live server's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    env |= {
        "PLAZA_DATABASE_URL": database_url,
        "PLAZA_DATA_DIR": str(data_dir),
        "PLAZA_SECRET_KEY": secrets.token_urlsafe(32),
        "PLAZA_LOG_JSON": "false",
        "PLAZA_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plaza.cli",
        "admin",
        "grant-premium",
        username,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, output.decode()
    assert f"{username} has complimentary Premium" in output.decode()


async def _sign_in(page: Any, username: str) -> None:
    signed_in = await page.request.post(
        "/api/v1/sessions", data={"username": username, "password": PASSWORD}
    )
    assert signed_in.status == 201, await signed_in.text()


async def _until(page: Any, check: str, what: str, seconds: float = 20) -> None:
    """Poll the JS expression ``check`` on ``page`` until it holds."""
    deadline = time.monotonic() + seconds
    while not await page.evaluate(check):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _video_flows(page: Any, who: str, seconds: float = 30) -> dict[str, int]:
    """Wait until the page's call receives video, then until bytes and decoded frames
    have grown since that first sample; returns the last sample."""
    deadline = time.monotonic() + seconds
    first: dict[str, int] | None = None
    while True:
        sample = await page.evaluate(INBOUND_VIDEO)
        if sample and sample["frames"] > 0:
            if first is None:
                first = sample
            elif sample["bytes"] > first["bytes"] and sample["frames"] > first["frames"]:
                return dict(sample)
        if time.monotonic() > deadline:
            pytest.fail(f"{who} received no growing video: first {first}, last {sample}")
        await asyncio.sleep(0.25)


async def test_a_video_call_from_a_conversation_connects_both_browsers_and_ends_on_both(
    page: Any, second_page: Any, live_server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    alice, bob = page, second_page
    api = _accounts(live_server, "alice_call", "bob_call")
    premium = asyncio.create_task(_grant_premium(database_url, tmp_path / "data", "alice_call"))
    # Friends: each follows the other (Bob's default call policy: people he follows),
    # and Bob has messaged Alice (the operator's default: the callee DMed first).
    _follow(live_server, api["alice_call"], "bob_call")
    _follow(live_server, api["bob_call"], "alice_call")
    conversation_id = _dm(live_server, api["bob_call"], "alice_call", "Call me when you can")
    await _sign_in(alice, "alice_call")
    await _sign_in(bob, "bob_call")
    await premium

    # Bob is somewhere else in the app; his page rings wherever he is.
    await bob.goto("/notifications")
    await _until(bob, STREAM_OPEN, "Bob's stream")

    await alice.goto(f"/messages/{conversation_id}")
    await _until(alice, STREAM_OPEN, "Alice's stream")
    await alice.get_by_role("button", name="Video call with @bob_call").click()
    panel = alice.locator("#call-panel")
    await expect(panel.locator("#call-status")).to_have_text("Ringing…")

    dialog = bob.get_by_role("dialog", name="Incoming video call")
    await expect(dialog).to_contain_text("alice_call is calling you")
    await expect(dialog.get_by_role("button", name="Answer video")).to_be_focused()
    await dialog.get_by_role("button", name="Answer video").click()
    await expect(dialog).to_have_count(0)

    for side, who in ((alice, "Alice"), (bob, "Bob")):
        await expect(side.locator("#call-panel")).to_have_attribute("data-phase", "active")
        await expect(side.locator("#call-connection")).to_have_attribute("data-state", "connected")
        await _video_flows(side, who)
    await expect(alice.locator("#call-timer")).to_have_text(re.compile(r"^\d+:\d\d$"))
    # Sound is on both ways, and either side can mute.
    await bob.get_by_role("button", name="Mute microphone").click()
    await expect(bob.get_by_role("button", name="Mute microphone")).to_have_attribute(
        "aria-pressed", "true"
    )

    await bob.get_by_role("button", name="Hang up").click()
    ended = re.compile(r"^Call ended · \d+:\d\d$")
    await expect(bob.locator("#call-status")).to_have_text(ended)
    await expect(alice.locator("#call-status")).to_have_text(ended)
    bob_says = await bob.locator("#call-status").text_content()
    assert await alice.locator("#call-status").text_content() == bob_says
    for side in (alice, bob):
        await expect(side.locator("#call-panel")).to_have_attribute("data-phase", "ended")
        # The connection is closed and the camera and microphone are released.
        assert await side.evaluate("window.plazaCall.pc.signalingState") == "closed"
    await panel.get_by_role("button", name="Close").click()
    await expect(alice.locator("#call-panel")).to_have_count(0)

    # The call log of each side, with the same duration.
    duration = bob_says.rsplit(" ", 1)[1] if bob_says else ""
    await alice.goto("/calls")
    row = alice.locator(".call-row").first
    await expect(row).to_contain_text("Outgoing video call")
    await expect(row).to_contain_text(duration)
    await expect(row.get_by_role("button", name=re.compile("^Call back"))).to_be_visible()
    await bob.goto("/calls")
    await expect(bob.locator(".call-row").first).to_contain_text("Incoming video call")
    await expect(bob.locator(".call-row").first).to_contain_text(duration)


async def test_a_call_the_rules_refuse_says_which_rule(
    page: Any, second_page: Any, live_server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    alice, carol = page, second_page
    api = _accounts(live_server, "alice_rules", "carol_rules")
    # Carol follows Alice, so her call policy lets Alice through, but she never
    # messaged Alice: the operator's prior-DM rule refuses.
    _follow(live_server, api["carol_rules"], "alice_rules")
    await _grant_premium(database_url, tmp_path / "data", "alice_rules")
    await _sign_in(alice, "alice_rules")
    await _sign_in(carol, "carol_rules")

    await alice.goto("/@carol_rules")
    await _until(alice, STREAM_OPEN, "Alice's stream")
    # Before any click, the buttons say why the rules would refuse the call (a dry run
    # of the rules), and are shown disabled but stay focusable to read the reason.
    audio = alice.get_by_role("button", name="Audio call with @carol_rules")
    refusal = alice.locator("#profile-call .call-refusal")
    await expect(refusal).to_have_text(re.compile("once they have sent you a direct message"))
    await expect(refusal).to_have_attribute("data-rule", "prior_dm_required")
    for media in ("Audio", "Video"):
        button = alice.get_by_role("button", name=f"{media} call with @carol_rules")
        await expect(button).to_have_attribute("aria-disabled", "true")
        await expect(button).to_have_accessible_description(
            re.compile("once they have sent you a direct message")
        )
    # Pressed anyway (from the keyboard), it asks again and says it out loud.
    await audio.focus()
    await alice.keyboard.press("Enter")
    await expect(refusal).to_have_attribute("role", "alert")
    await expect(refusal).to_have_text(re.compile("once they have sent you a direct message"))
    await expect(alice.locator("#call-panel")).to_have_count(0)
    assert await alice.evaluate("window.plazaCall.pc") is None

    # Carol, without Premium, may receive calls but not place them: said before a click.
    await carol.goto("/@alice_rules")
    await _until(carol, STREAM_OPEN, "Carol's stream")
    await expect(carol.locator("#profile-call .call-refusal")).to_have_text(
        re.compile("needs Plaza Premium")
    )
    await expect(
        carol.get_by_role("button", name="Video call with @alice_rules")
    ).to_have_attribute("aria-disabled", "true")

    # Carol turns calls off in her call settings: that rule comes before the DM rule.
    await carol.goto("/calls#call-settings")
    settings = carol.get_by_role("region", name="Call settings")
    await expect(settings.get_by_label("Allow calls")).to_be_checked()
    await expect(settings.get_by_label("People you follow", exact=True)).to_be_checked()
    await settings.get_by_label("Allow calls").uncheck()
    await expect(settings.get_by_label("Everyone")).to_be_disabled()
    await settings.get_by_role("button", name="Save call settings").click()
    await expect(settings.get_by_role("status")).to_have_text("Call settings saved.")
    # Alice's open page learns it when she presses the button again ...
    await audio.focus()
    await alice.keyboard.press("Enter")
    await expect(refusal).to_have_text("@carol_rules has turned calls off.")
    await expect(refusal).to_have_attribute("data-rule", "calls_enabled")
    # ... and a page loaded afterwards says it before any click.
    await alice.reload()
    await expect(refusal).to_have_text("@carol_rules has turned calls off.")
    await expect(refusal).not_to_have_attribute("role", "alert")
    await expect(audio).to_have_attribute("aria-disabled", "true")


async def test_an_audio_call_turns_into_video_and_a_call_given_up_is_missed(
    page: Any, second_page: Any, live_server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    alice, bob = page, second_page
    api = _accounts(live_server, "alice_av", "bob_av")
    premium = asyncio.create_task(_grant_premium(database_url, tmp_path / "data", "alice_av"))
    _follow(live_server, api["bob_av"], "alice_av")
    _dm(live_server, api["bob_av"], "alice_av", "Ring me")
    await _sign_in(alice, "alice_av")
    await _sign_in(bob, "bob_av")
    await premium
    await bob.goto("/")
    await _until(bob, STREAM_OPEN, "Bob's stream")
    await alice.goto("/@bob_av")
    await _until(alice, STREAM_OPEN, "Alice's stream")

    # An audio call from the profile, answered with sound only: no video either way.
    await alice.get_by_role("button", name="Audio call with @bob_av").click()
    await (
        bob.get_by_role("dialog", name="Incoming audio call")
        .get_by_role("button", name="Answer audio")
        .click()
    )
    for side in (alice, bob):
        await expect(side.locator("#call-connection")).to_have_attribute("data-state", "connected")
        await expect(side.get_by_role("button", name="Camera")).to_have_attribute(
            "aria-pressed", "false"
        )
    assert await bob.evaluate(INBOUND_VIDEO) is None

    # Alice turns her camera on: the call renegotiates and becomes a video call.
    await alice.get_by_role("button", name="Camera").click()
    await expect(alice.get_by_role("button", name="Camera")).to_have_attribute(
        "aria-pressed", "true"
    )
    await _video_flows(bob, "Bob")
    await expect(bob.locator("#call-panel-title")).to_have_text("Video call with @alice_av")
    await expect(bob.locator("#call-placeholder")).to_be_hidden()
    # And off again: Bob sees that her camera is off.
    await alice.get_by_role("button", name="Camera").click()
    await expect(bob.locator("#call-placeholder")).to_contain_text("Camera off")
    await alice.get_by_role("button", name="Hang up").click()
    await expect(bob.locator("#call-status")).to_have_text(re.compile(r"^Call ended · "))
    await bob.locator("#call-panel").get_by_role("button", name="Close").click()

    # Alice calls again and gives up before Bob answers: a missed call for him.
    await alice.locator("#call-panel").get_by_role("button", name="Close").click()
    await alice.get_by_role("button", name="Video call with @bob_av").click()
    await expect(bob.get_by_role("dialog", name="Incoming video call")).to_be_visible()
    await alice.get_by_role("button", name="Hang up").click()
    await expect(alice.locator("#call-status")).to_have_text("Call cancelled.")
    await expect(bob.get_by_role("dialog")).to_have_count(0)
    await expect(bob.locator("#call-note")).to_contain_text("Missed call from @alice_av")
    await expect(
        bob.locator("#call-note").get_by_role("button", name=re.compile("^Call back"))
    ).to_be_visible()
    await bob.goto("/notifications")
    await expect(bob.get_by_text("tried to call you")).to_be_visible()
    await bob.goto("/calls?tab=missed")
    missed = bob.locator(".call-row")
    await expect(missed).to_have_count(1)
    await expect(missed).to_contain_text("Incoming video call · Missed")
