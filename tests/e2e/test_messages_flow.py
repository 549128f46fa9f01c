"""Direct messages in two real browsers.

Alice starts a conversation with Bob, who does not follow her, so it waits in his
Requests tab (its badge lights up live) until he accepts it. Then they chat in real
time: messages, the typing indicator, "Seen", a reaction, an edit, a delete for
everyone and a photo uploaded with a progress bar all reach the other side live.

Then Bob's stream socket is closed and his reconnects fail for a while (Chromium's
offline emulation does not close an open WebSocket, so the test does it through a
wrapper of WebSocket); Alice sends several messages; when Bob's connection is back
every one of them is on his page exactly once, in order, although both the stream's
replay and the page's HTTP catch-up brought them.
"""

from __future__ import annotations

import asyncio
import io
import random
import re
import time
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "lantern orbit meadow 42"

# Installed before the page's scripts: keeps every WebSocket the page opens, so that the
# test can close the stream's socket as a dropped connection would, and while
# `__streamDown` is set, points new sockets at a path that refuses them, so every
# reconnect fails until the test lets them through.
TRACK_SOCKETS = """
const NativeWebSocket = window.WebSocket;
window.__sockets = [];
window.__streamDown = false;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, ...rest) {
    const held = String(url).replace("/api/v1/stream", "/api/v1/down");
    super(window.__streamDown ? held : url, ...rest);
    window.__sockets.push(this);
  }
};
window.__frames = [];
document.addEventListener("plaza:stream", (event) => window.__frames.push(event.detail));
"""
DROP_STREAM = """() => {
  window.__streamDown = true;
  window.__sockets.forEach((socket) => socket.close());
}"""
# What the browser does when the network comes back: stream.js reconnects on "online".
RESTORE_STREAM = """() => {
  window.__streamDown = false;
  window.dispatchEvent(new Event("online"));
}"""
STREAM_OPEN = "document.documentElement.dataset.stream === 'open'"


@pytest.fixture
def server_settings() -> dict[str, str]:
    """Small upload chunks, so that a photo takes several requests and shows progress."""
    return {"PLAZA_MEDIA_CHUNK_BYTES": "65536"}


def _accounts(server: LiveServer, *names: str) -> dict[str, str]:
    tokens = {}
    with server.api() as http:
        for name in names:
            made = http.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})
            assert made.status_code == 201, made.text
            signed_in = http.post("/api/v1/sessions", json={"username": name, "password": PASSWORD})
            assert signed_in.status_code == 201, signed_in.text
            tokens[name] = str(signed_in.json()["token"])
    return tokens


async def _sign_in(page: Any, username: str) -> None:
    signed_in = await page.request.post(
        "/api/v1/sessions", data={"username": username, "password": PASSWORD}
    )
    assert signed_in.status == 201, await signed_in.text()


async def _until(page: Any, check: str, what: str, seconds: float = 15) -> None:
    """Poll the JS expression ``check`` on ``page`` until it holds."""
    deadline = time.monotonic() + seconds
    while not await page.evaluate(check):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _noise_png(size: int = 300) -> bytes:
    """A PNG that does not compress much (about 270 KB: several 64 KiB chunks)."""
    rng = random.Random(4)
    image = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _message(page: Any, text: str) -> Any:
    return page.locator("#dm-messages > li", has_text=text)


async def _send(page: Any, text: str) -> None:
    """Type ``text`` and press Enter; wait until the server has stored it."""
    box = page.get_by_role("textbox", name="Message", exact=True)
    await box.fill(text)
    await box.press("Enter")
    await expect(_message(page, text)).to_have_attribute("data-state", "sent")


