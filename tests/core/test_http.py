"""The HTTP surface every domain shares: problem documents, limits, request ids,
health, readiness, metrics and the API description."""

from __future__ import annotations

import logging
import re
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url

from plaza.app import create_app
from plaza.config import Settings
from plaza.core.logging import JsonFormatter, TextFormatter
from plaza.core.pagination import encode_cursor
from tests.conftest import Users

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str)
        assert body[member]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    assert body["title"] == "Not found"


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/me")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_validation_errors_name_the_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/accounts", json={"username": "x"})
    body = assert_problem(response, 422)
    assert {"username", "password"} <= fields(body)
    assert all(isinstance(e["message"], str) and e["message"] for e in body["errors"])


async def test_unknown_fields_are_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/accounts",
        json={"username": "mallory", "password": "correct horse battery", "is_admin": True},
    )
    body = assert_problem(response, 422)
    assert fields(body) == {"is_admin"}


@pytest.mark.parametrize(
    "payload",
    [b'{"username": "a', b"not json at all", b"", b"[1, 2]", b'"just a string"', b"\xff\xfe"],
)
async def test_malformed_json_is_a_422_not_a_500(client: httpx.AsyncClient, payload: bytes) -> None:
    response = await client.post(
        "/api/v1/accounts", content=payload, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)


async def test_unauthenticated_is_a_401_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/me"), 401)
    bad = await client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert_problem(bad, 401)


async def test_a_declared_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    body = b'{"username": "' + b"a" * settings.max_body_bytes + b'"}'
    response = await client.post(
        "/api/v1/accounts", content=body, headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 413)
    assert str(settings.max_body_bytes) in problem["detail"]


async def test_only_file_uploads_get_the_upload_limit(
    client: httpx.AsyncClient, settings: Settings, users: Any
) -> None:
    me = await users.create()
    over_body_limit = b"a" * (settings.max_body_bytes + 1)
    # The small JSON endpoints beside the uploads keep the ordinary limit...
    alt_text = await client.patch("/api/v1/media/1", content=over_body_limit, headers=me.headers)
    assert_problem(alt_text, 413)
    # ...while an upload of the same size reaches the media service, which judges it.
    upload = await client.post(
        "/api/v1/media", files={"file": ("x.bin", over_body_limit)}, headers=me.headers
    )
    assert upload.status_code != 413, upload.text


async def test_a_nonsense_content_length_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/accounts", content=b"{}", headers={"content-length": "-1"}
    )
    assert_problem(response, 413)


async def test_a_streamed_body_over_the_limit_is_a_413(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"username": "'
        while sent <= settings.max_body_bytes:
            sent += 64 * 1024
            yield b"a" * (64 * 1024)
        yield b'"}'

    response = await client.post(
        "/api/v1/accounts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_a_streamed_body_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "streamer", '
        yield b'"password": "correct horse battery staple"}'

    response = await client.post(
        "/api/v1/accounts", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "streamer"


async def test_page_size_is_capped(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()
    too_big = await client.get("/api/v1/me/security-log?limit=1000", headers=alice.headers)
    assert fields(assert_problem(too_big, 422)) == {"query.limit"}
    zero = await client.get("/api/v1/me/security-log?limit=0", headers=alice.headers)
    assert fields(assert_problem(zero, 422)) == {"query.limit"}


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        encode_cursor(-1),
        encode_cursor(2**64),  # beyond the 64-bit ids the database can compare with
        "eyJiIjpudWxsfQ",  # {"b":null}
        "W10",  # []
    ],
)
async def test_a_bad_cursor_is_a_422(client: httpx.AsyncClient, users: Users, cursor: str) -> None:
    alice = await users.create()
    response = await client.get(
        "/api/v1/me/security-log", params={"cursor": cursor}, headers=alice.headers
    )
    assert fields(assert_problem(response, 422)) == {"query.cursor"}


async def test_cursors_page_through_a_list(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()
    for _ in range(3):  # each sign-in adds to the security log
        await users.sign_in(alice.username)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get("/api/v1/me/security-log", params=params, headers=alice.headers)
        ).json()
        assert len(page["data"]) <= 2
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) >= 4
    assert len(set(seen)) == len(seen)
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True)


async def test_request_ids_are_generated_and_echoed(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.123_XYZ"})
    assert response.headers["x-request-id"] == "trace-abc.123_XYZ"


@pytest.mark.parametrize(
    "incoming", ["short", "has spaces in it", "x" * 129, "semi;colon;value", "new\\nline-injected"]
)
async def test_an_insane_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, incoming: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="plaza.access")
    return caplog


