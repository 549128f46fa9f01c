"""Fixtures for the stream: WebSocket clients in-process (ASGI) and over real TCP to a
uvicorn server running the test's app, event producers, and apps with other settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from plaza.app import create_app
from plaza.config import Settings
from plaza.core.clock import ManualClock
from tests.core.conftest import eventually

# The browser fixtures, for test_stream_browser.py.
from tests.e2e.conftest import (  # noqa: F401
    chromium,
    live_server,
    page,
    server_processes,
    server_settings,
)

__all__ = ["Closed", "FakeSocket", "eventually"]


class Closed(Exception):
    """The server closed the stream (or refused the handshake)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class FakeSocket:
    """A WebSocket client that speaks ASGI to the app directly, in this event loop.

    ``buffer`` bounds the frames the app may send before this client reads them: the
    app's ``send`` then waits, as it does when a real socket's buffer is full.
    """

    def __init__(self, app: ASGIApp, path: str, headers: Mapping[str, str], buffer: int) -> None:
        self._app = app
        self._path, _, self._query = path.partition("?")
        self._headers = {"host": "localhost", **{k.lower(): v for k, v in headers.items()}}
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue(maxsize=buffer)
        self._task: asyncio.Task[None] | None = None
        self._gone = False
        self.close_code: int | None = None

    async def _receive(self) -> Message:
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        if self._gone:
            raise OSError("client disconnected")
        await self._from_app.put(message)

    async def open(self) -> None:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "scheme": "ws",
            "http_version": "1.1",
            "server": ("localhost", 80),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "path": self._path,
            "raw_path": self._path.encode(),
            "query_string": self._query.encode(),
            "headers": [(k.encode(), v.encode()) for k, v in self._headers.items()],
            "subprotocols": [],
        }
        self._to_app.put_nowait({"type": "websocket.connect"})
        self._task = asyncio.create_task(self._app(scope, self._receive, self._send))
        first = await self._next()
        if first["type"] == "websocket.close":
            raise Closed(int(first.get("code", 1000)), "handshake refused")
        assert first["type"] == "websocket.accept", first

    async def _next(self) -> Message:
        return await asyncio.wait_for(self._from_app.get(), timeout=10)

    async def receive(self) -> dict[str, Any]:
        """The next frame as JSON; raises ``Closed`` when the server closed."""
        if self.close_code is not None:
            raise Closed(self.close_code, "already closed")
        message = await self._next()
        if message["type"] == "websocket.close":
            self.close_code = int(message.get("code", 1000))
            raise Closed(self.close_code, message.get("reason", ""))
        body: dict[str, Any] = orjson.loads(message["text"])
        return body

    async def receive_event(self) -> dict[str, Any]:
        """The next frame that is not a heartbeat ping."""
        while True:
            body = await self.receive()
            if body["type"] != "ping":
                return body

    async def send(self, body: object) -> None:
        self._to_app.put_nowait({"type": "websocket.receive", "text": orjson.dumps(body).decode()})

    def pending(self) -> int:
        return self._from_app.qsize()

    async def disconnect(self, code: int = 1000) -> None:
        """Go away as a client does: the app sees a disconnect and its sends fail."""
        if self._gone:
            return
        self._gone = True
        self._to_app.put_nowait({"type": "websocket.disconnect", "code": code})
        while not self._from_app.empty():  # unblock a send waiting for room
            self._from_app.get_nowait()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=10)


SocketFactory = Callable[..., AbstractAsyncContextManager[FakeSocket]]


@pytest.fixture
def connect(app: FastAPI) -> SocketFactory:
    return socket_factory(app)


def socket_factory(app: ASGIApp) -> SocketFactory:
    @asynccontextmanager
    async def open_socket(
        headers: Mapping[str, str] | None = None,
        *,
        since: int | str | None = None,
        buffer: int = 10_000,
    ) -> AsyncIterator[FakeSocket]:
        path = "/api/v1/stream"
        if since is not None:
            path += "?" + urlencode({"since": since})
        sock = FakeSocket(app, path, headers or {}, buffer)
        await sock.open()
        try:
            yield sock
        finally:
            await sock.disconnect()

    return open_socket


Emit = Callable[..., Any]


@pytest.fixture
def emit(plaza: Any) -> Emit:
    """``await emit(user_ids, n)``: n committed stream events, each its own transaction."""
    return producer(plaza)


def producer(plaza: Any) -> Emit:
    async def emit(
        user_ids: list[int], n: int = 1, type: str = "test.event", start: int = 0
    ) -> list[dict[int, int]]:
        out = []
        for i in range(start, start + n):
            async with plaza.db.session() as session:
                out.append(await plaza.realtime.deliver(session, user_ids, type, {"n": i}))
                await session.commit()
        return out

    return emit


AppFactory = Callable[..., AbstractAsyncContextManager[FastAPI]]


@pytest.fixture
def make_app(settings: Settings, clock: ManualClock) -> AppFactory:
    """``async with make_app(**overrides) as app``: the app with some settings changed."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[FastAPI]:
        application = create_app(settings.model_copy(update=overrides), clock=clock)
        async with application.router.lifespan_context(application):
            yield application

    return factory


@asynccontextmanager
async def uvicorn_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan already running) with uvicorn on a free port, as
    ``plaza serve`` does; yields the ``ws://`` base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", ws="websockets-sansio", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started or task.done())
    assert not task.done(), "uvicorn did not start"
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
