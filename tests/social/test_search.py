"""Search: posts and users by text (FTS5 on SQLite, tsvector on PostgreSQL), newest
first with cursors, and never a 500 on odd query syntax."""

from __future__ import annotations

import pytest

from tests.conftest import Users
from tests.social.conftest import Graph, Posts


async def test_posts_are_found_by_words_newest_first(posts: Posts, users: Users) -> None:
    me = await users.create()
    first = await posts.create(me, "The quick brown fox")
    await posts.create(me, "a lazy dog")
    second = await posts.create(me, "another FOX appears #wildlife")
    assert await posts.search_ids(None, "fox") == [second["id"], first["id"]]
    assert await posts.search_ids(None, "quick fox") == [first["id"]]
    assert await posts.search_ids(None, "#wildlife") == [second["id"]]
    assert await posts.search_ids(None, "cat") == []


async def test_post_search_pages_with_cursors(posts: Posts, users: Users) -> None:
    me = await users.create()
    made = [(await posts.create(me, f"needle number {i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"q": "needle", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await posts.page("/api/v1/search/posts", None, **params)
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "fox AND", "NEAR(fox", "*", "fox OR OR -", "col:fox", "^fox", "'; DROP", "🦊"],
)
async def test_odd_query_syntax_never_fails(posts: Posts, users: Users, query: str) -> None:
    me = await users.create()
    await posts.create(me, "fox")
    for path in ("/api/v1/search/posts", "/api/v1/search/users"):
        response = await posts.client.get(path, params={"q": query})
        assert response.status_code == 200, (path, query, response.text)


async def test_empty_query_is_422(posts: Posts) -> None:
    response = await posts.client.get("/api/v1/search/posts", params={"q": ""})
    assert response.status_code == 422


async def test_users_are_found_by_username_and_display_name(
    posts: Posts, users: Users, graph: Graph
) -> None:
    ada = await users.create("ada_lovelace")
    grace = await users.create("grace_h")
    assert (await graph.set_profile(grace, display_name="Grace Hopper")).status_code == 200
    await users.create("someone_else")

    async def found(q: str) -> list[str]:
        page = await posts.page("/api/v1/search/users", None, q=q)
        return [u["username"] for u in page["data"]]

    assert await found("ada_lovelace") == [ada.username]
    assert await found("lovel") == [ada.username]  # the last word is a prefix
    assert await found("hopper") == [grace.username]
    assert await found("grace hop") == [grace.username]
    assert await found("nobody") == []
