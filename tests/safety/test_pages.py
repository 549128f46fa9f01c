"""The safety pages: content settings for everyone signed in, moderation for
administrators only (and its navigation link with it)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Users

HTML = {"Accept": "text/html"}


async def test_content_settings_page_shows_the_current_choice(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()  # signs in: the client now holds alice's cookie
    await client.patch(
        "/api/v1/me/settings", json={"sensitive_media": "hide"}, headers=alice.headers
    )
    page = await client.get("/settings/content", headers=HTML)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert 'id="sensitive-hide" name="sensitive_media" value="hide"' in html
    assert 'value="hide" aria-describedby="sensitive-hide-hint" checked' in html
    assert "/static/js/safety/content.js" in html
    assert 'href="/settings/content"' in html
    client.cookies.clear()
    signed_out = await client.get("/settings/content", headers=HTML)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/login?next=/settings/content"


async def test_the_moderation_page_is_for_administrators_only(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    mod = await users.create()
    await plaza.identity.set_admin(mod.username, True)
    page = await client.get("/moderation", headers=HTML)
    assert page.status_code == 200
    assert 'href="/moderation"' in page.text
    assert "/static/js/safety/moderation.js" in page.text
    assert 'data-categories="adult arms crime' in page.text
    await users.create()  # a second account signs in, replacing the cookie
    refused = await client.get("/moderation", headers=HTML)
    assert refused.status_code == 404
    home = await client.get("/settings/content", headers=HTML)
    assert 'href="/moderation"' not in home.text


async def test_the_safety_scripts_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/static/js/safety/content.js", "/static/js/safety/moderation.js"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]
