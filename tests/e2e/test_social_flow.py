"""Posting with media in a real browser: two people follow each other, one posts an
image and a video through the composer, the other sees both and plays the video
(served in byte ranges), and after a block the posts are gone for them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import expect

from plaza.social import text as post_text

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "lantern orbit meadow 42"
# Emoji before the entities: their offsets count code points, the page's strings
# count UTF-16 units, so a wrong conversion would link the wrong characters.
IMAGE_TEXT = (
    "🌅👨‍👩‍👧 Golden hour at the pier #golden with @bob_e2e, more at https://example.org/pier."
)
COMPOSE_LABEL = "What\N{RIGHT SINGLE QUOTATION MARK}s happening?"
VIDEO_TEXT = "Two seconds of test pattern 📺 #golden"


def make_jpeg(path: Path) -> Path:
    image = Image.new("RGB", (320, 240), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    for x in range(0, 320, 20):
        draw.rectangle((x, 0, x + 9, 240), fill=(240, 160 + x % 80, 40))
    image.save(path, "JPEG", quality=85)
    return path


def make_mp4(path: Path) -> Path:
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            "-movflags", "+faststart", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


async def poll(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15) -> None:
    """Wait until ``check()`` holds (browser state that ``expect`` cannot express)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def sign_up(page: Any, username: str) -> None:
    await page.goto("/signup")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {username}")).to_be_visible()
    await expect(page.get_by_role("feed", name="Home timeline")).to_have_attribute(
        "aria-busy", "false"
    )


async def follow(page: Any, username: str) -> None:
    await page.goto(f"/@{username}")
    await page.get_by_role("button", name="Follow", exact=True).click()
    await expect(page.get_by_role("button", name="Unfollow", exact=True)).to_be_visible()


async def attach(page: Any, path: Path, alt_text: str | None) -> Any:
    """Choose a file in the composer; wait for its preview and finished upload."""
    composer = page.get_by_role("form", name="New post")
    items = composer.get_by_role("list", name="Attached media").get_by_role("listitem")
    before = await items.count()
    await composer.locator("input[type=file]").set_input_files(str(path))
    item = items.nth(before)
    preview = item.locator(".composer__preview")
    await expect(preview).to_be_visible()
    assert (await preview.get_attribute("src") or "").startswith("blob:")
    if path.suffix == ".jpg":
        # The preview shows the chosen picture itself, decoded.
        await poll(
            lambda: preview.evaluate("img => img.complete && img.naturalWidth === 320"),
            "the image preview to decode",
        )
    progress = item.get_by_role("progressbar")
    await expect(item).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(progress).to_have_attribute("value", "100")
    assert await progress.evaluate("p => p.value === p.max")
    await expect(item.get_by_text("Uploaded", exact=True)).to_be_visible()
    if alt_text is not None:
        await item.get_by_label(re.compile("^(Alt text|Description) for")).fill(alt_text)
    return composer


async def publish(page: Any, composer: Any, text: str) -> None:
    await composer.get_by_label(COMPOSE_LABEL).fill(text)
    post_button = composer.get_by_role("button", name="Post", exact=True)
    await expect(post_button).to_be_enabled()
    await post_button.click()
    await expect(page.get_by_role("status").filter(has_text="Your post was sent.")).to_be_attached()
    await expect(composer.get_by_label(COMPOSE_LABEL)).to_have_value("")


async def test_counter_measures_like_the_server(page: Any) -> None:
    await sign_up(page, "counter_e2e")
    composer = page.get_by_role("form", name="New post")
    box = composer.get_by_label(COMPOSE_LABEL)
    counter = composer.locator(".composer__counter")
    samples = [
        "e\u0301te\u0301 👨‍👩‍👧‍👦 🇫🇷",
        "read https://example.com/a/very/long/path/that/counts/as/twenty-three?x=1 now.",
        "links: example.com, docs.python.org/3/ and (https://en.wikipedia.org/wiki/Foo_(bar))",
        "x" * 290,
    ]
    for sample in samples:
        await box.fill(sample)
        expected = post_text.MAX_LENGTH - post_text.weighted_length(sample)
        await expect(counter).to_have_text(str(expected))
    await expect(counter).to_have_class(re.compile("composer__counter--over"))
    await expect(composer.get_by_role("button", name="Post", exact=True)).to_be_disabled()


