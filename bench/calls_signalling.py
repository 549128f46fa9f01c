"""Call signalling: latency from ``POST /api/v1/calls`` to the callee's ``call.incoming``
stream frame, against offered call set-ups per second, stepped up until it breaks.

One ``plaza serve`` process on loopback (SQLite by default; ``--backend postgres`` makes
a fresh PostgreSQL database and drops it afterwards). The server runs the operator's
default consent policy: callers need Premium and a prior DM from the callee. Set-up,
through the API: ``--pairs`` caller/callee pairs sign up, each callee follows its
caller (the default ``call_policy`` is ``following``) and sends it a direct message
(``prior_dm_required``), and each caller gets complimentary Premium through
``Entitlements.grant``, the code path of ``plaza admin grant-premium``, from this
process. Only ``PLAZA_CALLS_PER_HOUR`` (and the DM and follow limits) are raised.

Then this process, the load generator (uvloop, separate from the server), holds one
stream WebSocket per user, callers included, and places calls open-loop at the offered
rate over a pool of keep-alive HTTP/1.1 connections. A call takes a free pair; once its
``call.incoming`` frame has arrived and the ``POST`` has answered, the caller cancels
it (``POST .../cancel``), which frees the pair. So every set-up costs the server the
placing and the cancel, the callee's missed-call notification and the call line the bus
then posts in the pair's DM conversation, each with its stream frames. The offer is a
real aiortc audio+video offer (about 3 KB; a browser's is 4-6 KB).
Latency is measured on one clock from the moment a call was *scheduled*: a generator
that falls behind its schedule, or finds no free pair, adds to the figure (``lag``).
The ``from POST`` columns start at the request instead.

The baseline, in the same run and under the same uvicorn settings:
``bench/calls_bare_app.py``, the least a durable signalling server does: per set-up
one transaction that stores the call and its two stream events (SQLite WAL with
``synchronous=FULL``, or PostgreSQL), then the frames pushed to the two open sockets;
per cancel the same again. No session lookup, consent rules or busy check.

A step holds if: no errors, every ring delivered, p99 <= 1 s and >= 90 % of offered
achieved. The next step runs only if this one held, except the goal's (200/s), which
runs once anyway so that its figure is known.

Last, ``--breakdown N`` calls (in this process, through the ASGI app, no HTTP server):
the event loop's CPU time and the SQL statements of each step of a set-up (the
``POST``, the cancel, and the work the bus runs after their commits), to show where
the server's time goes.

    .venv/bin/python -m bench.calls_signalling [--backend sqlite|postgres] [--pairs 64]
        [--steps 10,25,50,100,200,300] [--seconds 5] [--connections 16] [--no-bare]
        [--breakdown 100] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._common import (
    PASSWORD,
    PYTHON,
    SECRET_KEY,
    Backend,
    Server,
    backend,
    exit_on_sigterm,
    free_port,
    plaza_env,
    table,
    uvicorn_argv,
)
from bench._load import HttpPool, api, pct, sign_up_many
from bench._system import CpuMeter, machine, wait_quiet

GOAL_RATE = 200
GOAL_P99_MS = 20.0
BREAK_P99_MS = 1_000.0
DEFAULT_STEPS = "10,25,50,100,200,300"
# The limits a real caller has; here one account places thousands of calls an hour.
BENCH_LIMITS = {
    "PLAZA_CALLS_PER_HOUR": "100000000",
    "PLAZA_DM_MESSAGES_PER_MINUTE": "100000000",
    "PLAZA_DM_NEW_CONVERSATIONS_PER_DAY": "100000000",
    "PLAZA_FOLLOWS_PER_DAY": "100000000",
}


def real_offer() -> str:
    """An SDP offer as aiortc makes it (audio and video, host candidates on loopback)."""
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        sdp: str = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


# --------------------------------------------------------------------------------------
# Set-up, through the API (and the grant path for Premium)


def grant_premium(database_url: str, user_ids: Sequence[int]) -> None:
    """Complimentary Premium, as ``plaza admin grant-premium`` gives it (its code path,
    not its process: one CLI start per account would take minutes)."""
    from plaza.core.clock import SystemClock
    from plaza.core.db import Database
    from plaza.core.ids import SnowflakeGenerator
    from plaza.premium import PREMIUM, Entitlements

    async def work() -> None:
        db = Database(database_url, pool_size=2)
        # Node 2: the server mints ids as node 1.
        ents = Entitlements(db=db, clock=SystemClock(), ids=SnowflakeGenerator(2))
        try:
            for user_id in user_ids:
                await ents.grant(user_id, PREMIUM, until=None, source="admin", note="bench")
        finally:
            await db.dispose()

    asyncio.run(work())


def setup_pairs(base: str, database_url: str, pairs: int) -> list[dict[str, str]]:
    """``pairs`` callers and callees who may call under the default policy."""
    tag = uuid.uuid4().hex[:6]
    callers = [f"ca{i}_{tag}" for i in range(pairs)]
    callees = [f"ce{i}_{tag}" for i in range(pairs)]
    accounts = sign_up_many(base, callers + callees)
    with httpx.Client(base_url=base, timeout=60) as c:
        for caller, callee in zip(callers, callees, strict=True):
            token = accounts[callee][1]
            api(c, "POST", f"/api/v1/users/{caller}/follow", token)
            conv = api(c, "POST", "/api/v1/conversations", token, json={"participants": [caller]})
            body = {"text": "call me", "client_id": uuid.uuid4().hex}
            api(c, "POST", f"/api/v1/conversations/{conv.json()['id']}/messages", token, json=body)
    grant_premium(database_url, [int(accounts[name][0]) for name in callers])
    return [
        {"caller": accounts[a][1], "callee": b, "callee_token": accounts[b][1]}
        for a, b in zip(callers, callees, strict=True)
    ]


# --------------------------------------------------------------------------------------
# The load generator


def runqueue_seconds(pid: int) -> float:
    """Time the server's threads were ready to run but waited for a CPU (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


