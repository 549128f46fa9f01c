"""The baseline for ``bench/calls_signalling.py``: the least a durable signalling server
does, as a bare ASGI app (no Plaza, no ORM, no framework).

Per call set-up, ``POST /api/v1/calls`` (``{"callee", "media", "sdp"}``) runs one
transaction that stores the call row (with its SDP) and the two stream events
(``call.incoming`` with the offer for the callee, ``call.ringing`` for the caller), then
pushes the two frames to the parties' open sockets. ``POST /api/v1/calls/{id}/cancel``
does the same for ``call.ended`` (to both). SQLite: one connection, WAL with
``synchronous=FULL`` (as Plaza), transactions one after the other; PostgreSQL: an
asyncpg pool of 5. What it leaves out, against Plaza: the session lookup (the bearer
*is* the user id), the consent rules, the busy and glare checks, the missed-call
notification and the call line in the DM conversation.

Environment: ``BENCH_DB_KIND`` (``sqlite`` or ``postgres``), ``BENCH_DB`` (a file path
or an asyncpg DSN).

    uvicorn bench.calls_bare_app:app --ws websockets-sansio --ws-per-message-deflate false
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from typing import Any

import orjson

_STATE: dict[str, Any] = {"sockets": {}, "calls": {}}
_IDS = itertools.count(int(time.time() * 1000) << 16)


async def _write(statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """One durable transaction."""
    if "lock" in _STATE:  # SQLite: one connection, transactions one after the other
        async with _STATE["lock"]:
            conn = _STATE["conn"]
            await conn.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                await conn.execute(sql, params)
            await conn.commit()
        return
    async with _STATE["pool"].acquire() as conn, conn.transaction():
        for sql, params in statements:
            await conn.execute(sql.replace("?", "$%d") % tuple(range(1, len(params) + 1)), *params)


async def _start() -> None:
    kind, db = os.environ["BENCH_DB_KIND"], os.environ["BENCH_DB"]
    schema = [
        "CREATE TABLE IF NOT EXISTS bench_call (id BIGINT PRIMARY KEY, caller TEXT, "
        "callee TEXT, state TEXT, sdp TEXT, created_at TEXT)",
        "CREATE TABLE IF NOT EXISTS bench_event (user_id TEXT, type TEXT, data TEXT)",
    ]
    if kind == "sqlite":
        import aiosqlite

        conn = await aiosqlite.connect(db, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        for sql in schema:
            await conn.execute(sql)
        _STATE.update(conn=conn, lock=asyncio.Lock())
    else:
        import asyncpg  # type: ignore[import-untyped]

        _STATE["pool"] = pool = await asyncpg.create_pool(db, min_size=5, max_size=5)
        async with pool.acquire() as conn:
            for sql in schema:
                await conn.execute(sql)


async def _push(user: str, type_: str, data: bytes) -> None:
    text = b'{"seq":0,"type":"%s","data":%s}' % (type_.encode(), data)
    for send in list(_STATE["sockets"].get(user, ())):
        with contextlib.suppress(Exception):  # a socket that just went away
            await send({"type": "websocket.send", "text": text.decode()})


async def _http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    auth = dict(scope["headers"]).get(b"authorization", b"")
    user = auth.removeprefix(b"Bearer ").decode()
    path = scope["path"]
    status, answer = 200, b"ok"
    if scope["method"] == "POST" and path == "/api/v1/calls":
        call = orjson.loads(body)
        call_id, callee, now = next(_IDS), call["callee"], time.time()
        incoming = orjson.dumps(
            {"id": str(call_id), "caller": user, "media": call["media"], "offer_sdp": call["sdp"]}
        )
        ringing = orjson.dumps({"id": str(call_id), "callee": callee})
        await _write(
            [
                ("INSERT INTO bench_call VALUES (?, ?, ?, ?, ?, ?)",
                 (call_id, user, callee, "ringing", call["sdp"], str(now))),
                ("INSERT INTO bench_event VALUES (?, ?, ?)",
                 (callee, "call.incoming", incoming.decode())),
                ("INSERT INTO bench_event VALUES (?, ?, ?)",
                 (user, "call.ringing", ringing.decode())),
            ]
        )  # fmt: skip
        _STATE["calls"][call_id] = (user, callee)
        await _push(callee, "call.incoming", incoming)
        await _push(user, "call.ringing", ringing)
        status, answer = 201, orjson.dumps({"id": str(call_id), "state": "ringing"})
    elif scope["method"] == "POST" and path.endswith("/cancel"):
        call_id = int(path.split("/")[-2])
        caller, callee = _STATE["calls"].pop(call_id)
        ended = orjson.dumps({"id": str(call_id), "reason": "cancelled"})
        await _write(
            [
                ("UPDATE bench_call SET state = ?, sdp = NULL WHERE id = ?",
                 ("cancelled", call_id)),
                ("INSERT INTO bench_event VALUES (?, ?, ?)",
                 (caller, "call.ended", ended.decode())),
                ("INSERT INTO bench_event VALUES (?, ?, ?)",
                 (callee, "call.ended", ended.decode())),
            ]
        )  # fmt: skip
        await _push(callee, "call.ended", ended)
        await _push(caller, "call.ended", ended)
        answer = ended
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _start()
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await _http(scope, receive, send)
        return
    auth = dict(scope["headers"]).get(b"authorization", b"")
    user = auth.removeprefix(b"Bearer ").decode()
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": '{"seq":null,"type":"hello","data":{}}'})
    _STATE["sockets"].setdefault(user, set()).add(send)
    try:
        while (await receive())["type"] != "websocket.disconnect":
            pass
    finally:
        _STATE["sockets"][user].discard(send)
