"""The `plaza` command as an operator uses it: demo data, accounts, admin helpers, serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from plaza.cli import DEMO_PASSWORD, DEMO_USERS, main
from tests.conftest import REDIS_URL


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "PLAZA_DATABASE_URL": database_url,
        "PLAZA_DATA_DIR": str(tmp_path),
        "PLAZA_SECRET_KEY": "cli-test-secret",
        "PLAZA_LOG_JSON": "false",
    }
    if REDIS_URL:
        values["PLAZA_REDIS_URL"] = REDIS_URL
        values["PLAZA_REDIS_PREFIX"] = f"cli-test-{os.getpid()}"
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _invoke(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_creates_the_documented_accounts_once(env: dict[str, str]) -> None:
    first = _invoke("demo")
    assert "new: ['demo', 'alice', 'bob', 'carol']" in first
    again = _invoke("demo")
    assert "new: []" in again


def test_createuser_admin_and_set_password(env: dict[str, str]) -> None:
    _invoke("createuser", "operator", "--admin", "--password-stdin", input="a long passphrase\n")
    refused = CliRunner().invoke(
        main, ["createuser", "weak", "--password-stdin"], input="password\n"
    )
    assert refused.exit_code != 0
    assert "too common" in refused.output
    _invoke("admin", "set-password", "operator", "--password-stdin", input="another passphrase\n")
    _invoke("admin", "make-admin", "operator", "--revoke")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_quick_start(env: dict[str, str]) -> None:
    """`plaza demo` then `plaza serve`: the demo account can sign in over HTTP."""
    _invoke("demo")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "plaza.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        signed_in = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/sessions",
            json={"username": DEMO_USERS[0], "password": DEMO_PASSWORD},
        )
        assert signed_in.status_code == 201
        assert signed_in.json()["user"]["username"] == "demo"
        as_demo = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        inbox = httpx.get(f"http://127.0.0.1:{port}/api/v1/conversations", headers=as_demo)
        assert inbox.status_code == 200, inbox.text
        [chat] = inbox.json()["data"]
        assert chat["last_message"]["sender"]["username"] == "alice"
        assert chat["unread_count"] == 1
    finally:
        server.terminate()
        server.wait(timeout=10)