async def test_media_posts_reach_a_follower_and_leave_after_a_block(
    page: Any, second_page: Any, tmp_path: Path
) -> None:
    alice, bob = page, second_page
    image = make_jpeg(tmp_path / "pier.jpg")
    video = make_mp4(tmp_path / "pattern.mp4")

    await sign_up(alice, "alice_e2e")
    await sign_up(bob, "bob_e2e")
    await follow(alice, "bob_e2e")
    await follow(bob, "alice_e2e")

    # Alice posts a picture with alt text, then a video.
    await alice.goto("/")
    composer = await attach(alice, image, "Orange stripes over a blue sea")
    await publish(alice, composer, IMAGE_TEXT)
    composer = await attach(alice, video, None)
    post_button = composer.get_by_role("button", name="Post", exact=True)
    await publish(alice, composer, VIDEO_TEXT)
    await expect(post_button).to_be_disabled()  # an empty composer posts nothing
    own_feed = alice.get_by_role("feed", name="Home timeline")
    await expect(own_feed.get_by_role("article")).to_have_count(2)

    # Bob sees both on his home timeline, newest first, entities linked correctly.
    media_answers: list[Any] = []
    bob.on("response", lambda r: media_answers.append(r) if "/media/" in r.url else None)
    await bob.goto("/")
    feed = bob.get_by_role("feed", name="Home timeline")
    posts = feed.get_by_role("article")
    await expect(posts).to_have_count(2)
    video_post, image_post = posts.nth(0), posts.nth(1)
    await expect(video_post).to_contain_text("Two seconds of test pattern")
    await expect(image_post.get_by_role("link", name="#golden")).to_have_attribute(
        "href", "/search?q=%23golden"
    )
    await expect(image_post.get_by_role("link", name="@bob_e2e", exact=True)).to_have_attribute(
        "href", "/@bob_e2e"
    )
    await expect(image_post.get_by_role("link", name="example.org/pier")).to_have_attribute(
        "href", "https://example.org/pier"
    )
    picture = image_post.get_by_role("img", name="Orange stripes over a blue sea")
    await expect(picture).to_be_visible()
    await poll(lambda: picture.evaluate("img => img.naturalWidth > 0"), "the image to load")

    # The video plays, and its bytes came as a 206 answer to a Range request.
    player = video_post.locator("video")
    await expect(player).to_have_attribute("preload", "metadata")
    await player.scroll_into_view_if_needed()
    await player.click()  # a real click: the browser's own controls start playback
    await poll(
        lambda: player.evaluate("v => v.readyState >= 2 && v.currentTime > 0.5"),
        "the video to play",
    )
    ranged = [
        (r.status, await r.request.header_value("range"))
        for r in media_answers
        if r.request.resource_type == "media"
    ]
    assert any(status == 206 and (rng or "").startswith("bytes=") for status, rng in ranged), ranged

    # Bob likes the picture; the toggle says so.
    like = image_post.get_by_role("button", name=re.compile(r"^Like"))
    await like.click()
    await expect(image_post.get_by_role("button", name="Unlike (1)")).to_have_attribute(
        "aria-pressed", "true"
    )
    thread_url = await image_post.locator("a.post__time").get_attribute("href")
    assert thread_url is not None
    assert re.fullmatch(r"/@alice_e2e/status/\d+", thread_url), thread_url

    # He replies on the thread page; the reply lands under the post.
    await image_post.get_by_role("link", name="Reply (0)").click()
    await expect(bob).to_have_url(re.compile(re.escape(thread_url) + "#reply$"))
    reply_box = bob.get_by_label("Reply to @alice_e2e")
    await expect(reply_box).to_be_focused()
    await reply_box.fill("Lovely colours!")
    await bob.get_by_role("button", name="Reply", exact=True).click()
    replies = bob.get_by_role("feed", name="Replies")
    await expect(replies.get_by_role("article")).to_have_count(1)
    await expect(replies).to_contain_text("Lovely colours!")
    await expect(bob.locator("article.post--focus")).to_contain_text("Golden hour")

    # Alice blocks Bob: her posts leave his timeline, and her thread is unavailable.
    await alice.goto("/@bob_e2e")
    await alice.get_by_role("button", name="Block", exact=True).click()
    await expect(alice.get_by_role("button", name="Unblock", exact=True)).to_be_visible()

    await bob.goto("/")
    await expect(feed).to_have_attribute("aria-busy", "false")
    # Only Bob's own reply is left.
    await expect(feed.get_by_role("article")).to_have_count(1)
    await expect(feed.get_by_role("article")).to_contain_text("Lovely colours!")
    await expect(feed.locator('article:has(a.post__author[href="/@alice_e2e"])')).to_have_count(0)
    await bob.goto(thread_url)
    await expect(bob.get_by_role("heading", name="This post is unavailable")).to_be_visible()