@dataclass(eq=False)
class Pair:
    caller: str  # bearer token
    callee: str  # username (Plaza) or token (the bare app)
    callee_token: str
    ring: asyncio.Future[tuple[float, str]] | None = None


class Generator:
    def __init__(self, base: str, pairs: list[Pair], connections: int, offer: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.base = base
        self.http = HttpPool(host, int(port), connections)
        self.pairs = pairs
        self.free: asyncio.Queue[Pair] = asyncio.Queue()
        for pair in pairs:
            self.free.put_nowait(pair)
        self.offer = offer
        self.readers: list[asyncio.Task[None]] = []
        self.stopping = False
        self.stray = 0  # call.incoming frames nobody waited for
        self.reconnects = 0

    async def start(self) -> None:
        await self.http.open()
        loop = asyncio.get_running_loop()
        users = [(p.caller, None) for p in self.pairs] + [(p.callee_token, p) for p in self.pairs]
        ready = [loop.create_future() for _ in users]
        for (token, pair), done in zip(users, ready, strict=True):
            self.readers.append(asyncio.create_task(self._stream(token, pair, done)))
        await asyncio.wait_for(asyncio.gather(*ready), timeout=120)

    async def _stream(self, token: str, pair: Pair | None, ready: asyncio.Future[None]) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        url = self.base.replace("http://", "ws://") + "/api/v1/stream"
        while not self.stopping:
            try:
                async with connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    ping_interval=None,
                    max_queue=None,
                    compression=None,
                    open_timeout=60,
                ) as ws:
                    async for raw in ws:
                        now = time.perf_counter()
                        frame = orjson.loads(raw)
                        kind = frame["type"]
                        if kind == "call.incoming" and pair is not None:
                            if pair.ring is not None and not pair.ring.done():
                                pair.ring.set_result((now, frame["data"]["id"]))
                            else:
                                self.stray += 1
                        elif kind == "hello" and not ready.done():
                            ready.set_result(None)
                        elif kind == "ping":
                            await ws.send('{"type":"pong"}')
            except (ConnectionClosed, InvalidStatus, OSError, TimeoutError):
                pass
            if not self.stopping:
                self.reconnects += 1  # rings sent meanwhile are lost: they count as such
                await asyncio.sleep(0.05)

    async def step(self, rate: float, seconds: float, server_pid: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        rings: list[float] = []  # from the scheduled time
        rings_post: list[float] = []  # from the POST
        posts: list[float] = []
        cancels: list[float] = []
        lags: list[float] = []
        errors: dict[str, int] = {}
        undelivered = 0
        total = max(1, int(rate * seconds))
        t0 = time.perf_counter() + 0.05
        window_end = t0 + seconds
        in_window = 0

        def error(what: str) -> None:
            errors[what] = errors.get(what, 0) + 1

        async def one(at: float) -> None:
            nonlocal undelivered, in_window
            pair = await self.free.get()
            started = time.perf_counter()
            lags.append(started - at)
            pair.ring = ring = loop.create_future()
            try:
                body = orjson.dumps({"callee": pair.callee, "media": "video", "sdp": self.offer})
                status, answer = await self.http.post("/api/v1/calls", pair.caller, body)
                posts.append(time.perf_counter() - started)
                call = orjson.loads(answer) if status == 201 else {}
                if status != 201 or call.get("state") != "ringing":
                    error(f"{status} {call.get('state') or answer[:80].decode(errors='replace')}")
                    return
                try:
                    arrived, ring_id = await asyncio.wait_for(ring, timeout=5)
                except TimeoutError:
                    undelivered += 1
                else:
                    if ring_id != call["id"]:
                        error("call.incoming for another call")
                    rings.append(arrived - at)
                    rings_post.append(arrived - started)
                    in_window += arrived <= window_end
                cancel_started = time.perf_counter()
                path = f"/api/v1/calls/{call['id']}/cancel"
                status, answer = await self.http.post(path, pair.caller, b"")
                cancels.append(time.perf_counter() - cancel_started)
                if status != 200:
                    error(f"cancel {status} {answer[:80].decode(errors='replace')}")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                error(type(exc).__name__)
            finally:
                pair.ring = None
                self.free.put_nowait(pair)

        meter = CpuMeter(server_pid)
        meter.start()
        waited = runqueue_seconds(server_pid)
        metered = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for n in range(total):
            at = t0 + n / rate
            delay = at - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(at)))
        _, late = await asyncio.wait(tasks, timeout=max(0.1, window_end + 10 - time.perf_counter()))
        for task in late:
            task.cancel()
        if late:
            error("not done within 10 s of the window")
            await asyncio.wait(late)
        cpu = meter.stop()
        metered = time.perf_counter() - metered
        waited = runqueue_seconds(server_pid) - waited
        done = len(cancels)
        return {
            "rate": rate,
            "scheduled": total,
            "errors": sum(errors.values()),
            "error_kinds": errors,
            "undelivered": undelivered,
            "achieved": in_window / seconds,
            "p50_ms": 1000 * pct(rings, 0.5),
            "p99_ms": 1000 * pct(rings, 0.99),
            "max_ms": 1000 * max(rings, default=float("nan")),
            "post_ring_p50_ms": 1000 * pct(rings_post, 0.5),
            "post_ring_p99_ms": 1000 * pct(rings_post, 0.99),
            "post_p99_ms": 1000 * pct(posts, 0.99),
            "cancel_p99_ms": 1000 * pct(cancels, 0.99),
            "lag_p99_ms": 1000 * pct(lags, 0.99),
            "cpu": cpu,
            "server_runqueue_pct": max(0.0, 100 * waited / metered),  # threads come and go
            "server_cpu_ms_per_setup": 10 * cpu.server * metered / max(1, done),
            "stray": self.stray,
            "reconnects": self.reconnects,
        }

    async def stop(self) -> None:
        self.stopping = True
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


