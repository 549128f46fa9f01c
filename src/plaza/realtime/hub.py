"""The live connections of this process and the fan-out of bus events to them.

Each connection has a bounded queue of frames. The hub never waits on a socket: it
appends to the queue, and a connection whose queue is full is closed (4008) so that
a slow consumer costs a fixed amount of memory and resumes later with ``since``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import datetime

import orjson

from plaza.realtime.events import StreamEvents

logger = logging.getLogger("plaza.realtime")

# Close codes (4000-4999 are the application's). Clients resume with ``since`` after
# any of them except 4400/4401/4403, which need the user or the code to change.
CLOSE_HEARTBEAT_TIMEOUT = 4000
CLOSE_TOO_SLOW = 4008
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429

PING_FRAME = '{"seq":null,"type":"ping","data":{}}'
PONG_FRAME = '{"seq":null,"type":"pong","data":{}}'


def frame(seq: int | None, type_json: str, data_json: str) -> str:
    """One wire frame; ``type_json`` and ``data_json`` are already JSON text."""
    return f'{{"seq":{"null" if seq is None else seq},"type":{type_json},"data":{data_json}}}'


def control_frame(type: str, data: Mapping[str, object]) -> str:
    return frame(None, orjson.dumps(type).decode(), orjson.dumps(dict(data)).decode())


class Connection:
    """One signed-in device's socket, as the hub sees it."""

    __slots__ = (
        "closing",
        "cursor",
        "expires_at",
        "gone",
        "last_heard",
        "limit",
        "pending",
        "sending",
        "session_id",
        "task",
        "user_id",
        "waiter",
    )

    def __init__(
        self, *, user_id: int, session_id: int, expires_at: datetime, limit: int, now: float
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.expires_at = expires_at
        self.limit = limit
        # Frames waiting for the socket: (seq or None for ephemeral, frame text); None
        # while there are none, and no Event: thousands of idle connections add up.
        self.pending: deque[tuple[int | None, str]] | None = None
        self.waiter: asyncio.Future[None] | None = None
        # The last persisted seq this device has been sent.
        self.cursor = 0
        self.last_heard = now
        self.closing: tuple[int, str] | None = None
        self.gone = False  # the client went away; nothing more can be sent
        self.sending = False
        self.task: asyncio.Task[object] | None = None

    def push(self, seq: int | None, text: str) -> None:
        """Queue a frame, or close the connection when its queue is full."""
        if self.closing is not None:
            return
        if self.pending is None:
            self.pending = deque()
        elif len(self.pending) >= self.limit:
            self.close(CLOSE_TOO_SLOW, f"too slow: reconnect with since={self.cursor}")
            return
        self.pending.append((seq, text))
        self._wake()

    async def wait(self) -> None:
        """Return when a frame is pending or the connection is closing."""
        while not self.pending and self.closing is None:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self, code: int, reason: str, *, gone: bool = False) -> None:
        """Ask the connection's task to close with ``code`` (the first reason wins)."""
        if self.closing is not None:
            self.gone = self.gone or gone
            return
        self.closing = (code, reason)
        self.gone = gone
        self.pending = None
        self._wake()
        # A send blocked on a full socket buffer would never see the request.
        if self.sending and self.task is not None:
            self.task.cancel()


class Hub:
    """Connections by user, in this process."""

    def __init__(self) -> None:
        self._by_user: dict[int, set[Connection]] = {}

    def add(self, conn: Connection) -> None:
        self._by_user.setdefault(conn.user_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def count(self, user_id: int | None = None) -> int:
        if user_id is not None:
            return len(self._by_user.get(user_id, ()))
        return sum(len(conns) for conns in self._by_user.values())

    def connections(self) -> Iterator[Connection]:
        for conns in list(self._by_user.values()):
            yield from list(conns)

    async def on_stream_events(self, event: StreamEvents) -> None:
        """Bus handler: queue the event on every local connection of its recipients."""
        type_json: str | None = None
        for user_id, seq in event.deliveries:
            conns = self._by_user.get(user_id)
            if not conns:
                continue
            type_json = type_json or orjson.dumps(event.type).decode()
            text = frame(seq, type_json, event.data)
            for conn in list(conns):
                conn.push(seq, text)

    def close_sessions(self, user_id: int, session_ids: set[int], reason: str) -> None:
        for conn in list(self._by_user.get(user_id, ())):
            if conn.session_id in session_ids:
                conn.close(CLOSE_UNAUTHENTICATED, reason)

    def beat(self, *, now: float, timeout: float, wall_now: datetime) -> None:
        """Ping every connection; close those silent for ``timeout`` or whose session
        has reached its absolute expiry."""
        for conn in self.connections():
            if conn.expires_at <= wall_now:
                conn.close(CLOSE_UNAUTHENTICATED, "session expired: sign in again")
            elif now - conn.last_heard > timeout:
                conn.close(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout")
            else:
                conn.push(None, PING_FRAME)
