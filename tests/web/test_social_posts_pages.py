"""The posts side of the social pages: the home timeline replaces the signed-in home
page, and the thread and search pages are shells for their ES modules."""

from __future__ import annotations

from typing import Any

import httpx

from plaza.premium import Entitlement
from tests.conftest import Users

HTML = {"Accept": "text/html"}


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    home = await client.get("/", headers=HTML)
    assert (home.status_code, home.headers["location"]) == (303, "/login")
    search = await client.get("/search", params={"q": "#golden"}, headers=HTML)
    assert search.status_code == 303
    assert search.headers["location"] == "/login?next=/search%3Fq%3D%2523golden"
    thread = await client.get("/@someone/status/123", headers=HTML)
    assert thread.headers["location"] == "/login?next=/%40someone/status/123"


async def test_home_is_the_timeline_with_a_composer_sized_for_the_author(
    client: httpx.AsyncClient, users: Users, plaza: Any
) -> None:
    alice = await users.create()
    page = await client.get("/", headers={**HTML, **alice.headers})
    assert page.status_code == 200
    html = page.text
    assert 'data-timeline="/api/v1/timelines/home"' in html
    assert 'data-composer data-max-length="280"' in html
    assert f'<meta name="plaza-user" content="{alice.username}">' in html
    assert '<a href="/search">Search</a>' in html
    # Image and video previews come from blob: URLs, which the page policy allows.
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in policy
    assert "media-src 'self' blob:" in policy

    await plaza.entitlements.grant(int(alice.id), Entitlement.LONG_POSTS, until=None, source="test")
    long_posts = await client.get("/", headers={**HTML, **alice.headers})
    assert 'data-composer data-max-length="25000"' in long_posts.text


async def test_thread_and_search_pages(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()
    headers = {**HTML, **alice.headers}

    thread = await client.get("/@bob/status/386150682974732288", headers=headers)
    assert thread.status_code == 200
    assert 'data-post-id="386150682974732288"' in thread.text
    not_an_id = await client.get("/@bob/status/latest", headers=headers)
    assert not_an_id.status_code == 404
    assert "Page not found" in not_an_id.text

    posts = await client.get("/search", params={"q": " #golden "}, headers=headers)
    assert posts.status_code == 200
    assert 'data-timeline="/api/v1/search/posts?q=%23golden"' in posts.text
    assert '<a class="tabs__tab" href="/search?q=%23golden" aria-current="page">Posts' in posts.text

    people = await client.get("/search", params={"q": "bo", "tab": "people"}, headers=headers)
    assert 'data-people="/api/v1/search/users?q=bo"' in people.text
    assert "data-timeline=" not in people.text

    unknown_tab = await client.get("/search", params={"q": "bo", "tab": "x"}, headers=headers)
    assert 'data-timeline="/api/v1/search/posts?q=bo"' in unknown_tab.text

    empty = await client.get("/search", headers=headers)
    assert "data-timeline=" not in empty.text
    assert "data-people=" not in empty.text