async def test_two_people_chat_live_and_a_reconnect_shows_every_message_once(
    page: Any, second_page: Any, live_server: LiveServer
) -> None:
    alice, bob = page, second_page
    _accounts(live_server, "alice_dm", "bob_dm")
    await _sign_in(alice, "alice_dm")
    await _sign_in(bob, "bob_dm")
    await bob.add_init_script(TRACK_SOCKETS)

    # Bob waits on his inbox; Alice's first message is a request (he doesn't follow her).
    await bob.goto("/messages")
    await expect(bob.get_by_role("heading", name="Messages", exact=True)).to_be_visible()
    await _until(bob, STREAM_OPEN, "Bob's stream")

    await alice.goto("/messages")
    await alice.get_by_label("To").fill("@bob_dm")
    await alice.get_by_role("button", name="Start conversation").click()
    await expect(alice).to_have_url(re.compile(r"/messages/\d+$"))
    conversation_url = alice.url
    await _until(alice, STREAM_OPEN, "Alice's stream")
    await _send(alice, "Hi Bob!")

    requests_tab = bob.get_by_role("link", name=re.compile(r"^Requests"))
    await expect(requests_tab.locator(".nav-badge")).to_have_text("1")
    await expect(bob.locator('.site-nav a[href="/messages"] .nav-badge')).to_have_text("1")
    await requests_tab.click()
    await bob.get_by_role("link", name=re.compile("alice_dm")).click()
    await expect(bob).to_have_url(conversation_url)
    request = bob.get_by_role("region", name="Message request")
    await expect(request).to_contain_text("@alice_dm wants to message you")
    await expect(_message(bob, "Hi Bob!")).to_be_visible()
    await request.get_by_role("button", name="Accept").click()
    await expect(request).to_be_hidden()
    await bob.goto("/messages")
    await expect(bob.get_by_role("link", name=re.compile("alice_dm"))).to_be_visible()
    await bob.goto(conversation_url)
    await _until(bob, STREAM_OPEN, "Bob's stream")

    # Live in both directions; Bob's open page reads Alice's message: "Seen".
    await _send(alice, "Are you there?")
    await expect(_message(bob, "Are you there?")).to_be_visible()
    await expect(_message(alice, "Are you there?").locator(".dm-msg__seen")).to_have_text("Seen")

    # Bob types: Alice sees it; his message then replaces the indicator.
    await bob.get_by_role("textbox", name="Message", exact=True).press_sequentially("Hey Ali")
    await expect(alice.locator("#dm-typing")).to_have_text("bob_dm is typing…")
    await bob.get_by_role("textbox", name="Message", exact=True).fill("Hey Alice")
    await bob.get_by_role("textbox", name="Message", exact=True).press("Enter")
    await expect(_message(alice, "Hey Alice")).to_be_visible()
    await expect(alice.locator("#dm-typing")).to_have_text("")

    # A reaction.
    await _message(alice, "Hey Alice").get_by_role("button", name="React", exact=True).click()
    await alice.get_by_role("button", name="React with 👍").click()
    await expect(
        _message(bob, "Hey Alice").get_by_role("button", name=re.compile(r"^👍, 1 reaction"))
    ).to_be_visible()

    # A reply quotes the message it answers.
    await _message(alice, "Hey Alice").get_by_role("button", name="Reply", exact=True).click()
    await _send(alice, "Good to hear")
    quote = _message(bob, "Good to hear").locator(".dm-msg__reply")
    await expect(quote).to_contain_text("Replying to you")
    await expect(quote).to_contain_text("Hey Alice")

    # An edit, and a delete for everyone.
    await _message(alice, "Are you there?").get_by_role("button", name="Edit", exact=True).click()
    editor = alice.get_by_role("textbox", name="Edit message")
    await editor.fill("Are you there now?")
    await editor.press("Enter")
    edited = _message(bob, "Are you there now?")
    await expect(edited).to_be_visible()
    await expect(edited.locator(".dm-msg__edited")).to_have_text("edited")

    await _message(alice, "Hi Bob!").get_by_role("button", name="Delete", exact=True).click()
    await alice.get_by_role("button", name="Delete for everyone").click()
    await expect(_message(alice, "Hi Bob!")).to_have_count(0)
    await expect(_message(bob, "Hi Bob!")).to_have_count(0)
    await expect(bob.get_by_text("This message was deleted.")).to_be_visible()

    # A photo: progress shows while its chunks go up, then Bob sees the image.
    progress_seen: list[str] = []

    async def slow_chunks(route: Any) -> None:
        if route.request.method == "PATCH":
            await asyncio.sleep(0.3)
            state = await alice.evaluate(
                "document.querySelector('#dm-attachments .composer__state')?.textContent"
            )
            progress_seen.append(state or "")
        await route.continue_()

    await alice.route("**/api/v1/media/uploads/*", slow_chunks)
    async with alice.expect_file_chooser() as chooser:
        await alice.get_by_role("button", name="Attach photos or video").click()
    await (await chooser.value).set_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": _noise_png()}]
    )
    await expect(alice.get_by_role("progressbar", name="Uploading photo.png")).to_be_visible()
    await expect(alice.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    await expect(alice.get_by_role("progressbar", name="photo.png uploaded")).to_be_visible()
    assert any(re.fullmatch(r"([1-9]|[1-9]\d)%", seen) for seen in progress_seen), progress_seen
    await _send(alice, "A photo")
    photo = _message(bob, "A photo").locator(".dm-msg__media img")
    await expect(photo).to_be_visible()
    await _until(
        bob,
        "[...document.querySelectorAll('.dm-msg__media img')].every((i) => i.naturalWidth > 0)",
        "the photo to load",
    )
    await alice.unroute("**/api/v1/media/uploads/*")

    # Bob's connection drops; Alice goes on writing.
    await bob.evaluate(DROP_STREAM)
    await _until(bob, "document.documentElement.dataset.stream !== 'open'", "the stream to drop")
    offline_texts = [f"While you were away {n}" for n in range(1, 6)]
    for text in offline_texts:
        await _send(alice, text)
    await asyncio.sleep(0.5)
    assert await _message(bob, "While you were away").count() == 0
    assert await bob.evaluate("document.documentElement.dataset.stream") != "open"

    catch_ups: list[str] = []
    bob.on(
        "request",
        lambda request: (
            catch_ups.append(request.url) if "/messages?after=" in request.url else None
        ),
    )
    await bob.evaluate("window.__frames.length = 0")
    await bob.evaluate(RESTORE_STREAM)
    await expect(_message(bob, "While you were away")).to_have_count(
        len(offline_texts), timeout=30_000
    )
    await _until(bob, STREAM_OPEN, "Bob's stream to reconnect")
    # Let the stream's replay and the HTTP catch-up both finish before counting.
    await asyncio.sleep(1.5)
    shown = await bob.evaluate(
        "[...document.querySelectorAll('#dm-messages > li')].map((li) => "
        "({id: li.dataset.messageId, state: li.dataset.state, "
        "text: li.querySelector('.dm-msg__text')?.textContent ?? ''}))"
    )
    ids = [item["id"] for item in shown]
    assert len(ids) == len(set(ids)), shown
    assert all(item["state"] == "sent" for item in shown), shown
    assert [item["text"] for item in shown if item["text"].startswith("While")] == offline_texts
    # Both ways brought the missed messages: the stream's replay and the HTTP catch-up.
    replayed = await bob.evaluate(
        "window.__frames.filter((f) => f.type === 'message.created').map((f) => f.data.text)"
    )
    assert replayed == offline_texts
    assert catch_ups, "the page did not catch up over HTTP after reconnecting"
    sent_ids = await alice.evaluate(
        "[...document.querySelectorAll('#dm-messages > li')].map((li) => li.dataset.messageId)"
    )
    assert ids == sent_ids
    for message_id in ids:
        selector = f'#dm-messages > li[data-message-id="{message_id}"]'
        assert await bob.locator(selector).count() == 1


async def test_history_pages_back_and_new_messages_keep_their_order(
    page: Any, live_server: LiveServer
) -> None:
    tokens = _accounts(live_server, "carol_dm", "dave_dm")
    with live_server.api() as http:
        dave = {"Authorization": f"Bearer {tokens['dave_dm']}"}
        carol = {"Authorization": f"Bearer {tokens['carol_dm']}"}
        followed = http.post("/api/v1/users/dave_dm/follow", headers=carol)
        assert followed.status_code == 200, followed.text
        made = http.post("/api/v1/conversations", json={"participants": ["carol_dm"]}, headers=dave)
        assert made.status_code in (200, 201), made.text
        conversation_id = made.json()["id"]
        for n in range(1, 46):
            sent = http.post(
                f"/api/v1/conversations/{conversation_id}/messages",
                json={"text": f"Note {n}", "client_id": f"note-{n}"},
                headers=dave,
            )
            assert sent.status_code == 201, sent.text

    await _sign_in(page, "carol_dm")
    await page.goto("/messages")
    row = page.locator(f'#conversations > li[data-conversation-id="{conversation_id}"]')
    await expect(row).to_contain_text("Note 45")
    await expect(row.locator(".nav-badge")).to_have_text("45")
    await row.get_by_role("link").click()
    await expect(_message(page, "Note 45")).to_be_visible()
    # The newest page first; older ones come on scrolling up (or "Load older messages").
    await expect(page.locator("#dm-messages > li:not(.dm-msg--system)")).to_have_count(30)
    await expect(page.get_by_role("button", name="Load older messages")).to_be_visible()
    await page.locator("#dm-scroll").evaluate("(scroller) => { scroller.scrollTop = 0; }")
    await expect(page.locator("#dm-messages > li:not(.dm-msg--system)")).to_have_count(45)
    texts = await page.locator("#dm-messages .dm-msg__text").all_text_contents()
    assert texts == [f"Note {n}" for n in range(1, 46)]
    await expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()
    # Everything was read: the Messages badge goes out.
    await expect(page.locator('.site-nav a[href="/messages"] .nav-badge')).to_be_hidden()
