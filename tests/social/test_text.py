"""Post text: counting as X counts (graphemes, URLs as 23, NFC), the 280 boundary
through the API, long posts with Premium, and entities with code-point offsets."""

from __future__ import annotations

from typing import Any

import pytest

from plaza.premium import Entitlement
from plaza.social.text import parse, weighted_length
from tests.conftest import Users
from tests.social.conftest import Posts

FAMILY = "👨\u200d👩\u200d👧"  # three people joined by zero-width joiners: one grapheme
URL = "https://example.com/" + "a" * 100


def problem_field(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["field"])


@pytest.mark.parametrize(
    ("text", "length"),
    [
        (FAMILY, 1),
        ("e\u0301", 1),  # e + combining acute: one character, and NFC makes it "é"
        ("é", 1),
        ("🇳🇱", 1),  # a flag is two regional indicators
        ("abc", 3),
        (URL, 23),
        (f"see {URL} now", 4 + 23 + 4),
        ("https://x.org", 23),  # a short URL counts 23 too
        ("visit plaza.dev", 6 + 23),  # no scheme, a common TLD
        ("notes.txt and e.g. this", 23),  # not links
        ("abc.de/path", 23),  # a country TLD with a path
    ],
)
def test_weighted_length(text: str, length: int) -> None:
    assert weighted_length(text) == length


def test_text_is_nfc_normalised() -> None:
    assert parse("cafe\u0301").text == "café"


def test_entities_have_code_point_offsets() -> None:
    text = f"{FAMILY} @alice_1 likes #café and #日本語, not #1 or a#b: https://x.org/p?q=1."
    parsed = parse(text)
    entities = parsed.entities()
    for kind, key, expected in [
        ("mentions", "username", ["alice_1"]),
        ("hashtags", "tag", ["café", "日本語"]),
        ("urls", "url", ["https://x.org/p?q=1"]),
    ]:
        assert [e[key] for e in entities[kind]] == expected
        for entity in entities[kind]:
            sliced = parsed.text[int(entity["start"]) : int(entity["end"])]
            assert sliced.lstrip("@#") == entity[key]


def test_email_addresses_are_not_mentions() -> None:
    assert parse("write to me@example.com").mentions == []


async def test_280_graphemes_pass_and_281_are_refused(posts: Posts, users: Users) -> None:
    me = await users.create()
    assert (await posts.post(me, FAMILY * 280)).status_code == 201
    refused = await posts.post(me, FAMILY * 281)
    assert refused.status_code == 422
    assert problem_field(refused.json()) == "text"


async def test_a_url_counts_23_at_the_boundary(posts: Posts, users: Users) -> None:
    me = await users.create()
    assert (await posts.post(me, "x" * 256 + " " + URL)).status_code == 201  # 256 + 1 + 23
    refused = await posts.post(me, "x" * 257 + " " + URL)
    assert refused.status_code == 422
    assert problem_field(refused.json()) == "text"


async def test_empty_text_without_media_is_refused(posts: Posts, users: Users) -> None:
    me = await users.create()
    refused = await posts.post(me, "   ")
    assert refused.status_code == 422
    assert problem_field(refused.json()) == "text"


async def test_long_posts_need_the_entitlement(posts: Posts, users: Users, plaza: Any) -> None:
    me = await users.create()
    long_text = "word " * 1000
    refused = await posts.post(me, long_text)
    assert refused.status_code == 422
    assert problem_field(refused.json()) == "text"
    await plaza.entitlements.grant(int(me.id), Entitlement.LONG_POSTS, until=None, source="test")
    created = await posts.create(me, long_text)
    assert created["text"] == long_text
    too_long = await posts.post(me, "x" * 25_001)
    assert too_long.status_code == 422
    assert problem_field(too_long.json()) == "text"


async def test_entities_are_served_and_mentions_notify(
    posts: Posts, users: Users, graph: Any
) -> None:
    author, named = await users.create(), await users.create()
    post = await posts.create(author, f"hey @{named.username} #Plaza plaza.dev")
    mentions = post["entities"]["mentions"]
    assert [m["username"] for m in mentions] == [named.username]
    assert post["text"][mentions[0]["start"] : mentions[0]["end"]] == "@" + named.username
    assert [h["tag"] for h in post["entities"]["hashtags"]] == ["Plaza"]
    assert [u["url"] for u in post["entities"]["urls"]] == ["plaza.dev"]
    notes = await graph.notifications(named)
    assert [(n["kind"], n["post_id"], n["actor"]["username"]) for n in notes] == [
        ("mention", post["id"], author.username)
    ]


async def test_a_mention_does_not_notify_someone_who_blocked_the_author(
    posts: Posts, users: Users, graph: Any
) -> None:
    author, named = await users.create(), await users.create()
    assert (await graph.block(named, author)).status_code == 204
    await posts.create(author, f"hey @{named.username}")
    assert await graph.notifications(named) == []
