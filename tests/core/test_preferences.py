"""The composed settings endpoint: sections merged into one flat object, PATCH with
per-field validation, each section saving only its own changed fields."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI, Header
from pydantic import BaseModel, Field

from plaza.core.errors import Unauthorized, install_problem_handlers
from plaza.core.preferences import PreferenceSection, SettingsComposer, build_settings_router


class MessagingModel(BaseModel):
    dm_policy: Literal["everyone", "following", "nobody"] = "everyone"
    read_receipts: bool = True


class CallsModel(BaseModel):
    calls_enabled: bool = True
    ring_seconds: int = Field(default=30, ge=5, le=120)


class MemorySection:
    """A section that keeps values in a dict, and records what it was asked to save."""

    def __init__(self, name: str, model: type[BaseModel]) -> None:
        self.name = name
        self.model = model
        self.values: dict[int, dict[str, Any]] = {}
        self.saved: list[tuple[int, dict[str, Any]]] = []

    async def load(self, user_id: int) -> BaseModel:
        return self.model(**self.values.get(user_id, {}))

    async def save(self, user_id: int, changes: dict[str, Any]) -> None:
        self.saved.append((user_id, changes))
        self.values.setdefault(user_id, {}).update(changes)


class Principal(BaseModel):
    user_id: int


async def fake_auth(x_user: int | None = Header(default=None)) -> Principal:
    # Stands in for Authenticator.required: the core takes any dependency.
    if x_user is None:
        raise Unauthorized("Sign in first.")
    return Principal(user_id=x_user)


@pytest.fixture
def sections() -> tuple[MemorySection, MemorySection]:
    return MemorySection("messaging", MessagingModel), MemorySection("calls", CallsModel)


@pytest.fixture
def settings_app(sections: tuple[MemorySection, MemorySection]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(build_settings_router(fake_auth, lambda p: p.user_id, list(sections)))
    return app


@pytest.fixture
async def client(settings_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=settings_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


ALICE = {"X-User": "7"}


async def test_get_merges_every_section_with_defaults(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/me/settings", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {
        "dm_policy": "everyone",
        "read_receipts": True,
        "calls_enabled": True,
        "ring_seconds": 30,
    }
    assert (await client.get("/api/v1/me/settings")).status_code == 401


async def test_patch_saves_only_the_named_fields_of_each_section(
    client: httpx.AsyncClient, sections: tuple[MemorySection, MemorySection]
) -> None:
    messaging, calls = sections
    response = await client.patch(
        "/api/v1/me/settings", json={"dm_policy": "nobody", "ring_seconds": 45}, headers=ALICE
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dm_policy": "nobody",
        "read_receipts": True,
        "calls_enabled": True,
        "ring_seconds": 45,
    }
    assert messaging.saved == [(7, {"dm_policy": "nobody"})]
    assert calls.saved == [(7, {"ring_seconds": 45})]
    # A section none of whose fields is named is not asked to save.
    await client.patch("/api/v1/me/settings", json={"calls_enabled": False}, headers=ALICE)
    assert messaging.saved == [(7, {"dm_policy": "nobody"})]
    assert calls.saved[-1] == (7, {"calls_enabled": False})
    # Another user's settings are their own.
    other = await client.get("/api/v1/me/settings", headers={"X-User": "8"})
    assert other.json()["dm_policy"] == "everyone"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"balance": 1e9}, "balance"),
        ({"dm_policy": "strangers"}, "dm_policy"),
        ({"dm_policy": None}, "dm_policy"),
        ({"ring_seconds": 1}, "ring_seconds"),
        ({"read_receipts": "perhaps"}, "read_receipts"),
    ],
)
async def test_bad_fields_are_422_naming_the_field_and_nothing_is_saved(
    client: httpx.AsyncClient,
    sections: tuple[MemorySection, MemorySection],
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.patch(
        "/api/v1/me/settings", json={"calls_enabled": False, **body}, headers=ALICE
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert all(not s.saved for s in sections)


def test_openapi_shows_the_merged_schema(settings_app: FastAPI) -> None:
    schemas = settings_app.openapi()["components"]["schemas"]
    assert set(schemas["UserSettings"]["properties"]) == {
        "dm_policy",
        "read_receipts",
        "calls_enabled",
        "ring_seconds",
    }
    patch = schemas["UserSettingsPatch"]
    assert patch["additionalProperties"] is False
    assert "required" not in patch
    assert patch["properties"]["ring_seconds"]["maximum"] == 120
    assert "default" not in patch["properties"]["dm_policy"]


def test_two_sections_may_not_declare_the_same_field() -> None:
    clash = MemorySection("dms", MessagingModel)
    sections: list[PreferenceSection] = [MemorySection("messaging", MessagingModel), clash]
    with pytest.raises(ValueError, match="dm_policy"):
        SettingsComposer(sections)
