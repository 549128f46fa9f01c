"""Profiles: what they show, who may edit what, the verified badge and the creator flag."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import delete

from plaza.premium import Entitlement
from plaza.social.models import SocialProfile
from tests.conftest import Account, Users
from tests.social.conftest import Graph


async def test_a_new_profile_shows_defaults_to_everyone(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    me = (await client.get("/api/v1/me", headers=alice.headers)).json()

    anonymous = await graph.profile(None, alice.username.upper())
    as_bob = await graph.profile(bob, alice.username)
    as_alice = await graph.profile(alice, alice.username)

    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body == {
        "id": alice.id,
        "username": alice.username,
        "display_name": "",
        "bio": "",
        "avatar_url": None,
        "banner_url": None,
        "website": "",
        "joined_at": me["created_at"],
        "verified": False,
        "is_creator": False,
        "is_private": False,
        "counts": {"followers": 0, "following": 0, "posts": 0},
        "viewer": None,
    }
    assert as_bob.json()["viewer"] == {
        "following": False,
        "followed_by": False,
        "requested": False,
        "blocking": False,
        "muting": False,
    }
    assert as_alice.json()["viewer"] is None


async def test_unknown_users_are_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/nobody_here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_editing_ones_profile(users: Users, graph: Graph) -> None:
    alice = await users.create()

    response = await graph.set_profile(
        alice,
        display_name="  Alice Liddell ",
        bio="Curiouser\nand curiouser",
        website="example.org/alice",
        is_creator=True,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Alice Liddell"
    assert body["bio"] == "Curiouser\nand curiouser"
    assert body["website"] == "https://example.org/alice"
    assert body["is_creator"] is True
    assert (await graph.profile(None, alice.username)).json()["display_name"] == "Alice Liddell"
    untouched = (await graph.set_profile(alice, bio="")).json()
    assert untouched["display_name"] == "Alice Liddell"
    assert untouched["bio"] == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"website": "javascript:alert(1)"}, "website"),
        ({"website": "ftp://example.org"}, "website"),
        ({"display_name": "x" * 51}, "display_name"),
        ({"display_name": "bell\x07"}, "display_name"),
        ({"bio": "b" * 161}, "bio"),
        ({"followers_count": 1_000_000}, "followers_count"),
        ({"avatar_media_id": "not-an-id"}, "avatar_media_id"),
    ],
)
async def test_bad_profile_edits_are_422_naming_the_field(
    users: Users, graph: Graph, fields: dict[str, Any], field: str
) -> None:
    alice = await users.create()

    response = await graph.set_profile(alice, **fields)

    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await graph.counts(alice.username))["followers"] == 0


async def test_the_verified_badge_comes_from_the_entitlement(
    plaza: Any, users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.follow(bob, alice)

    await plaza.entitlements.grant(int(bob.id), Entitlement.VERIFIED, until=None, source="test")

    assert (await graph.profile(None, bob.username)).json()["verified"] is True
    assert (await graph.profile(None, alice.username)).json()["verified"] is False
    [follower] = (await graph.client.get(f"/api/v1/users/{alice.username}/followers")).json()[
        "data"
    ]
    assert follower["verified"] is True


async def test_a_profile_row_is_made_on_first_use_if_missing(
    plaza: Any, users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    await plaza.bus.drain()
    async with plaza.db.session() as session:
        await session.execute(delete(SocialProfile))
        await session.commit()

    followed = await graph.follow(alice, bob)

    assert followed.json() == {"state": "following"}
    assert (await graph.profile(None, bob.username)).json()["counts"]["followers"] == 1
    assert (await graph.profile(None, alice.username)).json()["username"] == alice.username


async def test_editing_needs_a_session(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/me/profile", json={"bio": "hi"})

    assert response.status_code == 401


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


async def upload_image(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post(
        "/api/v1/media",
        headers=account.headers,
        files={"file": ("picture.png", png(), "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "ready"
    media_id: str = response.json()["id"]
    return media_id


async def test_avatar_and_banner_are_ones_own_images(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    first, second, banner = (
        await upload_image(client, alice),
        await upload_image(client, alice),
        await upload_image(client, alice),
    )
    bobs = await upload_image(client, bob)

    set_first = await graph.set_profile(alice, avatar_media_id=first, banner_media_id=banner)
    same_again = await graph.set_profile(alice, avatar_media_id=first)
    replaced = await graph.set_profile(alice, avatar_media_id=second)
    someone_elses = await graph.set_profile(alice, avatar_media_id=bobs)
    old_one_back = await graph.set_profile(alice, avatar_media_id=first)
    removed = await graph.set_profile(alice, banner_media_id=None)

    assert set_first.status_code == 200, set_first.text
    assert f"/media/{first}/" in set_first.json()["avatar_url"]
    assert f"/media/{banner}/" in set_first.json()["banner_url"]
    assert same_again.status_code == 200
    assert f"/media/{second}/" in replaced.json()["avatar_url"]
    assert someone_elses.status_code == 422
    assert someone_elses.json()["errors"][0]["field"] == "avatar_media_id"
    # The replaced picture was released: it cannot come back.
    assert old_one_back.status_code == 422
    assert removed.json()["banner_url"] is None
    profile = (await graph.profile(None, alice.username)).json()
    assert f"/media/{second}/" in profile["avatar_url"]
    assert profile["banner_url"] is None


async def test_the_profile_page_follows_the_api_rules(
    client: httpx.AsyncClient, users: Users, graph: Graph
) -> None:
    alice, bob = await users.create(), await users.create()
    await graph.set_profile(alice, display_name="Alice <b>L</b>", website="example.org")

    public = await client.get(f"/@{alice.username}", headers={"Accept": "text/html"})
    own = await client.get(f"/@{alice.username}", headers=alice.headers)
    followers = await client.get(f"/@{alice.username}/followers")
    await graph.block(alice, bob)
    blocked = await client.get(f"/@{alice.username}", headers=bob.headers)
    unknown = await client.get("/@nobody_here")

    assert public.status_code == 200
    assert "Alice &lt;b&gt;L&lt;/b&gt;" in public.text
    assert 'href="https://example.org"' in public.text
    assert f'data-timeline="/api/v1/users/{alice.username}/posts?tab=posts"' in public.text
    assert 'id="profile-form"' not in public.text
    assert 'id="profile-form"' in own.text
    assert followers.status_code == 200
    assert blocked.status_code == unknown.status_code == 404


async def test_settings_pages_need_a_session(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()

    for path in ("/notifications", "/settings/privacy"):
        signed_out = await client.get(path)
        signed_in = await client.get(path, headers=alice.headers)
        assert signed_out.status_code == 303
        assert signed_in.status_code == 200
        assert 'href="/notifications"' in signed_in.text
