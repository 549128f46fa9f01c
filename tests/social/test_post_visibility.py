"""The visibility matrix, seen from the other user's side: blocks (both ways), mutes
and private accounts leak nothing into the home timeline, profile tabs, threads,
search or notifications."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Account, Users
from tests.social.conftest import Graph, Posts


async def setup_pair(
    posts: Posts, users: Users, graph: Graph
) -> tuple[Account, Account, Account, dict[str, Any]]:
    """viewer follows author and middle; middle reposts and replies to author's post."""
    viewer, author, middle = await users.create(), await users.create(), await users.create()
    for followee in (author, middle):
        assert (await graph.follow(viewer, followee)).status_code == 200
    post = await posts.create(author, "secretword from the author")
    assert (await posts.act("POST", middle, post["id"], "repost")).status_code == 204
    await posts.create(middle, "middle's own")
    return viewer, author, middle, post


async def assert_author_invisible(
    posts: Posts, viewer: Account, author: Account, post: dict[str, Any]
) -> None:
    home = await posts.page("/api/v1/timelines/home", viewer)
    assert all(i["post"]["author"]["id"] != author.id for i in home["data"])
    assert post["id"] not in await posts.search_ids(viewer, "secretword")
    middle_tab = await posts.page(f"/api/v1/users/{author.username}/posts", viewer)
    assert middle_tab["data"] == []


@pytest.mark.parametrize("who_blocks", ["author", "viewer"])
async def test_blocks_either_way_hide_everything(
    posts: Posts, users: Users, graph: Graph, who_blocks: str
) -> None:
    viewer, author, _middle, post = await setup_pair(posts, users, graph)
    blocker, blocked = (author, viewer) if who_blocks == "author" else (viewer, author)
    assert (await graph.block(blocker, blocked)).status_code == 204

    home = await posts.page("/api/v1/timelines/home", viewer)
    assert all(i["post"]["author"]["id"] != author.id for i in home["data"])
    assert len(home["data"]) == 1  # middle's own post; the repost of author's is gone
    assert await posts.search_ids(viewer, "secretword") == []
    found = await posts.page("/api/v1/search/users", viewer, q=author.username)
    assert found["data"] == []
    tab = await posts.client.get(f"/api/v1/users/{author.username}/posts", headers=viewer.headers)
    assert tab.status_code == 404
    assert (await posts.get(viewer, post["id"])).status_code == 404
    thread = await posts.client.get(f"/api/v1/posts/{post['id']}/thread", headers=viewer.headers)
    assert thread.status_code == 404
    assert (await posts.post(viewer, "reply", reply_to=post["id"])).status_code == 404
    assert (await posts.post(viewer, "quote", quote_of=post["id"])).status_code == 404
    for action in ("like", "repost", "bookmark"):
        assert (await posts.act("POST", viewer, post["id"], action)).status_code == 404
    # The other way round: the author's actions on the viewer's posts notify nobody, and
    # the author sees none of the viewer's posts either.
    mine = await posts.create(viewer, f"secretword from the viewer @{author.username}")
    assert (await posts.act("POST", author, mine["id"], "like")).status_code == 404
    assert (await posts.post(author, "reply", reply_to=mine["id"])).status_code == 404
    assert await posts.search_ids(author, "secretword") == [post["id"]]  # only their own
    assert all(n["actor"]["id"] != author.id for n in await graph.notifications(viewer))
    assert all(n["actor"]["id"] != viewer.id for n in await graph.notifications(author))


async def test_mutes_hide_posts_reposts_and_replies(
    posts: Posts, users: Users, graph: Graph
) -> None:
    viewer, author, _middle, post = await setup_pair(posts, users, graph)
    mine = await posts.create(viewer, "viewer's post")
    reply = await posts.create(author, "author replies", reply_to=mine["id"])
    assert (await graph.mute(viewer, author)).status_code == 204

    home = await posts.page("/api/v1/timelines/home", viewer)
    assert all(i["post"]["author"]["id"] != author.id for i in home["data"])
    assert await posts.search_ids(viewer, "secretword") == []
    thread = await posts.page(f"/api/v1/posts/{mine['id']}/thread", viewer)
    assert reply["id"] not in [r["id"] for r in thread["replies"]["data"]]
    assert all(n["actor"]["id"] != author.id for n in await graph.notifications(viewer))
    # A mute is not a block: the profile and the post itself stay reachable.
    assert (await posts.get(viewer, post["id"])).status_code == 200
    assert post["id"] in await posts.tab_ids(viewer, author.username, "posts")


async def test_private_accounts_show_posts_to_approved_followers_only(
    posts: Posts, users: Users, graph: Graph
) -> None:
    owner, follower, stranger = await users.create(), await users.create(), await users.create()
    assert (await graph.set_profile(owner, is_private=True)).status_code == 200
    assert (await graph.follow(follower, owner)).json()["state"] == "requested"
    approved = await posts.client.post(
        f"/api/v1/me/follow-requests/{follower.username}/approve", headers=owner.headers
    )
    assert approved.status_code == 204
    assert (await graph.follow(stranger, owner)).json()["state"] == "requested"
    post = await posts.create(owner, "secretword for followers")
    reply = await posts.create(owner, "a private reply", reply_to=post["id"])

    assert await posts.home_ids(follower) == [reply["id"], post["id"]]
    assert (await posts.get(follower, post["id"])).status_code == 200
    assert await posts.search_ids(follower, "secretword") == [post["id"]]

    for viewer in (stranger, None):
        assert (await posts.get(viewer, post["id"])).status_code == 404
        assert await posts.search_ids(viewer, "secretword") == []
        assert await posts.tab_ids(viewer, owner.username, "posts") == []
        headers = viewer.headers if viewer else {}
        thread = await posts.client.get(f"/api/v1/posts/{reply['id']}/thread", headers=headers)
        assert thread.status_code == 404
    assert await posts.home_ids(stranger) == []
    assert (await posts.post(stranger, "hi", reply_to=post["id"])).status_code == 404
    assert (await posts.act("POST", stranger, post["id"], "like")).status_code == 404
    # Followers may see but not spread a private post.
    assert (await posts.act("POST", follower, post["id"], "repost")).status_code == 403


async def test_a_public_reply_under_a_private_post_hides_the_ancestor(
    posts: Posts, users: Users, graph: Graph
) -> None:
    owner, follower, stranger = await users.create(), await users.create(), await users.create()
    post = await posts.create(owner, "public for now")
    reply = await posts.create(follower, "public reply", reply_to=post["id"])
    assert (await graph.set_profile(owner, is_private=True)).status_code == 200
    thread = await posts.page(f"/api/v1/posts/{reply['id']}/thread", stranger)
    assert thread["ancestors"] == []
    assert thread["post"]["id"] == reply["id"]
