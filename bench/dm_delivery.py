"""One-to-one message delivery: latency from ``POST .../messages`` to the recipient's
stream frame, against offered load, stepped up until it breaks.

One ``plaza serve`` process on loopback (SQLite by default; ``--backend postgres``
makes a fresh PostgreSQL database and drops it afterwards; ``--database-url`` uses a
database of your own). Set-up, from this process: ``--pairs`` sender/receiver pairs
sign up through the API, each receiver follows its sender (so that the conversation
lands in the inbox, not in Message requests) and each sender opens the direct
conversation. The dm rate limits are raised through ``PLAZA_DM_*`` for the server.

Then a SEPARATE load-generating process (``python -m bench.dm_delivery --generator``,
fed a JSON plan on stdin; uvloop) holds one stream WebSocket per receiver and sends
messages open-loop at the offered rate, round robin over the senders, over a pool of
keep-alive HTTP/1.1 connections (a minimal client: httpx would cost the generator
more CPU than the server spends on some requests). Latency is measured in that one
process, on one clock, from the moment a message was *scheduled* to be sent to the
moment its frame reached the receiver: a generator that falls behind its schedule
adds to the figure instead of hiding it (the ``lag`` column shows by how much).

Each step runs ``--seconds``; the next step runs only if this one held: p99 ≤ 1 s,
no errors, every acknowledged message delivered, and achieved ≥ 90 % of offered
(achieved = messages that reached their recipient within the step's window, per
second). Who used the CPUs during each step is measured from /proc: the server
process, PostgreSQL, the generator, everything else. After the server stops, the
database's commit floor (one small row per transaction, one connection, as durable
as Plaza's: SQLite WAL with ``synchronous=FULL``) is measured on the same database.

    .venv/bin/python -m bench.dm_delivery [--backend sqlite|postgres] [--database-url URL]
        [--pairs 50] [--steps 25,50,100,250,...] [--seconds 5] [--connections 32] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._common import (
    PYTHON,
    REPO,
    Backend,
    Server,
    backend,
    exit_on_sigterm,
    free_port,
    plaza_env,
    table,
)
from bench._load import HttpPool, api, pct, sign_up_many
from bench._system import CpuMeter, machine, wait_quiet

GOAL_RATE = 5_000
GOAL_P99_MS = 50.0
BREAK_P99_MS = 1_000.0
DEFAULT_STEPS = "25,50,100,250,500,1000,2000,4000,5000"
# The limits a real sender has; the bench is one sender sending for many.
BENCH_LIMITS = {
    "PLAZA_DM_MESSAGES_PER_MINUTE": "100000000",
    "PLAZA_DM_NEW_CONVERSATIONS_PER_DAY": "100000000",
    "PLAZA_FOLLOWS_PER_DAY": "100000000",
}


# --------------------------------------------------------------------------------------
# Set-up, in the bench process: accounts, follows, conversations (through the API)


def setup_pairs(base: str, pairs: int) -> dict[str, Any]:
    """``pairs`` senders and receivers, each pair in an accepted direct conversation;
    returns the generator's plan (without the load settings)."""
    tag = uuid.uuid4().hex[:6]
    senders = [f"s{i}_{tag}" for i in range(pairs)]
    receivers = [f"r{i}_{tag}" for i in range(pairs)]
    accounts = sign_up_many(base, senders + receivers)
    routes = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for s, r in zip(senders, receivers, strict=True):
            api(c, "POST", f"/api/v1/users/{s}/follow", accounts[r][1])
            conv = api(
                c, "POST", "/api/v1/conversations", accounts[s][1], json={"participants": [r]}
            )
            routes.append(
                {"token": accounts[s][1], "conversation_id": conv.json()["id"], "recipients": 1}
            )
    return {"receivers": [accounts[r][1] for r in receivers], "routes": routes}


# --------------------------------------------------------------------------------------
# The load generator (its own process)


