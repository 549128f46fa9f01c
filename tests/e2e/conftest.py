"""End-to-end fixtures: a live Plaza server (uvicorn subprocess) on a fresh database,
and Chromium driven by Playwright.

The browser visits ``http://localhost:PORT`` (not 127.0.0.1) so that the WebAuthn
relying-party id "localhost" matches the page origin.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import IN_CI, REDIS_URL

CHROMIUM = os.environ.get("PLAZA_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVE_SCRIPT = Path(__file__).with_name("serve.py")
# Generous: a loaded CI machine takes tens of seconds to import Plaza and migrate.
STARTUP_SECONDS = 120
ACTION_TIMEOUT_MS = 10_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    log: Path

    def api(self) -> httpx.Client:
        """A plain HTTP client for the server (for setup that is not under test)."""
        return httpx.Client(base_url=self.url, timeout=10)


class ServerProcesses:
    """Starts ``serve.py`` processes: uvicorn serving ``app_from_environment``.

    One process is kept waiting with Plaza already imported; a test hands it its
    settings and port, and the next one starts warming up meanwhile.
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._count = 0
        self._spare: tuple[subprocess.Popen[bytes], Path] | None = None

    def _spawn(self) -> tuple[subprocess.Popen[bytes], Path]:
        self._count += 1
        log = self.logs / f"server-{self._count}.log"
        # The settings come later on stdin; none may leak in from this environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, str(SERVE_SCRIPT)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return proc, log

    def start(self, settings: dict[str, str]) -> tuple[subprocess.Popen[bytes], int, Path]:
        proc, log = self._spare or self._spawn()
        self._spare = None
        port = _free_port()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"env": settings, "port": port}).encode() + b"\n")
        proc.stdin.close()
        self._spare = self._spawn()
        return proc, port, log

    def close(self) -> None:
        if self._spare is not None:
            _stop(self._spare[0])
            self._spare = None


@pytest.fixture(scope="session")
def server_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcesses]:
    processes = ServerProcesses(tmp_path_factory.mktemp("servers"))
    yield processes
    processes.close()


@pytest.fixture
def server_settings() -> dict[str, str]:
    """Extra ``PLAZA_*`` settings for the test's server; a test module overrides this."""
    return {}


@pytest.fixture
def live_server(
    database_url: str,
    tmp_path: Path,
    server_processes: ServerProcesses,
    server_settings: dict[str, str],
) -> Iterator[LiveServer]:
    """Plaza served by uvicorn in a subprocess, on a free port and a fresh database."""
    settings = {
        "PLAZA_DATABASE_URL": database_url,
        "PLAZA_DATA_DIR": str(tmp_path / "data"),
        "PLAZA_SECRET_KEY": secrets.token_urlsafe(32),
        "PLAZA_REDIS_PREFIX": f"plaza-e2e-{secrets.token_hex(6)}",
        "PLAZA_LOG_JSON": "false",
        "PLAZA_LOG_LEVEL": "WARNING",
    }
    if REDIS_URL:
        settings["PLAZA_REDIS_URL"] = REDIS_URL
    settings.update(server_settings)
    proc, port, log = server_processes.start(settings)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/readyz", log)
        yield LiveServer(url=f"http://localhost:{port}", log=log)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server was not ready within {STARTUP_SECONDS}s:\n{log.read_text()}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Any]:
    """One Chromium for the whole run; each test gets its own context.

    The async API, on the session's event loop: the sync API keeps its own loop
    marked as running, which breaks the async database fixtures of later tests.
    """
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        if IN_CI:
            pytest.fail(f"Chromium is not installed at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    async_api = pytest.importorskip("playwright.async_api")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@asynccontextmanager
async def _browser_page(chromium: Any, live_server: LiveServer, who: str) -> AsyncIterator[Any]:
    """A browser context of its own (its own cookies) and a page on the live server;
    any JavaScript error on the page fails the test."""
    context = await chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert not errors, f"JavaScript errors on {who}: {errors}"


@pytest_asyncio.fixture(loop_scope="session")
async def page(chromium: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """A fresh browser context and page pointed at the live server."""
    async with _browser_page(chromium, live_server, "the page") as opened:
        yield opened


@pytest_asyncio.fixture(loop_scope="session")
async def second_page(chromium: Any, live_server: LiveServer) -> AsyncIterator[Any]:
    """Another person's browser, beside ``page``."""
    async with _browser_page(chromium, live_server, "the second page") as opened:
        yield opened


async def add_virtual_authenticator(page: Any) -> tuple[Any, str]:
    """Give ``page`` a platform authenticator that holds passkeys and verifies the user.

    Returns the CDP session and the authenticator id. The authenticator belongs to
    this page (tab): keep using the same page to use its passkeys again.
    """
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]
