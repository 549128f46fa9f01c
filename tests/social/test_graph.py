"""Follows, private accounts with requests, lists and counters, through the HTTP API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from plaza.identity import AccountDeleted
from plaza.social import Followed, Unfollowed
from tests.conftest import PASSWORD, Users
from tests.social.conftest import Graph, Heard


async def test_following_a_public_account_counts_on_both_sides_and_lists_them(
    users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()

    followed = await graph.follow(alice, bob)
    again = await graph.follow(alice, bob)

    assert followed.status_code == 200
    assert followed.json() == {"state": "following"}
    assert again.json() == {"state": "following"}
    assert await graph.counts(bob.username) == {"followers": 1, "following": 0, "posts": 0}
    assert await graph.counts(alice.username) == {"followers": 0, "following": 1, "posts": 0}
    assert await graph.usernames(f"/api/v1/users/{bob.username}/followers") == [alice.username]
    assert await graph.usernames(f"/api/v1/users/{alice.username}/following") == [bob.username]
    seen_by_alice = (await graph.profile(alice, bob.username)).json()["viewer"]
    seen_by_bob = (await graph.profile(bob, alice.username)).json()["viewer"]
    assert seen_by_alice["following"] is True
    assert seen_by_bob["followed_by"] is True
    assert seen_by_bob["following"] is False


async def test_unfollowing_twice_leaves_counts_at_zero(users: Users, graph: Graph) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.follow(alice, bob)

    first = await graph.unfollow(alice, bob)
    second = await graph.unfollow(alice, bob)

    assert first.json() == second.json() == {"state": "none"}
    assert (await graph.counts(bob.username))["followers"] == 0
    assert (await graph.counts(alice.username))["following"] == 0
    assert await graph.usernames(f"/api/v1/users/{bob.username}/followers") == []


async def test_follow_refuses_yourself_unknown_users_and_anonymous_callers(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice = await users.create()

    yourself = await graph.follow(alice, alice)
    unknown = await client.post("/api/v1/users/nobody_here/follow", headers=alice.headers)
    anonymous = await client.post(f"/api/v1/users/{alice.username}/follow")

    assert yourself.status_code == 422
    assert yourself.json()["errors"][0]["field"] == "username"
    assert unknown.status_code == 404
    assert anonymous.status_code == 401


async def test_a_private_account_gets_a_request_which_its_owner_approves(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    owner, fan = await users.create(), await users.create()
    await graph.set_profile(owner, is_private=True)

    asked = await graph.follow(fan, owner)
    pending = await graph.usernames("/api/v1/me/follow-requests", owner)
    viewer_before = (await graph.profile(fan, owner.username)).json()["viewer"]
    counts_before = await graph.counts(owner.username)
    approved = await client.post(
        f"/api/v1/me/follow-requests/{fan.username}/approve", headers=owner.headers
    )

    assert asked.json() == {"state": "requested"}
    assert pending == [fan.username]
    assert viewer_before == {
        "following": False,
        "followed_by": False,
        "requested": True,
        "blocking": False,
        "muting": False,
    }
    assert counts_before["followers"] == 0
    assert approved.status_code == 204
    assert await graph.usernames("/api/v1/me/follow-requests", owner) == []
    assert (await graph.counts(owner.username))["followers"] == 1
    assert (await graph.follow(fan, owner)).json() == {"state": "following"}


async def test_a_denied_request_is_gone_and_makes_no_follow(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    owner, fan = await users.create(), await users.create()
    await graph.set_profile(owner, is_private=True)
    await graph.follow(fan, owner)

    denied = await client.post(
        f"/api/v1/me/follow-requests/{fan.username}/deny", headers=owner.headers
    )
    denied_again = await client.post(
        f"/api/v1/me/follow-requests/{fan.username}/deny", headers=owner.headers
    )
    approve_nothing = await client.post(
        f"/api/v1/me/follow-requests/{fan.username}/approve", headers=owner.headers
    )

    assert denied.status_code == 204
    assert denied_again.status_code == 404
    assert approve_nothing.status_code == 404
    assert (await graph.counts(owner.username))["followers"] == 0
    viewer = (await graph.profile(fan, owner.username)).json()["viewer"]
    assert viewer["requested"] is False
    assert viewer["following"] is False


async def test_withdrawing_a_request_removes_it(users: Users, graph: Graph) -> None:
    owner, fan = await users.create(), await users.create()
    await graph.set_profile(owner, is_private=True)
    await graph.follow(fan, owner)

    withdrawn = await graph.unfollow(fan, owner)

    assert withdrawn.json() == {"state": "none"}
    assert await graph.usernames("/api/v1/me/follow-requests", owner) == []


async def test_a_private_accounts_lists_are_for_its_approved_followers(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    owner, follower, stranger = await users.create(), await users.create(), await users.create()
    await graph.follow(follower, owner)
    await graph.set_profile(owner, is_private=True)
    path = f"/api/v1/users/{owner.username}/followers"

    as_stranger = await client.get(path, headers=stranger.headers)
    as_anonymous = await client.get(path)
    as_follower = await graph.usernames(path, follower)
    as_owner = await graph.usernames(path, owner)

    assert as_stranger.status_code == 403
    assert "private" in as_stranger.json()["detail"]
    assert as_anonymous.status_code == 403
    assert as_follower == as_owner == [follower.username]
    assert (await graph.profile(stranger, owner.username)).json()["is_private"] is True


async def test_making_an_account_public_approves_pending_requests(
    users: Users, graph: Graph
) -> None:
    owner = await users.create()
    fans = [await users.create() for _ in range(3)]
    await graph.set_profile(owner, is_private=True)
    for fan in fans:
        assert (await graph.follow(fan, owner)).json() == {"state": "requested"}

    public = await graph.set_profile(owner, is_private=False)

    assert public.status_code == 200
    assert public.json()["is_private"] is False
    assert public.json()["counts"]["followers"] == 3
    assert await graph.usernames("/api/v1/me/follow-requests", owner) == []
    followers = await graph.usernames(f"/api/v1/users/{owner.username}/followers")
    assert sorted(followers) == sorted(f.username for f in fans)
    for fan in fans:
        assert (await graph.counts(fan.username))["following"] == 1


async def test_follower_pages_stay_stable_while_new_follows_arrive(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    star = await users.create()
    fans = [await users.create() for _ in range(5)]
    for fan in fans:
        await graph.follow(fan, star)
    path = f"/api/v1/users/{star.username}/followers"

    first = (await client.get(path, params={"limit": 2})).json()
    late = await users.create()
    await graph.follow(late, star)
    second = (await client.get(path, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    third = (await client.get(path, params={"limit": 2, "cursor": second["next_cursor"]})).json()

    newest_first = [f.username for f in reversed(fans)]
    assert [u["username"] for u in first["data"]] == newest_first[:2]
    assert [u["username"] for u in second["data"]] == newest_first[2:4]
    assert [u["username"] for u in third["data"]] == newest_first[4:]
    assert third["next_cursor"] is None
    assert (await client.get(path, params={"limit": 1})).json()["data"][0][
        "username"
    ] == late.username


@pytest.mark.settings(signups_per_ip_per_hour=100)
async def test_twenty_concurrent_follows_count_twenty(users: Users, graph: Graph) -> None:
    star = await users.create()
    fans = [await users.create() for _ in range(20)]

    answers = await asyncio.gather(*(graph.follow(fan, star) for fan in fans))

    assert {a.status_code for a in answers} == {200}
    assert (await graph.counts(star.username))["followers"] == 20
    followers = await graph.usernames(f"/api/v1/users/{star.username}/followers")
    assert sorted(followers) == sorted(f.username for f in fans)


async def test_concurrent_follow_and_unfollow_leave_counts_matching_the_rows(
    users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()

    calls = [graph.follow(alice, bob) if i % 2 else graph.unfollow(alice, bob) for i in range(20)]
    answers = await asyncio.gather(*calls)

    assert {a.status_code for a in answers} == {200}
    followers = await graph.usernames(f"/api/v1/users/{bob.username}/followers")
    following = await graph.usernames(f"/api/v1/users/{alice.username}/following")
    assert (await graph.counts(bob.username))["followers"] == len(followers)
    assert (await graph.counts(alice.username))["following"] == len(following)
    assert followers == ([alice.username] if following else [])


@pytest.mark.settings(follows_per_day=3)
async def test_follows_are_rate_limited_per_user(users: Users, graph: Graph) -> None:
    alice = await users.create()
    others = [await users.create() for _ in range(4)]

    answers = [await graph.follow(alice, other) for other in others]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert (await graph.counts(alice.username))["following"] == 3


async def test_follow_and_unfollow_are_announced_after_commit(
    users: Users, graph: Graph, heard: Heard
) -> None:
    heard.listen(Followed, Unfollowed)
    alice, bob = await users.create(), await users.create()

    await graph.follow(alice, bob)
    await graph.follow(alice, bob)  # already following: nothing new to announce
    await graph.unfollow(alice, bob)

    # Events arrive in order, so a second Followed would come before the Unfollowed.
    assert await heard.wait_for(2) == [
        Followed(follower_id=int(alice.id), followee_id=int(bob.id)),
        Unfollowed(follower_id=int(alice.id), followee_id=int(bob.id)),
    ]


async def test_a_deleted_account_no_longer_counts_as_a_follower(
    client: httpx.AsyncClient, plaza: Any, users: Users, graph: Graph, heard: Heard
) -> None:
    heard.listen(AccountDeleted)
    leaving, star, followed_by_leaver = (
        await users.create(),
        await users.create(),
        await users.create(),
    )
    await graph.follow(leaving, star)
    await graph.follow(star, leaving)
    await graph.follow(leaving, followed_by_leaver)
    scheduled = await client.post(
        "/api/v1/me/deletion", json={"password": PASSWORD}, headers=leaving.headers
    )
    assert scheduled.status_code == 202, scheduled.text

    plaza.clock.advance(timedelta(days=plaza.settings.account_deletion_grace_days + 1))
    assert await plaza.lifecycle.purge_due() == 1
    await heard.wait_for(1)

    assert await graph.counts(star.username) == {"followers": 0, "following": 0, "posts": 0}
    assert (await graph.counts(followed_by_leaver.username))["followers"] == 0
    assert (await graph.profile(None, leaving.username)).status_code == 404