def runqueue_seconds(pid: int) -> dict[str, float]:
    """Per thread, the time it was ready to run but waited for a CPU (schedstat): how
    much the machine's other load held the server back."""
    waited: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            waited[task.name] = int((task / "schedstat").read_text().split()[1]) / 1e9
    return waited


def runqueue_delta(before: dict[str, float], after: dict[str, float]) -> float:
    # Threads that ended in between (pool connections closed) are left out.
    return sum(v - before.get(tid, 0.0) for tid, v in after.items())


class Generator:
    """Receivers on the stream, senders on HTTP; runs the plan's steps."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.base: str = plan["base"]
        host, port = self.base.removeprefix("http://").split(":")
        self.http = HttpPool(host, int(port), plan["connections"])
        self.routes: list[dict[str, Any]] = plan["routes"]
        self.loop = asyncio.get_running_loop()
        # Times come from perf_counter: uvloop's loop.time() has millisecond resolution.
        # key -> scheduled time, recipients still to receive it
        self.scheduled: dict[str, float] = {}
        self.waiting: dict[str, int] = {}
        self.done_at: dict[str, float] = {}  # key -> when its last recipient got it
        self.frames = 0  # message frames received (one per recipient)
        self.duplicates = 0
        self.seen: set[tuple[int, str]] = set()
        self.reconnects = 0
        self.readers: list[asyncio.Task[None]] = []
        self.stopping = False

    async def start(self) -> None:
        await self.http.open()
        ready = [self.loop.create_future() for _ in self.plan["receivers"]]
        for i, token in enumerate(self.plan["receivers"]):
            self.readers.append(asyncio.create_task(self._receive(i, token, ready[i])))
        await asyncio.wait_for(asyncio.gather(*ready), timeout=120)

    async def _receive(self, index: int, token: str, ready: asyncio.Future[None]) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        url = self.base.replace("http://", "ws://") + "/api/v1/stream"
        cursor: int | None = None
        while not self.stopping:
            target = url if cursor is None else f"{url}?since={cursor}"
            try:
                async with connect(
                    target,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    ping_interval=None,
                    max_queue=None,
                    compression=None,
                    open_timeout=60,
                ) as ws:
                    async for raw in ws:
                        frame = orjson.loads(raw)
                        kind = frame["type"]
                        if kind == "message.created":
                            cursor = frame["seq"]
                            self._arrived(index, frame["data"])
                        elif kind == "hello":
                            if cursor is None:
                                cursor = frame["data"]["seq"]
                            if not ready.done():
                                ready.set_result(None)
                        elif kind == "ping":
                            await ws.send('{"type":"pong"}')
                        elif kind == "resync":
                            cursor = frame["data"]["seq"]
                        elif frame["seq"] is not None:
                            cursor = frame["seq"]
            except (ConnectionClosed, InvalidStatus, OSError, TimeoutError):
                pass
            if not self.stopping:
                # Closed by the server (a slow consumer, say): resume from the cursor.
                self.reconnects += 1
                await asyncio.sleep(0.05)

    def _arrived(self, index: int, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        text: str = data.get("text") or ""
        if not text.startswith("bench "):
            return
        key = text[6:]
        self.frames += 1
        if (index, key) in self.seen:
            self.duplicates += 1
            return
        self.seen.add((index, key))
        left = self.waiting.get(key)
        if left is None:
            return
        if left <= 1:
            del self.waiting[key]
            self.done_at[key] = now
        else:
            self.waiting[key] = left - 1

    async def step(self, label: str, rate: float, seconds: float) -> dict[str, Any]:
        meter = CpuMeter(self.plan["server_pid"])
        acked: dict[str, float] = {}  # key -> POST latency (from its actual start)
        lags: list[float] = []
        errors: dict[str, int] = {}
        total = max(1, int(rate * seconds))
        frames0 = self.frames
        t0 = time.perf_counter() + 0.05
        window_end = t0 + seconds
        keys: list[str] = []

        async def send(n: int, at: float) -> None:
            route = self.routes[n % len(self.routes)]
            key = f"{label}.{n}"
            keys.append(key)
            self.scheduled[key] = at
            self.waiting[key] = route["recipients"]
            body = orjson.dumps({"text": f"bench {key}", "client_id": key})
            path = f"/api/v1/conversations/{route['conversation_id']}/messages"
            started = time.perf_counter()
            lags.append(started - at)
            try:
                status, answer = await self.http.post(path, route["token"], body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                self.waiting.pop(key, None)
                return
            if status == 201:
                acked[key] = time.perf_counter() - started
            else:
                what = f"{status} {answer[:80].decode(errors='replace')}"
                errors[what] = errors.get(what, 0) + 1
                self.waiting.pop(key, None)

        frames_in_window: list[int] = []
        self.loop.call_later(
            window_end - time.perf_counter(), lambda: frames_in_window.append(self.frames)
        )
        meter.start()
        waited = runqueue_seconds(self.plan["server_pid"])
        metered = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for n in range(total):
            at = t0 + n / rate
            delay = at - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(n, at)))
        # Sends still queued or in flight get a bounded grace; then they count as errors.
        _, late = await asyncio.wait(tasks, timeout=max(0.1, window_end + 5 - time.perf_counter()))
        for task in late:
            task.cancel()
        if late:
            errors["not answered within 5 s of the window"] = len(late)
            await asyncio.wait(late)
        deadline = time.perf_counter() + 5
        while any(k in self.waiting for k in acked) and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        cpu = meter.stop()
        metered = time.perf_counter() - metered
        queued = runqueue_delta(waited, runqueue_seconds(self.plan["server_pid"]))
        latencies = [self.done_at[k] - self.scheduled[k] for k in keys if k in self.done_at]
        in_window = sum(1 for k in keys if self.done_at.get(k, window_end + 1) <= window_end)
        undelivered = sum(1 for k in acked if k not in self.done_at)
        for k in keys:
            self.waiting.pop(k, None)
            self.scheduled.pop(k, None)
        return {
            "rate": rate,
            "seconds": seconds,
            "scheduled": total,
            "acked": len(acked),
            "errors": sum(errors.values()),
            "error_kinds": errors,
            "delivered": len(latencies),
            "undelivered": undelivered,
            "achieved": in_window / seconds,
            "frames_per_s": ((frames_in_window or [self.frames])[0] - frames0) / seconds,
            "p50_ms": 1000 * pct(latencies, 0.5),
            "p99_ms": 1000 * pct(latencies, 0.99),
            "max_ms": 1000 * max(latencies, default=float("nan")),
            "post_p50_ms": 1000 * pct(list(acked.values()), 0.5),
            "post_p99_ms": 1000 * pct(list(acked.values()), 0.99),
            "lag_p99_ms": 1000 * pct(lags, 0.99),
            "cpu": {
                "server": cpu.server,
                "postgres": cpu.postgres,
                "generator": cpu.client,
                "other": cpu.other,
            },
            "server_runqueue_pct": 100 * queued / metered,
            "server_cpu_ms_per_msg": 10 * cpu.server * metered / max(1, len(acked)),
            "duplicates": self.duplicates,
            "reconnects": self.reconnects,
        }

    async def stop(self) -> None:
        self.stopping = True
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


def broke(result: dict[str, Any]) -> str | None:
    """Why a step does not count as holding, or None."""
    if result["errors"]:
        return f"{result['errors']} errors"
    if result["undelivered"]:
        return f"{result['undelivered']} acknowledged messages not delivered"
    if result["duplicates"]:
        return f"{result['duplicates']} duplicate frames"
    if not result["p99_ms"] <= BREAK_P99_MS:
        return f"p99 {result['p99_ms']:.0f} ms > {BREAK_P99_MS:.0f} ms"
    if result["achieved"] < 0.9 * result["rate"]:
        return f"achieved {result['achieved']:.0f}/s < 90% of offered"
    return None


async def generate(plan: dict[str, Any]) -> None:
    gen = Generator(plan)
    await gen.start()
    try:
        # Warm-up (not reported): every route once, slowly, so that first-use costs
        # (imports, prepared statements, caches) are not in the first step.
        warm = await gen.step("w", min(50.0, float(len(gen.routes))), len(gen.routes) / 50 + 0.5)
        if warm["errors"] or warm["undelivered"]:
            raise SystemExit(
                f"the warm-up failed: {warm['error_kinds']}, {warm['undelivered']}"
                " acknowledged messages not delivered"
            )
        for i, rate in enumerate(plan["steps"]):
            result = await gen.step(f"s{i}", float(rate), plan["seconds"])
            result["broke"] = broke(result)
            print(json.dumps(result), flush=True)
            if result["broke"]:
                break
            await asyncio.sleep(1.0)  # let the server drain its background work
    finally:
        await gen.stop()


def generator_main() -> None:
    import uvloop

    plan = json.loads(sys.stdin.readline())
    random.seed(1)
    uvloop.run(generate(plan))


def run_generator(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the plan in a separate load-generating process; its results, one per step."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile() as errlog:
        proc = subprocess.Popen(
            [PYTHON, "-m", "bench.dm_delivery", "--generator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=env,
            cwd=REPO,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(plan).encode() + b"\n")
            proc.stdin.close()
            results = []
            for line in proc.stdout:
                result = json.loads(line)
                results.append(result)
                print("  " + step_line(result), flush=True)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            errlog.seek(0)
            raise RuntimeError(f"generator failed ({code}):\n{errlog.read().decode()[-3000:]}")
    return results


def step_line(r: dict[str, Any]) -> str:
    cpu = r["cpu"]
    return (
        f"offered {r['rate']:.0f}/s: achieved {r['achieved']:.0f}/s, p50 {r['p50_ms']:.1f} ms, "
        f"p99 {r['p99_ms']:.1f} ms, errors {r['errors']} {r['error_kinds'] or ''}, "
        f"server {cpu['server']:.0f}% (waiting for a CPU {r['server_runqueue_pct']:.0f}%) "
        f"pg {cpu['postgres']:.0f}% gen {cpu['generator']:.0f}% "
        f"other {cpu['other']:.0f}%" + (f" -> broke: {r['broke']}" if r.get("broke") else "")
    )


CURVE_HEADERS = [
    "offered/s",
    "achieved/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "errors",
    "POST p50 ms",
    "POST p99 ms",
    "gen lag p99 ms",
    "srv CPU ms/msg",
    "srv %",
    "srv wait CPU %",
    "pg %",
    "gen %",
    "other %",
]


def curve_rows(results: list[dict[str, Any]]) -> list[list[object]]:
    return [
        [
            round(r["rate"]),
            round(r["achieved"]),
            r["p50_ms"],
            r["p99_ms"],
            r["max_ms"],
            r["errors"] + r["undelivered"],
            r["post_p50_ms"],
            r["post_p99_ms"],
            r["lag_p99_ms"],
            r["server_cpu_ms_per_msg"],
            round(r["cpu"]["server"]),
            round(r["server_runqueue_pct"]),
            round(r["cpu"]["postgres"]),
            round(r["cpu"]["generator"]),
            round(r["cpu"]["other"]),
        ]
        for r in results
    ]


# --------------------------------------------------------------------------------------
# The server and the commit floor


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[Backend]:
    if args.database_url:
        with tempfile.TemporaryDirectory(prefix="plaza-bench-dm-") as tmp:
            url = args.database_url
            raw = url.split("///", 1)[1] if url.startswith("sqlite") else url
            name = "sqlite" if url.startswith("sqlite") else "postgres"
            yield Backend(name, url, raw.replace("postgresql+asyncpg", "postgresql"), Path(tmp))
    else:
        with backend(args.backend) as b:
            yield b


@contextlib.contextmanager
def plaza_server(b: Backend, redis_url: str | None) -> Iterator[Server]:
    port = free_port()
    env = plaza_env(b, PLAZA_LOG_JSON="false", **BENCH_LIMITS)
    if redis_url:
        env.update(PLAZA_REDIS_URL=redis_url, PLAZA_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}")
    argv = [PYTHON, "-m", "plaza.cli", "serve", "--port", str(port)]
    with Server(argv, env, port, "/readyz") as server:
        yield server


def commit_floor(b: Backend, seconds: float = 3.0) -> float:
    """Small durable transactions per second, one connection, on the same database."""
    if b.name == "sqlite":
        conn = sqlite3.connect(b.raw, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id INTEGER PRIMARY KEY, t TEXT)")
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            n += 1
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_commit (t) VALUES (?)", (f"row {n}",))
            conn.execute("COMMIT")
        conn.execute("DROP TABLE bench_commit")
        conn.close()
        return n / (time.perf_counter() - started)

    async def pg() -> float:
        import asyncpg

        conn = await asyncpg.connect(b.raw)
        try:
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id serial, t text)")
            n, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                n += 1
                await conn.execute("INSERT INTO bench_commit (t) VALUES ($1)", f"row {n}")
            await conn.execute("DROP TABLE bench_commit")
            return n / (time.perf_counter() - started)
        finally:
            await conn.close()

    return asyncio.run(pg())


def report(
    title: str, results: list[dict[str, Any]], goal_rate: float | None, floor: float | None
) -> None:
    print()
    print(title)
    print(table(CURVE_HEADERS, curve_rows(results)))
    held = [r for r in results if not r.get("broke")]
    fast = [r for r in held if r["p99_ms"] < GOAL_P99_MS]
    if results and results[-1].get("broke"):
        print(f"broke at {results[-1]['rate']:.0f}/s: {results[-1]['broke']}")
    if held:
        print(f"highest offered load that held: {max(r['rate'] for r in held):.0f}/s")
    if goal_rate:
        best = max((r["rate"] for r in fast), default=0)
        verdict = "met" if best >= goal_rate else "MISSED"
        print(f"goal {goal_rate}/s with p99 < {GOAL_P99_MS:.0f} ms: {verdict} (best {best:.0f}/s)")
    if floor is not None:
        print(f"commit floor of the database: {floor:,.0f} transactions/s (1 connection)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--generator"]:
        generator_main()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--database-url", help="an existing, empty database instead")
    parser.add_argument("--redis-url", help="run the server's event bus on Redis")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--steps", default=DEFAULT_STEPS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32, help="HTTP connections")
    parser.add_argument("--quick", action="store_true", help="25 pairs, 3 s steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.seconds = min(args.pairs, 25), min(args.seconds, 3.0)
    exit_on_sigterm()
    print(machine(), flush=True)
    with database(args) as b, plaza_server(b, args.redis_url) as server:
        started = time.monotonic()
        plan = setup_pairs(server.base, args.pairs)
        print(f"set-up: {args.pairs} pairs in {time.monotonic() - started:.0f}s", flush=True)
        wait_quiet(20)
        plan.update(
            base=server.base,
            server_pid=server.pid,
            steps=[float(s) for s in args.steps.split(",")],
            seconds=args.seconds,
            connections=args.connections,
        )
        results = run_generator(plan)
        server.stop()
        floor = commit_floor(b)
    report(
        f"1:1 delivery, {b.name}{' + Redis' if args.redis_url else ''}, {args.pairs} pairs, "
        f"{args.connections} HTTP connections, {args.seconds:.0f} s per step",
        results,
        GOAL_RATE,
        floor,
    )


if __name__ == "__main__":
    main()
