"""``WS /api/v1/stream``: one signed-in device's live channel.

On connect the device is registered with the hub *before* the stream position is
read, so that nothing committed afterwards can slip past; stored events after
``since`` are then replayed from the database, and live events at or below the last
seq sent are dropped. A live event that skips ahead (a bus message lost or overtaken
by another process's) is back-filled from the database, so the device always sees
its seqs in order, without holes or repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from fastapi import APIRouter, WebSocket
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from plaza.core.errors import Forbidden, Unauthorized
from plaza.identity import Authenticator
from plaza.realtime.hub import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHENTICATED,
    PONG_FRAME,
    Connection,
    control_frame,
    frame,
)
from plaza.realtime.service import Realtime

logger = logging.getLogger("plaza.realtime")

STREAM_PATH = "/api/v1/stream"
# Clients send only small control frames; anything bigger is ignored unread.
MAX_CLIENT_FRAME = 4096
_MAX_SINCE = 2**63 - 1
CLOSE_SERVER_ERROR = 1011


class _Resynced(Exception):
    """Internal: the stream jumped; the client was told to refetch its state."""


class Gateway:
    def __init__(self, realtime: Realtime, auth: Authenticator) -> None:
        self.realtime = realtime
        self.auth = auth
        self.settings = realtime.settings

    async def handle(self, websocket: WebSocket) -> None:
        admitted = await self._admit(websocket)
        if admitted is None:
            return
        conn, since = admitted
        conn.task = asyncio.current_task()
        hub = self.realtime.hub
        hub.add(conn)  # before reading the position: see the module docstring
        receiver = asyncio.create_task(_receive(websocket, conn))
        try:
            await self._serve(websocket, conn, since)
        except asyncio.CancelledError:
            # The hub cancels a send that is stuck on a full socket when it closes the
            # connection; any other cancellation (shutdown) goes on up.
            if conn.closing is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        except (WebSocketDisconnect, OSError):
            conn.close(1006, "", gone=True)
        except Exception:
            # The database went away mid-replay, say: the client resumes from its seq.
            logger.exception("stream connection failed", extra={"user_id": conn.user_id})
            conn.close(CLOSE_SERVER_ERROR, "server error: reconnect with since")
        finally:
            conn.sending = False
            conn.task = None  # no cycle through the finished task
            hub.remove(conn)
            receiver.cancel()
        if conn.closing is not None and not conn.gone:
            code, reason = conn.closing
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.close_timeout):
                    await websocket.close(code, reason[:120])

    async def _admit(self, websocket: WebSocket) -> tuple[Connection, int | None] | None:
        """Authenticate and accept, or refuse with a close code. The principal is not
        kept: an idle connection holds only the few fields the hub needs."""
        try:
            principal = await self.auth.websocket(websocket)
        except Unauthorized as exc:
            await _refuse(websocket, CLOSE_UNAUTHENTICATED, exc.detail)
            return None
        except Forbidden as exc:
            await _refuse(websocket, CLOSE_FORBIDDEN, exc.detail)
            return None
        except Exception:
            # The database is unreachable or overloaded: a close code the client backs
            # off on, rather than a bare HTTP 500 to the handshake.
            logger.exception("stream authentication failed")
            await _refuse(websocket, CLOSE_SERVER_ERROR, "server error: try again later")
            return None
        if principal is None:
            await _refuse(websocket, CLOSE_UNAUTHENTICATED, "Sign in first.")
            return None
        since = _parse_since(websocket.query_params.get("since"))
        if since == -1:
            await _refuse(websocket, CLOSE_BAD_REQUEST, "since must be a non-negative integer")
            return None
        if self.realtime.hub.count(principal.user.id) >= self.settings.max_connections_per_user:
            # Each socket costs memory for hours; one account may not hold thousands.
            await _refuse(websocket, CLOSE_TOO_MANY, "too many open streams for this account")
            return None
        await websocket.accept()
        conn = Connection(
            user_id=principal.user.id,
            session_id=principal.session.id,
            expires_at=principal.session.expires_at,
            limit=self.settings.queue_size,
            now=asyncio.get_running_loop().time(),
        )
        return conn, since

    async def _serve(self, websocket: WebSocket, conn: Connection, since: int | None) -> None:
        last = await self.realtime.last_seq(conn.user_id)
        hello = {
            "seq": last,
            "user_id": str(conn.user_id),
            "heartbeat_interval": self.settings.heartbeat_interval,
        }
        await self._send(websocket, conn, control_frame("hello", hello))
        if since is None:
            conn.cursor = last
        elif since > last:
            # A position this server never handed out (a restored database, another
            # deployment): the client's state cannot be trusted.
            await self._resync(websocket, conn, "since is ahead of the stream")
        else:
            conn.cursor = since
            await self._catch_up(websocket, conn, upto=last)
        while True:
            await conn.wait()
            if conn.closing is not None or conn.pending is None:
                return
            seq, text = conn.pending.popleft()
            if not conn.pending:
                conn.pending = None  # an idle connection keeps no buffer
            if seq is None:
                await self._send(websocket, conn, text)
            elif seq == conn.cursor + 1:
                await self._send(websocket, conn, text)
                conn.cursor = seq
            elif seq > conn.cursor:
                await self._catch_up(websocket, conn, upto=seq)
            # else: already sent (replayed, or a duplicate from the bus)

    async def _catch_up(self, websocket: WebSocket, conn: Connection, *, upto: int) -> None:
        """Send stored events after the cursor, at least through ``upto``."""
        page = self.settings.replay_page
        while conn.closing is None:
            rows = await self.realtime.events_after(conn.user_id, conn.cursor, page)
            if rows and rows[0][0] != conn.cursor + 1:
                await self._resync(websocket, conn, "events after since have expired")
                return
            for seq, type_, data in rows:
                if conn.closing is not None:
                    return
                await self._send(websocket, conn, frame(seq, orjson.dumps(type_).decode(), data))
                conn.cursor = seq
            if len(rows) < page:
                break
        if conn.closing is None and conn.cursor < upto:
            await self._resync(websocket, conn, "events after since have expired")

    async def _resync(self, websocket: WebSocket, conn: Connection, reason: str) -> None:
        last = await self.realtime.last_seq(conn.user_id)
        await self._send(websocket, conn, control_frame("resync", {"seq": last, "reason": reason}))
        conn.cursor = last

    @staticmethod
    async def _send(websocket: WebSocket, conn: Connection, text: str) -> None:
        conn.sending = True
        try:
            await websocket.send_text(text)
        finally:
            conn.sending = False


async def _receive(websocket: WebSocket, conn: Connection) -> None:
    """Read the client's frames: any frame proves it alive; ``ping`` gets a ``pong``."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                conn.close(int(message.get("code") or 1005), "", gone=True)
                return
            conn.last_heard = loop.time()
            raw = message.get("text") or message.get("bytes") or b""
            if len(raw) > MAX_CLIENT_FRAME:
                continue
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(body, dict) and body.get("type") == "ping":
                conn.push(None, PONG_FRAME)
    except (WebSocketDisconnect, OSError, RuntimeError):
        conn.close(1006, "", gone=True)


