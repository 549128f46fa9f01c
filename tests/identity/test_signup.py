"""Signing up: a username and a password, nothing else (and never a phone number)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Users
from tests.identity.helpers import problem_fields, stored_user


async def sign_up(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/accounts", json=body)


async def test_sign_up_needs_only_a_username_and_password(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, username="alice", password=PASSWORD)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "alice"
    assert body["id"].isdigit()  # ids travel as strings
    assert body["is_admin"] is False
    assert body["two_factor_enabled"] is False
    assert not any("phone" in key for key in body)
    signed_in = await client.post(
        "/api/v1/sessions", json={"username": "alice", "password": PASSWORD}
    )
    assert signed_in.status_code == 201
    assert signed_in.json()["user"]["id"] == body["id"]


async def test_a_taken_username_is_a_conflict_whatever_its_case(
    client: httpx.AsyncClient,
) -> None:
    assert (await sign_up(client, username="alice", password=PASSWORD)).status_code == 201

    again = await sign_up(client, username="alice", password=PASSWORD + "!")
    shouted = await sign_up(client, username="ALICE", password=PASSWORD + "!")

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert shouted.status_code == 409
    # The original owner's password still works: the second sign-up changed nothing.
    signed_in = await client.post(
        "/api/v1/sessions", json={"username": "Alice", "password": PASSWORD}
    )
    assert signed_in.status_code == 201
    assert signed_in.json()["user"]["username"] == "alice"


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("password1", id="common"),
        pytest.param("QWERTYUIOP", id="common-any-case"),
        pytest.param("Sh0rt!", id="too-short"),
        pytest.param("carol_the_user", id="same-as-username"),
    ],
)
async def test_weak_passwords_are_refused_naming_the_field(
    client: httpx.AsyncClient, plaza: Any, password: str
) -> None:
    response = await sign_up(client, username="carol_the_user", password=password)

    assert response.status_code == 422, response.text
    assert problem_fields(response) == ["password"]
    assert await stored_user(plaza, "carol_the_user") is None


async def test_an_empty_password_is_refused(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, username="dave", password="")
    assert response.status_code == 422
    assert "password" in problem_fields(response)


@pytest.mark.parametrize(
    ("username", "why"),
    [("admin", "reserved"), ("ab", "too short"), ("no spaces", "bad characters")],
)
async def test_unusable_usernames_are_refused(
    client: httpx.AsyncClient, username: str, why: str
) -> None:
    response = await sign_up(client, username=username, password=PASSWORD)
    assert response.status_code == 422, why
    assert problem_fields(response) == ["username"]


@pytest.mark.parametrize("field", ["is_admin", "phone", "id"])
async def test_unknown_fields_are_refused_so_nobody_signs_up_as_admin(
    client: httpx.AsyncClient, plaza: Any, field: str
) -> None:
    value: Any = {"is_admin": True, "phone": "+15555550100", "id": "1"}[field]

    response = await sign_up(client, username="mallory", password=PASSWORD, **{field: value})

    assert response.status_code == 422
    assert field in problem_fields(response)
    assert await stored_user(plaza, "mallory") is None


async def test_a_new_account_is_never_an_admin(client: httpx.AsyncClient, users: Users) -> None:
    account = await users.create()
    me = await client.get("/api/v1/me", headers=account.headers)
    assert me.json()["is_admin"] is False


async def test_the_api_has_no_phone_field_anywhere(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.extend(str(key) for key in node)
            if isinstance(node.get("name"), str):  # query, path and header parameters
                names.append(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert {"username", "password", "mfa_token"} <= set(names)  # the walk sees fields
    assert [n for n in names if "phone" in n.lower()] == []


async def test_email_is_optional_and_validated(client: httpx.AsyncClient) -> None:
    bad = await sign_up(client, username="erin", password=PASSWORD, email="not-an-email")
    good = await sign_up(client, username="erin", password=PASSWORD, email="Erin@Example.org")

    assert bad.status_code == 422
    assert problem_fields(bad) == ["email"]
    assert good.status_code == 201
    assert good.json()["email"] == "erin@example.org"


@pytest.mark.settings(signups_per_ip_per_hour=2)
async def test_sign_ups_are_limited_per_address(client: httpx.AsyncClient, browser: Any) -> None:
    for name in ("frank1", "frank2"):
        assert (await sign_up(client, username=name, password=PASSWORD)).status_code == 201

    third = await sign_up(client, username="frank3", password=PASSWORD)
    elsewhere = await sign_up(await browser("10.0.0.7"), username="frank3", password=PASSWORD)

    assert third.status_code == 429
    assert int(third.headers["retry-after"]) > 0
    assert elsewhere.status_code == 201
