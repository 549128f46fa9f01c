"""Posts through the API: replies and threads, reposts, quotes, likes, bookmarks and
their counts, deletion, edits (Premium, one hour), media limits, rate limits."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from plaza.core.clock import ManualClock
from plaza.premium import Entitlement
from tests.conftest import Account, Users
from tests.social.conftest import Graph, Posts


def png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="session")
def video_1s(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    target: Path = tmp_path_factory.mktemp("posts-video") / "clip.mp4"
    subprocess.run(
        [
            "/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            str(target),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return target.read_bytes()


async def upload(client: httpx.AsyncClient, who: Account, content: bytes, name: str) -> str:
    response = await client.post(
        "/api/v1/media",
        headers=who.headers,
        files={"file": (name, content, "application/octet-stream")},
        data={"alt_text": f"alt of {name}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def counts(posts: Posts, post_id: str) -> dict[str, int]:
    response = await posts.get(None, post_id)
    assert response.status_code == 200, response.text
    result: dict[str, int] = response.json()["counts"]
    return result


# ---- replies and threads ---------------------------------------------------------------


async def test_replies_form_a_thread(posts: Posts, users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    root = await posts.create(alice, "root")
    reply = await posts.create(bob, "reply", reply_to=root["id"])
    deeper = await posts.create(alice, "deeper", reply_to=reply["id"])
    assert reply["reply_to"] == root["id"]
    assert reply["conversation_id"] == deeper["conversation_id"] == root["id"]
    assert (await counts(posts, root["id"]))["replies"] == 1

    thread = await posts.page(f"/api/v1/posts/{deeper['id']}/thread", bob)
    assert [p["id"] for p in thread["ancestors"]] == [root["id"], reply["id"]]
    assert thread["post"]["id"] == deeper["id"]
    root_thread = await posts.page(f"/api/v1/posts/{root['id']}/thread", None)
    assert [p["id"] for p in root_thread["replies"]["data"]] == [reply["id"]]
    assert [n["kind"] for n in await graph.notifications(alice)] == ["reply"]


async def test_thread_replies_page_oldest_first(posts: Posts, users: Users) -> None:
    alice = await users.create()
    root = await posts.create(alice, "root")
    replies = [(await posts.create(alice, f"r{i}", reply_to=root["id"]))["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await posts.page(f"/api/v1/posts/{root['id']}/thread", None, **params)
        seen += [p["id"] for p in page["replies"]["data"]]
        cursor = page["replies"]["next_cursor"]
        if cursor is None:
            break
    assert seen == replies


# ---- likes, reposts, quotes, bookmarks ---------------------------------------------------


async def test_likes_are_idempotent_and_counted(posts: Posts, users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    post = await posts.create(alice, "like me")
    for _ in range(2):
        assert (await posts.act("POST", bob, post["id"], "like")).status_code == 204
    assert (await counts(posts, post["id"]))["likes"] == 1
    seen = (await posts.get(bob, post["id"])).json()["viewer"]
    assert seen == {"liked": True, "reposted": False, "bookmarked": False}
    assert [n["kind"] for n in await graph.notifications(alice)] == ["like"]
    for _ in range(2):
        assert (await posts.act("DELETE", bob, post["id"], "like")).status_code == 204
    assert (await counts(posts, post["id"]))["likes"] == 0


async def test_one_repost_per_user_and_delete_unreposts(
    posts: Posts, users: Users, graph: Graph
) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    assert (await graph.follow(carol, bob)).status_code == 200
    post = await posts.create(alice, "share me")
    for _ in range(2):
        assert (await posts.act("POST", bob, post["id"], "repost")).status_code == 204
    assert (await counts(posts, post["id"]))["reposts"] == 1
    home = await posts.page("/api/v1/timelines/home", carol)
    assert [(i["kind"], i["post"]["id"], i["reposted_by"]["username"]) for i in home["data"]] == [
        ("repost", post["id"], bob.username)
    ]
    assert (await posts.act("DELETE", bob, post["id"], "repost")).status_code == 204
    assert (await counts(posts, post["id"]))["reposts"] == 0
    assert await posts.home_ids(carol) == []


async def test_quotes_embed_the_quoted_post(posts: Posts, users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    post = await posts.create(alice, "quotable")
    quote = await posts.create(bob, "so true", quote_of=post["id"])
    assert quote["quote"]["id"] == post["id"]
    assert quote["quote"]["text"] == "quotable"
    assert (await counts(posts, post["id"]))["quotes"] == 1
    assert [n["kind"] for n in await graph.notifications(alice)] == ["quote"]


async def test_bookmarks_are_private(posts: Posts, users: Users) -> None:
    alice, bob = await users.create(), await users.create()
    first = await posts.create(alice, "one")
    second = await posts.create(alice, "two")
    for post in (first, second, second):
        assert (await posts.act("POST", bob, post["id"], "bookmark")).status_code == 204
    mine = await posts.page("/api/v1/me/bookmarks", bob)
    assert [p["id"] for p in mine["data"]] == [second["id"], first["id"]]
    assert (await posts.page("/api/v1/me/bookmarks", alice))["data"] == []
    assert (await posts.get(alice, first["id"])).json()["viewer"]["bookmarked"] is False
    assert (await posts.act("DELETE", bob, first["id"], "bookmark")).status_code == 204
    mine = await posts.page("/api/v1/me/bookmarks", bob)
    assert [p["id"] for p in mine["data"]] == [second["id"]]


# ---- deletion ------------------------------------------------------------------------------


async def test_delete_is_soft_and_thorough(posts: Posts, users: Users, graph: Graph) -> None:
    alice, bob, carol = await users.create(), await users.create(), await users.create()
    assert (await graph.follow(carol, alice)).status_code == 200
    assert (await graph.follow(carol, bob)).status_code == 200
    post = await posts.create(alice, "soon gone findme")
    reply = await posts.create(bob, "a reply", reply_to=post["id"])
    quote = await posts.create(bob, "a quote", quote_of=post["id"])
    assert (await posts.act("POST", bob, post["id"], "repost")).status_code == 204
    assert (await posts.act("POST", bob, post["id"], "like")).status_code == 204
    assert (await posts.act("POST", carol, post["id"], "bookmark")).status_code == 204
    assert (await graph.counts(alice.username))["posts"] == 1

    assert (await client_delete(posts, bob, post["id"])).status_code == 403
    assert (await client_delete(posts, alice, post["id"])).status_code == 204
    assert (await client_delete(posts, alice, post["id"])).status_code == 404

    assert (await posts.get(carol, post["id"])).status_code == 404
    home = await posts.home_ids(carol)
    assert post["id"] not in home
    assert reply["id"] in home
    assert home.count(quote["id"]) == 1
    assert await posts.search_ids(carol, "findme") == []
    assert (await posts.page("/api/v1/me/bookmarks", carol))["data"] == []
    assert post["id"] not in await posts.tab_ids(carol, bob.username, "posts")
    assert (await graph.counts(alice.username))["posts"] == 0
    # Its notifications are forgotten (the like and the quote named it).
    assert all(n["post_id"] != post["id"] for n in await graph.notifications(alice))

    thread = await posts.page(f"/api/v1/posts/{reply['id']}/thread", carol)
    parent = thread["ancestors"][0]
    assert (parent["id"], parent["deleted"], parent["text"]) == (post["id"], True, "")
    shown_quote = (await posts.get(carol, quote["id"])).json()["quote"]
    assert shown_quote["deleted"] is True
    assert shown_quote["text"] == ""


async def client_delete(posts: Posts, who: Account, post_id: str) -> httpx.Response:
    return await posts.client.delete(f"/api/v1/posts/{post_id}", headers=who.headers)


async def test_replying_to_or_quoting_a_deleted_post_is_404(posts: Posts, users: Users) -> None:
    alice, bob = await users.create(), await users.create()
    post = await posts.create(alice, "gone")
    assert (await client_delete(posts, alice, post["id"])).status_code == 204
    assert (await posts.post(bob, "hi", reply_to=post["id"])).status_code == 404
    assert (await posts.post(bob, "hi", quote_of=post["id"])).status_code == 404
    assert (await posts.act("POST", bob, post["id"], "like")).status_code == 404
    assert (await posts.post(bob, "hi", reply_to="123456789")).status_code == 404


# ---- edits ----------------------------------------------------------------------------------


async def test_edit_needs_the_entitlement_and_keeps_history(
    posts: Posts, users: Users, plaza: Any, clock: ManualClock
) -> None:
    alice, bob = await users.create(), await users.create()
    post = await posts.create(alice, "first take")
    path = f"/api/v1/posts/{post['id']}"
    no_premium = await posts.client.patch(path, json={"text": "x"}, headers=alice.headers)
    assert no_premium.status_code == 403
    assert "edit_posts" in no_premium.json()["detail"]

    await plaza.entitlements.grant(int(alice.id), Entitlement.EDIT_POSTS, until=None, source="t")
    clock.advance(timedelta(minutes=59))
    edited = await posts.client.patch(path, json={"text": "second take"}, headers=alice.headers)
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "second take"
    assert edited.json()["edited_at"] is not None
    not_mine = await posts.client.patch(path, json={"text": "mine now"}, headers=bob.headers)
    assert not_mine.status_code == 403

    history = await posts.page(f"{path}/edits", bob)
    assert [e["text"] for e in history["data"]] == ["first take"]

    clock.advance(timedelta(minutes=2))
    too_late = await posts.client.patch(path, json={"text": "third"}, headers=alice.headers)
    assert too_late.status_code == 403
    assert (await posts.get(None, post["id"])).json()["text"] == "second take"


async def test_an_edit_keeps_the_authors_labels_and_a_delete_drops_them(
    posts: Posts, users: Users, plaza: Any
) -> None:
    alice = await users.create()
    await plaza.entitlements.grant(int(alice.id), Entitlement.EDIT_POSTS, until=None, source="t")
    # The lexicon rates this high, so the classifier, not the author, decides the label.
    post = await posts.create(alice, "new porn site review", labels=["adult"])
    assert [(lb["category"], lb["source"]) for lb in post["labels"]] == [("adult", "classifier")]

    path = f"/api/v1/posts/{post['id']}"
    edited = await posts.client.patch(path, json={"text": "a site review"}, headers=alice.headers)
    assert edited.status_code == 200, edited.text
    assert [(lb["category"], lb["source"]) for lb in edited.json()["labels"]] == [
        ("adult", "author")
    ]

    assert (await posts.client.delete(path, headers=alice.headers)).status_code == 204
    assert (await plaza.safety.labels_for("post", [int(post["id"])])).get(int(post["id"])) in (
        None,
        [],
    )


# ---- media ----------------------------------------------------------------------------------


async def test_up_to_four_images_with_alt_text(
    posts: Posts, users: Users, client: httpx.AsyncClient
) -> None:
    me = await users.create()
    ids = [await upload(client, me, png(), f"p{i}.png") for i in range(5)]
    too_many = await posts.post(me, "five", media_ids=ids)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "media_ids"
    post = await posts.create(me, "four", media_ids=ids[:4])
    assert [m["id"] for m in post["media"]] == ids[:4]
    assert post["media"][0]["alt_text"] == "alt of p0.png"
    assert post["media"][0]["kind"] == "image"
    media_tab = await posts.tab_ids(None, me.username, "media")
    assert media_tab == [post["id"]]


async def test_images_and_a_video_do_not_mix(
    posts: Posts, users: Users, client: httpx.AsyncClient, plaza: Any, video_1s: bytes
) -> None:
    me = await users.create()
    image = await upload(client, me, png(), "p.png")
    video = await upload(client, me, video_1s, "clip.mp4")
    await plaza.media.drain()
    mixed = await posts.post(me, "mixed", media_ids=[image, video])
    assert mixed.status_code == 422
    assert mixed.json()["errors"][0]["field"] == "media_ids"
    # Refused as a whole: the image was not attached, so it can still be used.
    assert (await posts.post(me, "just the image", media_ids=[image])).status_code == 201
    clip = await posts.create(me, "just the video", media_ids=[video])
    assert [m["kind"] for m in clip["media"]] == ["video"]


async def test_someone_elses_media_is_refused(
    posts: Posts, users: Users, client: httpx.AsyncClient
) -> None:
    alice, bob = await users.create(), await users.create()
    image = await upload(client, alice, png(), "p.png")
    stolen = await posts.post(bob, "mine", media_ids=[image])
    assert stolen.status_code == 422
    assert stolen.json()["errors"][0]["field"] == "media_ids"


# ---- safety labels ---------------------------------------------------------------------------


async def test_sensitive_media_follows_the_viewer_preference(
    posts: Posts, users: Users, client: httpx.AsyncClient, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    assert (await graph.follow(bob, alice)).status_code == 200
    image = await upload(client, alice, png(), "p.png")
    post = await posts.create(alice, "careful", media_ids=[image], labels=["adult"])
    assert post["sensitive"] is True
    assert {"category": "adult", "risk": "medium", "source": "author"} in post["labels"]
    seen = (await posts.get(bob, post["id"])).json()
    assert seen["media_warning"] is True  # the default preference is WARN

    changed = await client.patch(
        "/api/v1/me/settings", json={"sensitive_media": "hide"}, headers=bob.headers
    )
    assert changed.status_code == 200, changed.text
    assert await posts.home_ids(bob) == []
    changed = await client.patch(
        "/api/v1/me/settings", json={"sensitive_media": "show"}, headers=bob.headers
    )
    assert changed.status_code == 200, changed.text
    home = await posts.page("/api/v1/timelines/home", bob)
    assert [(i["post"]["id"], i["post"]["media_warning"]) for i in home["data"]] == [
        (post["id"], False)
    ]


async def test_an_unknown_label_is_422(posts: Posts, users: Users) -> None:
    me = await users.create()
    refused = await posts.post(me, "hi", labels=["nonsense"])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"].startswith("labels")


# ---- rate limit ---------------------------------------------------------------------------


@pytest.mark.settings(posts_per_hour=3)
async def test_posting_is_rate_limited_per_user(posts: Posts, users: Users) -> None:
    alice, bob = await users.create(), await users.create()
    for i in range(3):
        await posts.create(alice, f"post {i}")
    limited = await posts.post(alice, "one too many")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    await posts.create(bob, "bob is fine")
