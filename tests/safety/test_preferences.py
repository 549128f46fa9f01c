"""The viewer's sensitive-media choice, through /api/v1/me/settings."""

from __future__ import annotations

from typing import Any

import httpx

from plaza.safety import SensitiveMedia
from tests.conftest import Users
from tests.safety.conftest import problem_fields


async def test_sensitive_media_defaults_to_warn_and_can_be_changed(
    client: httpx.AsyncClient, plaza: Any, users: Users
) -> None:
    alice, bob = await users.create(), await users.create()
    current = await client.get("/api/v1/me/settings", headers=alice.headers)
    assert current.status_code == 200
    assert current.json()["sensitive_media"] == "warn"
    for choice in ("hide", "show"):
        changed = await client.patch(
            "/api/v1/me/settings", json={"sensitive_media": choice}, headers=alice.headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["sensitive_media"] == choice
    assert await plaza.safety.sensitive_media_preference(int(alice.id)) is SensitiveMedia.SHOW
    assert await plaza.safety.sensitive_media_preference(int(bob.id)) is SensitiveMedia.WARN
    assert await plaza.safety.sensitive_media_preference(None) is SensitiveMedia.WARN
    # An empty PATCH changes nothing.
    same = await client.patch("/api/v1/me/settings", json={}, headers=alice.headers)
    assert same.json()["sensitive_media"] == "show"


async def test_bad_settings_are_422_naming_the_field(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    for body, field in [
        ({"sensitive_media": "blur"}, "sensitive_media"),
        ({"sensitive_media": None}, "sensitive_media"),
        ({"is_admin": True}, "is_admin"),
    ]:
        refused = await client.patch("/api/v1/me/settings", json=body, headers=alice.headers)
        assert refused.status_code == 422
        assert problem_fields(refused) == [field]
    client.cookies.clear()
    assert (await client.get("/api/v1/me/settings")).status_code == 401


async def test_the_settings_schema_is_published(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    patch = schema["paths"]["/api/v1/me/settings"]["patch"]
    ref = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert "sensitive_media" in body["properties"]
    assert body["additionalProperties"] is False
