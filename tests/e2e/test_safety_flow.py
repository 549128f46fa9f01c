"""Safety in a real browser: a moderator sees reported posts grouped in the queue,
applies a label, finds the decision in the audit log, and a viewer changes what
they see of sensitive media."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "lantern orbit meadow 42"


def account(api: httpx.Client, username: str) -> dict[str, str]:
    """Sign up through the API; returns the bearer header."""
    assert (
        api.post("/api/v1/accounts", json={"username": username, "password": PASSWORD}).status_code
        == 201
    )
    signed = api.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {signed.json()['token']}"}


async def make_admin(database_url: str, username: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE identity_user SET is_admin = true WHERE username_key = :u"),
                {"u": username},
            )
    finally:
        await engine.dispose()


async def sign_in(page: Any, username: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def test_a_moderator_resolves_reports_from_the_queue(
    page: Any, live_server: LiveServer, database_url: str
) -> None:
    with live_server.api() as api:
        author = account(api, "alice_safety")
        post = api.post("/api/v1/posts", json={"text": "a quiet walk"}, headers=author)
        assert post.status_code == 201, post.text
        post_id = post.json()["id"]
        for name in ("bob_safety", "carol_safety"):
            reported = api.post(
                "/api/v1/reports",
                json={"subject": "post", "subject_id": post_id, "category": "spam"},
                headers=account(api, name),
            )
            assert reported.status_code == 201, reported.text
        account(api, "mod_safety")
    await make_admin(database_url, "mod_safety")

    await sign_in(page, "mod_safety")
    nav = page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Moderation").click()
    await expect(page.get_by_role("heading", name="Moderation", exact=True)).to_be_visible()
    group = page.get_by_role("list", name="Reported content").get_by_role("listitem").first
    await expect(group.get_by_role("heading", name=f"post {post_id}")).to_be_visible()
    await expect(group.get_by_text("2 report(s): spam \N{MULTIPLICATION SIGN} 2.")).to_be_visible()

    decide = group.get_by_role("form", name=f"Decide on post {post_id}")
    await decide.get_by_label("Category").select_option("adult")
    await decide.get_by_label("Risk").select_option("high")
    await decide.get_by_label("Note").fill("explicit picture")
    await decide.get_by_role("button", name="Apply label").click()
    await expect(page.locator("#queue-status-text")).to_have_text(
        f"2 report(s) on post {post_id} resolved."
    )
    await expect(page.get_by_role("list", name="Reported content")).to_have_text("Nothing here.")
    audit = page.get_by_role("list", name=re.compile("^Moderators"))
    await expect(audit.get_by_role("listitem").first).to_contain_text(
        f"reports.resolved on post {post_id} — explicit picture"
    )

    # The decision shows on the post itself.
    with live_server.api() as api:
        seen = api.get(f"/api/v1/posts/{post_id}", headers=author).json()
    assert seen["labels"] == [{"category": "adult", "risk": "high", "source": "moderator"}]
    assert seen["sensitive"] is True


async def test_a_viewer_chooses_how_sensitive_media_is_shown(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.api() as api:
        account(api, "dora_safety")
    await sign_in(page, "dora_safety")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Moderation")).to_have_count(0)
    await nav.get_by_role("link", name="Content").click()
    await expect(page.get_by_role("radio", name="Warn me first")).to_be_checked()
    await page.get_by_role("radio", name="Hide it").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_have_text(
        "Saved. Posts with sensitive media will be hidden."
    )
    await page.reload()
    await expect(page.get_by_role("radio", name="Hide it")).to_be_checked()