def broke(r: dict[str, Any]) -> str | None:
    """Why a step does not count as holding, or None."""
    if r["errors"]:
        return f"{r['errors']} errors {r['error_kinds']}"
    if r["undelivered"]:
        return f"{r['undelivered']} rings not delivered within 5 s"
    if not r["p99_ms"] <= BREAK_P99_MS:
        return f"p99 {r['p99_ms']:.0f} ms > {BREAK_P99_MS:.0f} ms"
    if r["achieved"] < 0.9 * r["rate"]:
        return f"achieved {r['achieved']:.0f}/s < 90% of offered"
    return None


def step_line(r: dict[str, Any]) -> str:
    cpu = r["cpu"]
    return (
        f"offered {r['rate']:.0f}/s: achieved {r['achieved']:.0f}/s, ring p50 {r['p50_ms']:.1f}"
        f" ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors'] + r['undelivered']}, server "
        f"{cpu.server:.0f}% (waiting for a CPU {r['server_runqueue_pct']:.0f}%) "
        f"pg {cpu.postgres:.0f}% gen {cpu.client:.0f}% other {cpu.other:.0f}%"
        + (f" -> broke: {r['broke']}" if r.get("broke") else "")
    )


def run_steps(
    base: str, server_pid: int, pairs: list[dict[str, str]], args: argparse.Namespace, offer: str
) -> list[dict[str, Any]]:
    import uvloop

    async def go() -> list[dict[str, Any]]:
        gen = Generator(
            base, [Pair(p["caller"], p["callee"], p["callee_token"]) for p in pairs],
            args.connections, offer,
        )  # fmt: skip
        await gen.start()
        results = []
        try:
            # Warm-up, not reported: every pair once, slowly (first-use costs).
            warm = await gen.step(10.0, len(pairs) / 10 + 0.5, server_pid)
            if warm["errors"] or warm["undelivered"]:
                raise SystemExit(f"the warm-up failed: {warm['error_kinds']}, {warm}")
            steps = list(args.steps)
            while steps:
                rate = steps.pop(0)
                r = await gen.step(rate, args.seconds, server_pid)
                r["broke"] = broke(r)
                print("  " + step_line(r), flush=True)
                results.append(r)
                if r["broke"]:
                    # Past the break only the goal's rate still runs, for its figure.
                    steps = [GOAL_RATE] if GOAL_RATE in steps else []
                await asyncio.sleep(1.0)  # let the server drain its background work
        finally:
            await gen.stop()
        return results

    return uvloop.run(go())