def _parse_since(raw: str | None) -> int | None:
    """None when absent, -1 when malformed, else the seq."""
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return -1
    value = int(raw)
    return value if value <= _MAX_SINCE else -1


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    # Accept first: a refused handshake reaches browsers as a bare failure, while a
    # close frame carries a code and reason the client can act on.
    await websocket.accept()
    await websocket.close(code, reason[:120])


class StreamShortcut:
    """ASGI middleware that serves the stream ahead of the HTTP middleware stack.

    Every suspended layer (request context, body limits, exception handlers, the
    router) keeps a coroutine frame alive for as long as a socket is open; for
    thousands of idle sockets that is most of their memory, and none of those layers
    does anything for a WebSocket. Add it last, so that it is the outermost.
    """

    def __init__(self, app: ASGIApp, *, realtime: Realtime, auth: Authenticator) -> None:
        self.app = app
        self.handle = Gateway(realtime, auth).handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == STREAM_PATH:
            await self.handle(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


def build_router(realtime: Realtime, auth: Authenticator) -> APIRouter:
    """The stream endpoint, as a route (``StreamShortcut`` serves the same path more
    cheaply when installed). A plain Starlette route: no dependency machinery is kept
    alive for hours on every idle socket."""
    router = APIRouter()
    router.routes.append(WebSocketRoute(STREAM_PATH, Gateway(realtime, auth).handle, name="stream"))
    return router
