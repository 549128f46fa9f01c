"""Schemathesis against /openapi.json: no 5xx, and answers that match the schema.

Each operation is its own test (signed out and signed in), so that a known bug can be
marked on exactly the operation it affects. Schemathesis' pytest plugin
(``from_fixture``) is not used: it sets ``Node._nodeid``, which pytest 9 removed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import make_url

from plaza.app import create_app
from plaza.config import Settings
from tests.conftest import PASSWORD, REDIS_URL, _empty_postgres

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# Not `positive_data_acceptance`: a schema-valid request may still break a rule (a
# common password, a wrong code, a cursor this server never issued), and Plaza
# answers those with a 422 problem by design.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _operations() -> list[tuple[str, str]]:
    """The operations of the document, read at collection time (no database needed)."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(
            Settings(data_dir=Path(data_dir), secret_key="collect-" + "x" * 32, log_json=False)
        )
        document = app.openapi()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzz_app(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    if database_template.startswith("sqlite"):
        target = data_dir / "plaza.db"
        shutil.copyfile(Path(make_url(database_template).database or ""), target)
        url = f"sqlite+aiosqlite:///{target}"
    else:
        asyncio.run(_empty_postgres(database_template))
        url = database_template
    app = create_app(
        Settings(
            data_dir=data_dir,
            database_url=url,
            redis_url=REDIS_URL,
            redis_prefix=f"plaza-fuzz-{uuid.uuid4().hex[:12]}",
            secret_key="fuzz-" + uuid.uuid4().hex,
            auto_migrate=False,
            log_json=False,
            signups_per_ip_per_hour=100_000,
            login_failures_per_hour=100_000,
        )
    )
    yield app
    # Schemathesis runs the app, lifespan included, on its own event-loop thread.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.fixture(scope="module")
def token(fuzz_app: FastAPI) -> str:
    username = f"fuzzer_{uuid.uuid4().hex[:8]}"
    with asgi.get_client(fuzz_app) as client:
        created = client.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
        assert created.status_code == 201, created.text
        signed_in = client.post(
            "/api/v1/sessions", json={"username": username, "password": PASSWORD}
        )
        assert signed_in.status_code == 201, signed_in.text
        return str(signed_in.json()["token"])


def _fuzz(api_schema: Any, method: str, path: str, headers: dict[str, str]) -> None:
    operation = api_schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_signed_out(api_schema: Any, method: str, path: str) -> None:
    _fuzz(api_schema, method, path, {})


@pytest.mark.parametrize(
    ("method", "path"),
    # Signing out would end the session the other operations run with.
    [op for op in OPERATIONS if op != ("DELETE", "/api/v1/sessions/current")],
)
def test_signed_in(api_schema: Any, token: str, method: str, path: str) -> None:
    _fuzz(api_schema, method, path, {"Authorization": f"Bearer {token}"})