HEADERS = [
    "offered/s",
    "achieved/s",
    "ring p50 ms",
    "ring p99 ms",
    "max ms",
    "errors",
    "from POST p50",
    "from POST p99",
    "POST p99",
    "cancel p99",
    "gen lag p99",
    "srv CPU ms/setup",
    "srv %",
    "srv wait %",
    "pg %",
    "gen %",
    "other %",
]


def rows(results: list[dict[str, Any]]) -> list[list[object]]:
    return [
        [
            round(r["rate"]),
            round(r["achieved"]),
            r["p50_ms"],
            r["p99_ms"],
            r["max_ms"],
            r["errors"] + r["undelivered"],
            r["post_ring_p50_ms"],
            r["post_ring_p99_ms"],
            r["post_p99_ms"],
            r["cancel_p99_ms"],
            r["lag_p99_ms"],
            r["server_cpu_ms_per_setup"],
            round(r["cpu"].server),
            round(r["server_runqueue_pct"]),
            round(r["cpu"].postgres),
            round(r["cpu"].client),
            round(r["cpu"].other),
        ]
        for r in results
    ]


# --------------------------------------------------------------------------------------
# Where a set-up's time goes, in process


def breakdown(b: Backend, offer: str, calls: int) -> list[list[object]]:
    """Per step of a set-up, averaged over ``calls``: the event loop's CPU (the thread
    that runs FastAPI, SQLAlchemy and Plaza, and this in-process httpx client: the
    ``/healthz`` row is that floor), the whole process's CPU (with the SQLite driver's
    threads) and the SQL statements sent (BEGINs apart)."""
    from sqlalchemy import event

    from plaza.app import create_app
    from plaza.config import Settings
    from plaza.premium import PREMIUM

    settings = Settings(
        data_dir=b.data_dir / "breakdown",
        database_url=b.url,
        secret_key=SECRET_KEY,
        auto_migrate=False,
        log_json=False,
        log_level="WARNING",
        node_id=3,
        calls_per_hour=100_000_000,
    )

    async def go() -> list[list[object]]:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            plaza = app.state.plaza
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://plaza") as c:
                tag = uuid.uuid4().hex[:6]
                caller, callee = f"bda_{tag}", f"bdb_{tag}"
                tokens = {}
                for name in (caller, callee):
                    body = {"username": name, "password": PASSWORD}
                    (await c.post("/api/v1/accounts", json=body)).raise_for_status()
                    r = await c.post("/api/v1/sessions", json=body)
                    tokens[name] = (int(r.json()["user"]["id"]), r.json()["token"])
                    c.cookies.clear()
                h = {n: {"Authorization": f"Bearer {t}"} for n, (_, t) in tokens.items()}
                await c.post(f"/api/v1/users/{caller}/follow", headers=h[callee])
                conv = await c.post(
                    "/api/v1/conversations", json={"participants": [caller]}, headers=h[callee]
                )
                await c.post(
                    f"/api/v1/conversations/{conv.json()['id']}/messages",
                    json={"text": "call me", "client_id": tag},
                    headers=h[callee],
                )
                await plaza.entitlements.grant(
                    tokens[caller][0], PREMIUM, until=None, source="admin"
                )
                statements = {"begin": 0, "other": 0}

                def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
                    statements["begin" if statement.startswith("BEGIN") else "other"] += 1

                for engine in {plaza.db.engine, plaza.db.read_engine}:
                    event.listen(engine.sync_engine, "before_cursor_execute", count)
                totals: dict[str, list[float]] = {}

                async def measured(phase: str, work: Any) -> Any:
                    t, p, n = time.thread_time(), time.process_time(), dict(statements)
                    result = await work
                    was = totals.setdefault(phase, [0.0, 0.0, 0.0, 0.0])
                    was[0] += time.thread_time() - t
                    was[1] += time.process_time() - p
                    was[2] += statements["other"] - n["other"]
                    was[3] += statements["begin"] - n["begin"]
                    return result

                body = {"callee": callee, "media": "video", "sdp": offer}
                for i in range(calls + 10):  # the first 10 are warm-up
                    if i == 10:
                        totals.clear()
                    r = await measured(
                        "POST /calls", c.post("/api/v1/calls", json=body, headers=h[caller])
                    )
                    assert r.status_code == 201, r.text
                    path = f"/api/v1/calls/{r.json()['id']}/cancel"
                    r = await measured("POST .../cancel", c.post(path, headers=h[caller]))
                    assert r.status_code == 200, r.text
                    # The bus's after-commit work (the call line in the DM conversation).
                    await measured("after commit", asyncio.sleep(0.05))
                    # The floor of a request here: this in-process client and the
                    # middleware (both in the event loop's figure above).
                    await measured("GET /healthz (floor)", c.get("/healthz"))
        return [
            [phase, 1000 * t / calls, 1000 * p / calls, n / calls, begins / calls]
            for phase, (t, p, n, begins) in totals.items()
        ]

    return asyncio.run(go())


# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def plaza_server(b: Backend) -> Iterator[Server]:
    port = free_port()
    env = plaza_env(b, PLAZA_LOG_JSON="false", **BENCH_LIMITS)
    argv = [PYTHON, "-m", "plaza.cli", "serve", "--port", str(port)]
    with Server(argv, env, port, "/readyz") as server:
        yield server


@contextlib.contextmanager
def bare_server(b: Backend) -> Iterator[Server]:
    port = free_port()
    db = str(b.data_dir / "bare.db") if b.name == "sqlite" else b.raw
    env = plaza_env(b, BENCH_DB_KIND=b.name, BENCH_DB=db)
    # The uvicorn settings of ``plaza serve`` (cli.py).
    argv = uvicorn_argv("bench.calls_bare_app:app", port)
    argv += ["--ws", "websockets-sansio", "--ws-per-message-deflate", "false"]
    with Server(argv, env, port, "/readyz") as server:
        yield server


def summary(title: str, results: list[dict[str, Any]]) -> None:
    print()
    print(title)
    print(table(HEADERS, rows(results)))
    if results and results[-1].get("broke"):
        print(f"broke at {results[-1]['rate']:.0f}/s: {results[-1]['broke']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--steps", default=DEFAULT_STEPS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16, help="HTTP connections")
    parser.add_argument("--no-bare", action="store_true", help="skip the baseline")
    parser.add_argument("--breakdown", type=int, default=100, help="calls (0: skip)")
    parser.add_argument("--quick", action="store_true", help="24 pairs, 50 and 200/s, 3 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.seconds, args.steps = min(args.pairs, 24), 3.0, "50,200"
        args.breakdown = min(args.breakdown, 30)
    args.steps = [float(s) for s in args.steps.split(",")]
    exit_on_sigterm()
    print(machine(), flush=True)
    offer = real_offer()
    with backend(args.backend) as b:
        with plaza_server(b) as server:
            started = time.monotonic()
            pairs = setup_pairs(server.base, b.url, args.pairs)
            print(f"set-up: {args.pairs} pairs in {time.monotonic() - started:.0f}s", flush=True)
            wait_quiet(30)
            print(f"plaza serve ({b.name}):", flush=True)
            results = run_steps(server.base, server.pid, pairs, args, offer)
        bare: list[dict[str, Any]] = []
        if not args.no_bare:
            with bare_server(b) as server:
                tokens = [(f"u{2 * i}", f"u{2 * i + 1}") for i in range(args.pairs)]
                bare_pairs = [{"caller": a, "callee": c, "callee_token": c} for a, c in tokens]
                wait_quiet(30)
                print(f"bare durable relay ({b.name}):", flush=True)
                bare = run_steps(server.base, server.pid, bare_pairs, args, offer)
        parts = breakdown(b, offer, args.breakdown) if args.breakdown else []
    note = f"{args.pairs} pairs, {args.connections} HTTP connections, {args.seconds:.0f} s a step"
    summary(f"plaza serve, {b.name}, {note}; offer {len(offer)} bytes", results)
    if bare:
        summary(f"baseline: bare durable relay, {b.name}, same generator", bare)
        for r in results:
            same = next((x for x in bare if x["rate"] == r["rate"] and not x["broke"]), None)
            if same and not r["broke"]:
                print(
                    f"at {r['rate']:.0f}/s: p99 {r['p99_ms']:.1f} vs {same['p99_ms']:.1f} ms "
                    f"({r['p99_ms'] / same['p99_ms']:.1f}x), server CPU per set-up "
                    f"{r['server_cpu_ms_per_setup']:.2f} vs {same['server_cpu_ms_per_setup']:.2f}"
                    f" ms ({r['server_cpu_ms_per_setup'] / same['server_cpu_ms_per_setup']:.1f}x)"
                )
    at_goal = next((r for r in results if r["rate"] == GOAL_RATE), None)
    if at_goal is not None:
        met = not at_goal["broke"] and at_goal["p99_ms"] < GOAL_P99_MS
        print(
            f"goal p99 < {GOAL_P99_MS:.0f} ms at {GOAL_RATE}/s: {'met' if met else 'MISSED'} "
            f"(p99 {at_goal['p99_ms']:.1f} ms)"
        )
    held = [r["rate"] for r in results if not r["broke"]]
    if held:
        print(f"highest offered rate that held: {max(held):.0f}/s")
    if parts:
        print()
        print(f"one set-up, step by step, in process ({b.name}, mean of {args.breakdown} calls)")
        cpu = ["step", "event loop CPU ms", "process CPU ms", "SQL statements", "BEGINs"]
        print(table(cpu, parts))


if __name__ == "__main__":
    main(sys.argv[1:])
