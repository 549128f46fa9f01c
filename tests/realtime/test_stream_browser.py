"""``static/js/realtime/stream.js`` in Chromium against a live server, as every
signed-in page opens it (``layout.js``): the page gets a notification live, and after
leaving and coming back (``since`` kept in sessionStorage) it gets the one it missed,
and nothing twice."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

# Installed before any page script runs, so that no frame of the page's one stream
# (opened by layout.js, re-dispatched as DOM events) is missed.
RECORD_STREAM = """
window.streamLog = { frames: [], resyncs: [] };
document.addEventListener("plaza:stream", (event) => window.streamLog.frames.push(event.detail));
document.addEventListener("plaza:resync", (event) => window.streamLog.resyncs.push(event.detail));
"""
STREAM_OPEN = "document.documentElement.dataset.stream === 'open'"
SAVED_SINCE = "JSON.parse(sessionStorage.getItem('plaza.stream') || 'null')?.since"


def _account(server: LiveServer, username: str) -> str:
    with server.api() as api:
        created = api.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
        assert created.status_code == 201, created.text
        signed_in = api.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
        assert signed_in.status_code == 201, signed_in.text
        return str(signed_in.json()["token"])


def _follow(server: LiveServer, token: str, username: str) -> None:
    with server.api() as api:
        response = api.post(
            f"/api/v1/users/{username}/follow", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text


async def _frames_when(page: Any, check: str, what: str) -> list[dict[str, Any]]:
    """Poll the page's log until the JS expression ``check`` holds."""
    deadline = time.monotonic() + 15
    while not await page.evaluate(check):
        if time.monotonic() > deadline:
            log = await page.evaluate("window.streamLog")
            pytest.fail(f"timed out waiting for {what}; the page logged {log}")
        await asyncio.sleep(0.1)
    frames: list[dict[str, Any]] = await page.evaluate("window.streamLog.frames")
    return frames


async def test_the_page_stream_gets_live_events_and_resumes_after_leaving(
    page: Any, live_server: LiveServer
) -> None:
    _account(live_server, "alice_rt")
    bob = _account(live_server, "bob_rt")
    carol = _account(live_server, "carol_rt")
    signed_in = await page.request.post(
        "/api/v1/sessions", data={"username": "alice_rt", "password": PASSWORD}
    )
    assert signed_in.status == 201
    await page.add_init_script(RECORD_STREAM)
    await page.goto("/")
    await _frames_when(page, STREAM_OPEN, "the stream to open")

    _follow(live_server, bob, "alice_rt")
    frames = await _frames_when(page, "window.streamLog.frames.length >= 1", "the notification")
    assert [(f["seq"], f["type"], f["data"]["kind"]) for f in frames] == [
        (1, "notification", "follow")
    ]
    assert await page.evaluate(SAVED_SINCE) == 1
    # The live notification also lights the unread badge in the navigation.
    badge = '.site-nav a[href="/notifications"] .nav-badge'
    await _frames_when(
        page, f"document.querySelector('{badge}')?.textContent === '1'", "the unread badge"
    )

    # Leave the page; a notification comes in meanwhile; come back.
    await page.goto("about:blank")
    _follow(live_server, carol, "alice_rt")
    await page.goto("/")
    frames = await _frames_when(page, "window.streamLog.frames.length >= 1", "the replay")
    # The replay starts after since=1 (from sessionStorage): seq 1 is not sent again.
    assert [(f["seq"], f["type"]) for f in frames] == [(2, "notification")]
    assert await page.evaluate("window.streamLog.resyncs") == []
    assert await page.evaluate(SAVED_SINCE) == 2
