"""The floor for ``bench/stream_connections.py``: a bare ASGI WebSocket app (no Plaza,
no database) that accepts, sends a hello frame, answers app pings and otherwise waits.
Served with the same uvicorn settings as ``plaza serve``, it shows what uvicorn and
the ``websockets`` protocol cost per idle connection before Plaza adds anything."""

from __future__ import annotations

from typing import Any

HELLO = '{"seq":null,"type":"hello","data":{"seq":0,"heartbeat_interval":25.0}}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": HELLO})
    while (await receive())["type"] != "websocket.disconnect":
        pass
