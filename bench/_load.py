"""What the load-generating benchmarks share: signing many accounts up, an authorised
API call, the generator process's minimal keep-alive HTTP client, and percentiles."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench._common import PASSWORD


def sign_up_many(base: str, usernames: Sequence[str]) -> dict[str, tuple[str, str]]:
    """username -> (user id, bearer token). In parallel: each sign-up and sign-in
    hashes a password, and the server hashes several at once."""

    def one(username: str) -> tuple[str, tuple[str, str]]:
        with httpx.Client(base_url=base, timeout=60) as c:
            body = {"username": username, "password": PASSWORD}
            c.post("/api/v1/accounts", json=body).raise_for_status()
            r = c.post("/api/v1/sessions", json=body)
            r.raise_for_status()
            return username, (str(r.json()["user"]["id"]), str(r.json()["token"]))

    with ThreadPoolExecutor(8) as pool:
        return dict(pool.map(one, usernames))


def api(c: httpx.Client, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    r = c.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)
    if r.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return r


class HttpPool:
    """Keep-alive HTTP/1.1 connections to the server, one request at a time each."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(None)  # connected on first use

    async def post(self, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        conn = await self.idle.get()
        try:
            for attempt in (1, 2):
                if conn is None:
                    conn = await asyncio.open_connection(self.host, self.port)
                try:
                    return await self._exchange(conn, path, token, body)
                except (OSError, asyncio.IncompleteReadError):
                    # The server closed an idle keep-alive connection: reconnect and
                    # resend (safe: the body carries a client_id, sending is idempotent).
                    conn[1].close()
                    conn = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")
        except BaseException:
            # Cancelled or failed mid-exchange: an unread answer may be on the way.
            if conn is not None:
                conn[1].close()
                conn = None
            raise
        finally:
            self.idle.put_nowait(conn)

    async def _exchange(
        self,
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        path: str,
        token: str,
        body: bytes,
    ) -> tuple[int, bytes]:
        reader, writer = conn
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode(), token.encode(), len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError("response without Content-Length")
        return status, await reader.readexactly(length)


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]
