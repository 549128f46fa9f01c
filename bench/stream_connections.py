"""Idle stream connections: what one held ``WS /api/v1/stream`` costs the server.

Starts one ``plaza serve`` process (SQLite by default) and, from this separate load
process, opens idle stream connections in steps (default 1,000 then 5,000), each
waiting for its ``hello`` frame. The server's RSS (VmRSS) is read with zero
connections (after one warm-up connection has come and gone, so that lazily
imported code is not counted) and after each step, once the server is idle again.
The figure is server RSS per connection against that baseline; the goal is at most
20 KiB. The clients answer the server's pings (WebSocket pings in
their library, the app's heartbeat with a pong frame) and send nothing else, as an
idle tab does. Per-message deflate is off in ``plaza serve``: on, its zlib state
costs about 45 KiB per connection.

    .venv/bin/python -m bench.stream_connections [--steps 1000,5000] [--users 125]
        [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import sys
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench._common import (
    PYTHON,
    Server,
    backend,
    exit_on_sigterm,
    free_port,
    plaza_env,
    sign_up_and_in,
    table,
)
from bench._system import machine, status_kib, wait_quiet

GOAL_KIB = 20.0


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard < needed:
            raise SystemExit(f"need {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def _open(url: str, token: str) -> ClientConnection:
    ws = await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        ping_interval=None,  # idle: only the server's pings (answered by the library)
        max_queue=4,
        open_timeout=60,
    )
    hello = await asyncio.wait_for(ws.recv(), timeout=60)
    assert '"hello"' in str(hello), hello
    return ws


async def _answer_pings(ws: ClientConnection) -> None:
    """What an idle page does: answer the server's heartbeat, nothing else."""
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            if '"ping"' in str(message):
                await ws.send('{"type":"pong"}')


async def _settled_rss(pid: int) -> int:
    """RSS once it stops moving (the server has finished handling the last handshakes)."""
    last = status_kib(pid, "VmRSS")
    for _ in range(20):
        await asyncio.sleep(1.0)
        now = status_kib(pid, "VmRSS")
        if abs(now - last) < 64:
            return now
        last = now
    return last


async def _run(base: str, pid: int, tokens: list[str], steps: list[int]) -> list[list[object]]:
    url = base.replace("http://", "ws://") + "/api/v1/stream"
    warm = await _open(url, tokens[0])
    await warm.close()
    baseline = await _settled_rss(pid)
    rows: list[list[object]] = [["0", baseline / 1024, "", ""]]
    held: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> None:
        async with gate:
            ws = await _open(url, tokens[i % len(tokens)])
            held.append(ws)
            readers.append(asyncio.create_task(_answer_pings(ws)))

    previous = (0, baseline)
    for target in steps:
        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(len(held), target)))
        took = time.monotonic() - started
        rss = await _settled_rss(pid)
        alive = sum(1 for ws in held if ws.close_code is None)
        per_conn = (rss - baseline) / target
        marginal = (rss - previous[1]) / (target - previous[0])
        print(
            f"{target} connections ({alive} open, opened in {took:.1f}s): "
            f"RSS {rss / 1024:.1f} MiB, {per_conn:.1f} KiB/connection",
            flush=True,
        )
        rows.append([str(target), rss / 1024, per_conn, marginal])
        previous = (target, rss)
        if alive != target:
            raise SystemExit(f"only {alive} of {target} connections stayed open")
    await asyncio.gather(*(ws.close() for ws in held))
    await asyncio.gather(*readers)
    return rows


def _bare_argv(port: int) -> list[str]:
    # The uvicorn settings of ``plaza serve`` (cli.py), on the bare app.
    argv = [PYTHON, "-m", "uvicorn", "bench.stream_bare_app:app", "--port", str(port)]
    return [*argv, "--ws", "websockets-sansio", "--ws-per-message-deflate", "false"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1000,5000")
    parser.add_argument("--users", type=int, default=125)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    args = parser.parse_args(argv)
    steps = sorted(int(s) for s in args.steps.split(","))
    _raise_fd_limit(steps[-1] + 1000)  # the servers inherit it
    print(machine(), flush=True)
    with backend(args.backend) as b:
        port = free_port()
        argv_serve = [PYTHON, "-m", "plaza.cli", "serve", "--port", str(port)]
        with Server(argv_serve, plaza_env(b, PLAZA_LOG_JSON="false"), port, "/readyz") as server:
            tokens = [sign_up_and_in(server.base, f"idle{i}") for i in range(args.users)]
            wait_quiet(30)
            print("plaza serve:", flush=True)
            rows = asyncio.run(_run(server.base, server.pid, tokens, steps))
        port = free_port()
        with Server(_bare_argv(port), plaza_env(b), port, "/") as bare:
            wait_quiet(30)
            print("bare ASGI app, same uvicorn settings:", flush=True)
            floor = asyncio.run(_run(bare.base, bare.pid, ["-"], steps))
    print()
    print(f"`plaza serve` ({args.backend}), {args.users} users; goal <= {GOAL_KIB} KiB")
    print(table(["connections", "server RSS MiB", "KiB/conn vs 0", "KiB/conn marginal"], rows))
    print()
    print("bare ASGI WebSocket app under the same uvicorn (the floor)")
    print(table(["connections", "server RSS MiB", "KiB/conn vs 0", "KiB/conn marginal"], floor))
    final = float(rows[-1][2])  # type: ignore[arg-type]
    verdict = "met" if final <= GOAL_KIB else "MISSED"
    print(f"goal {verdict}: {final:.1f} KiB per idle connection at {steps[-1]} connections")


if __name__ == "__main__":
    exit_on_sigterm()
    main(sys.argv[1:])