async def test_the_access_log_carries_the_request_id(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    # Format at emit time with Plaza's own formatters, as the configured handler does.
    access_log.handler.setFormatter(TextFormatter("%(name)s %(message)s"))
    request_id = f"req-{uuid.uuid4().hex}"
    response = await client.get("/api/v1/me", headers={"X-Request-ID": request_id})
    assert response.status_code == 401
    lines = [line for line in access_log.text.splitlines() if "plaza.access" in line]
    assert lines == [f"plaza.access GET /api/v1/me 401 [request_id={request_id}]"]
    record = next(r for r in access_log.records if r.name == "plaza.access")
    assert record.status == 401  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]


async def test_json_logs_carry_the_request_id(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    import orjson

    access_log.handler.setFormatter(JsonFormatter())
    await client.get("/api/v1/no-such-thing", headers={"X-Request-ID": "json-request-0001"})
    entries = [orjson.loads(line) for line in access_log.text.splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "plaza.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == "json-request-0001"
    assert access[0]["status"] == 404
    assert access[0]["msg"] == "GET /api/v1/no-such-thing 404"


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def _unstarted_client(settings: Settings) -> tuple[FastAPI, httpx.AsyncClient]:
    # Built but not started: the lifespan would refuse to start without the dependency.
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    return app, httpx.AsyncClient(transport=transport, base_url="http://localhost")


async def test_readyz_is_a_503_problem_when_the_database_is_down(
    closed_port: int, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql+asyncpg://plaza@127.0.0.1:{closed_port}/plaza",
        secret_key="x" * 32,
    )
    app, client = await _unstarted_client(settings)
    try:
        async with client:
            assert (await client.get("/healthz")).status_code == 200
            assert_problem(await client.get("/readyz"), 503)
    finally:
        await app.state.plaza.db.dispose()


async def test_readyz_is_a_503_problem_when_redis_is_down(
    closed_port: int, tmp_path: Path, database_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        secret_key="x" * 32,
    )
    app, client = await _unstarted_client(settings)
    try:
        async with client:
            assert_problem(await client.get("/readyz"), 503)
    finally:
        await app.state.plaza.db.dispose()
        await app.state.plaza.redis.aclose()


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    client.cookies.clear()  # signing in set a session cookie
    await client.get("/api/v1/me", headers=alice.headers)
    await client.get("/api/v1/me")
    for session_id in (1, 2, 3):
        await client.delete(f"/api/v1/me/sessions/{session_id}", headers=alice.headers)
    await client.get(f"/api/v1/not-a-route-{uuid.uuid4().hex}")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    def count(method: str, route: str, status: int) -> float:
        pattern = (
            rf'^plaza_http_requests_total\{{method="{method}",route="{re.escape(route)}",'
            rf'status="{status}"\}} (\S+)$'
        )
        match = re.search(pattern, text, re.MULTILINE)
        assert match, f"no sample for {method} {route} {status}"
        return float(match.group(1))

    assert count("GET", "/api/v1/me", 200) == 1
    assert count("GET", "/api/v1/me", 401) == 1
    assert count("POST", "/api/v1/accounts", 201) == 1
    # One series for the route, whatever the id: no label per URL.
    deletes = re.findall(r'route="/api/v1/me/sessions/\{session_id\}"', text)
    assert deletes
    assert "/api/v1/me/sessions/1" not in text
    assert "not-a-route" not in text
    assert 'route="unmatched"' in text
    assert "plaza_http_request_duration_seconds_bucket" in text


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/accounts" in document["paths"]
    assert "/api/v1/me" in document["paths"]
    # Errors are documented as what they are: problem documents, for every status.
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    sign_up = document["paths"]["/api/v1/accounts"]["post"]["responses"]
    assert sign_up["422"]["content"] == problem
    assert sign_up["409"]["content"] == problem
    assert sign_up["default"]["content"] == problem
    assert document["paths"]["/api/v1/me"]["get"]["responses"]["default"]["content"] == problem
    required = document["components"]["schemas"]["Problem"]["required"]
    assert set(required) == {"type", "title", "status", "detail"}
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_a_write_that_cannot_get_sqlites_lock_is_a_503_to_retry(
    settings: Settings, users: Users
) -> None:
    """Overload on SQLite (the one writer held past the busy timeout) is a 503 with
    Retry-After, not a 500, and nothing is half-written: the retry succeeds."""
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's single-writer lock")
    alice = await users.create()
    impatient = settings.model_copy(update={"sqlite_busy_timeout_ms": 100})
    app = create_app(impatient)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            path = make_url(settings.resolved_database_url).database or ""
            holder = sqlite3.connect(path, isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")
                busy = await c.patch(
                    "/api/v1/me/profile", json={"bio": "hello"}, headers=alice.headers
                )
                body = assert_problem(busy, 503)
                assert busy.headers["retry-after"] == "1"
                assert "try again" in body["detail"].lower()
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            retried = await c.patch(
                "/api/v1/me/profile", json={"bio": "hello"}, headers=alice.headers
            )
            assert retried.status_code == 200, retried.text
            assert retried.json()["bio"] == "hello"
