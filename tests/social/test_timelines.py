"""Timelines: home (fan-out on read, and on write with the real Redis), profile tabs,
cursors that stay stable while new posts arrive."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REDIS_URL, Account, Users
from tests.social.conftest import Graph, Posts


async def all_home(posts: Posts, viewer: Account, limit: int) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        page = await posts.page("/api/v1/timelines/home", viewer, **params)
        ids += [i["post"]["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def test_home_has_followed_and_own_posts_newest_first(
    posts: Posts, users: Users, graph: Graph
) -> None:
    me, friend, stranger = await users.create(), await users.create(), await users.create()
    assert (await graph.follow(me, friend)).status_code == 200
    a = await posts.create(friend, "a")
    await posts.create(stranger, "not followed")
    b = await posts.create(me, "b")
    c = await posts.create(friend, "c")
    assert await posts.home_ids(me) == [c["id"], b["id"], a["id"]]
    assert (await graph.unfollow(me, friend)).status_code == 200
    assert await posts.home_ids(me) == [b["id"]]


async def test_a_post_reposted_by_several_appears_once_per_page(
    posts: Posts, users: Users, graph: Graph
) -> None:
    me, author, r1, r2 = [await users.create() for _ in range(4)]
    for followee in (author, r1, r2):
        assert (await graph.follow(me, followee)).status_code == 200
    post = await posts.create(author, "popular")
    for reposter in (r1, r2):
        assert (await posts.act("POST", reposter, post["id"], "repost")).status_code == 204
    page = await posts.page("/api/v1/timelines/home", me)
    assert [(i["kind"], i["post"]["id"]) for i in page["data"]] == [("repost", post["id"])]
    assert page["data"][0]["reposted_by"]["username"] == r2.username


async def test_cursor_is_stable_while_new_posts_arrive(
    posts: Posts, users: Users, graph: Graph
) -> None:
    me, friend = await users.create(), await users.create()
    assert (await graph.follow(me, friend)).status_code == 200
    old = [(await posts.create(friend, f"old {i}"))["id"] for i in range(5)]
    first = await posts.page("/api/v1/timelines/home", me, limit="2")
    assert [i["post"]["id"] for i in first["data"]] == old[::-1][:2]
    new = [(await posts.create(friend, f"new {i}"))["id"] for i in range(3)]
    rest: list[str] = []
    cursor = first["next_cursor"]
    while cursor:
        page = await posts.page("/api/v1/timelines/home", me, limit="2", cursor=cursor)
        rest += [i["post"]["id"] for i in page["data"]]
        cursor = page["next_cursor"]
    assert rest == old[::-1][2:]
    assert (await posts.home_ids(me))[:3] == new[::-1]


async def test_bad_cursor_is_422(posts: Posts, users: Users) -> None:
    me = await users.create()
    response = await posts.client.get(
        "/api/v1/timelines/home", params={"cursor": "nonsense!"}, headers=me.headers
    )
    assert response.status_code == 422


async def test_profile_tabs(posts: Posts, users: Users) -> None:
    alice, bob = await users.create(), await users.create()
    other = await posts.create(bob, "bob's")
    plain = await posts.create(alice, "plain")
    reply = await posts.create(alice, "reply", reply_to=other["id"])
    assert (await posts.act("POST", alice, other["id"], "repost")).status_code == 204
    tab = await posts.page(f"/api/v1/users/{alice.username}/posts", None, tab="posts")
    assert [(i["kind"], i["post"]["id"]) for i in tab["data"]] == [
        ("repost", other["id"]),
        ("post", plain["id"]),
    ]
    assert await posts.tab_ids(None, alice.username, "replies") == [reply["id"], plain["id"]]
    assert await posts.tab_ids(None, alice.username, "media") == []
    missing = await posts.client.get("/api/v1/users/nobody_here/posts")
    assert missing.status_code == 404


async def test_profile_tab_pages_with_cursors(posts: Posts, users: Users) -> None:
    alice = await users.create()
    made = [(await posts.create(alice, f"p{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", "tab": "replies"} | ({"cursor": cursor} if cursor else {})
        page = await posts.page(f"/api/v1/users/{alice.username}/posts", None, **params)
        seen += [i["post"]["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


# ---- fan-out on write (Redis) -----------------------------------------------------------


@pytest.fixture
def redis_required() -> None:
    """The fan-out-on-write tests need the real Redis; the SQLite-only pass skips them."""
    if not REDIS_URL:
        pytest.skip("PLAZA_TEST_REDIS_URL is not set (the PostgreSQL + Redis pass runs this)")


def home_key(plaza: Any, account: Account) -> str:
    return f"{plaza.settings.redis_prefix}:home:{account.id}"


@pytest.mark.settings(timeline_fanout="write")
async def test_fan_out_on_write_fills_followers_lists(
    redis_required: None, posts: Posts, users: Users, graph: Graph, plaza: Any
) -> None:
    me, friend, other = await users.create(), await users.create(), await users.create()
    assert (await graph.follow(me, friend)).status_code == 200
    assert (await graph.follow(me, other)).status_code == 200
    before = await posts.create(friend, "before the first read")
    assert await posts.home_ids(me) == [before["id"]]  # built from the database
    assert await plaza.redis.exists(home_key(plaza, me))
    after = await posts.create(friend, "pushed")
    members = await plaza.redis.zrange(home_key(plaza, me), 0, -1)
    assert any(after["id"] in m.decode() for m in members)
    assert await all_home(posts, me, 1) == [after["id"], before["id"]]

    # Everything is filtered at read time: unfollow, mute, block, delete.
    third = await posts.create(other, "from other")
    assert await posts.home_ids(me) == [third["id"], after["id"], before["id"]]
    assert (await graph.mute(me, other)).status_code == 204
    assert await posts.home_ids(me) == [after["id"], before["id"]]
    assert (await client_delete(posts, friend, after["id"])).status_code == 204
    assert await posts.home_ids(me) == [before["id"]]
    assert (await graph.unfollow(me, friend)).status_code == 200
    assert await posts.home_ids(me) == []


async def client_delete(posts: Posts, who: Account, post_id: str) -> Any:
    return await posts.client.delete(f"/api/v1/posts/{post_id}", headers=who.headers)


@pytest.mark.settings(timeline_fanout="write", timeline_celebrity_threshold=1)
async def test_celebrities_are_merged_in_at_read_time(
    redis_required: None, posts: Posts, users: Users, graph: Graph, plaza: Any
) -> None:
    me, fan, star, friend = [await users.create() for _ in range(4)]
    for follower in (me, fan):
        assert (await graph.follow(follower, star)).status_code == 200
    assert (await graph.follow(me, friend)).status_code == 200
    assert await posts.home_ids(me) == []  # warms the list
    famous = await posts.create(star, "to my many followers")
    normal = await posts.create(friend, "to my one follower")
    members = [m.decode() for m in await plaza.redis.zrange(home_key(plaza, me), 0, -1)]
    assert not any(famous["id"] in m for m in members)  # not pushed: over the threshold
    assert any(normal["id"] in m for m in members)
    assert await posts.home_ids(me) == [normal["id"], famous["id"]]
    assert (await posts.act("POST", friend, famous["id"], "repost")).status_code == 204
    page = await posts.page("/api/v1/timelines/home", me)
    assert [(i["kind"], i["post"]["id"]) for i in page["data"]] == [
        ("repost", famous["id"]),
        ("post", normal["id"]),
    ]
    # Blocking either way takes the star out of the merged-in part too.
    assert (await graph.block(star, me)).status_code == 204
    assert await posts.home_ids(me) == [normal["id"]]
