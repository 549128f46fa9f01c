"""Password sign-in under the argon2id bound: hash cost, then concurrent sign-ins.

1. Milliseconds per argon2id hash and verify with Plaza's parameters (the
   ``Settings`` defaults: m=19456 KiB, t=2, p=1), single-threaded, median over N;
   and the rate of ``cores`` threads hashing flat out (what the CPUs can give).
2. For SQLite and PostgreSQL, a live Plaza (1 uvicorn worker, not pinned: hashing
   may use every core; ``PLAZA_MAX_CONCURRENT_HASHES`` at its default of 4) on a
   fresh database; a few users
   are created through the API, then ``c`` clients sign in in a closed loop
   (``POST /api/v1/sessions``, right password) for a fixed time, at each
   concurrency. Reported: sign-ins/s, p50/p99 latency, and the server's peak RSS
   (VmHWM, reset before each level) to show that memory stays bounded.

The baseline is the single-thread verify time: ideal sign-ins/s = cores / verify.

    .venv/bin/python -m bench.signin [--levels 1,4,16,64] [--seconds 10] [--backends sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from argon2 import PasswordHasher, Type

from bench._common import (
    PASSWORD,
    Server,
    backend,
    cores,
    exit_on_sigterm,
    free_port,
    plaza_env,
    table,
    uvicorn_argv,
)
from bench._system import CpuMeter, CpuUse, machine, reset_hwm, status_kib, wait_quiet
from plaza.config import Settings


def hasher() -> PasswordHasher:
    s = Settings()  # the defaults Plaza runs with unless PLAZA_ARGON2_* say otherwise
    return PasswordHasher(
        time_cost=s.argon2_time_cost,
        memory_cost=s.argon2_memory_kib,
        parallelism=s.argon2_parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


@dataclass
class HashCost:
    params: str
    hash_ms: float
    verify_ms: float
    threads: int
    threaded_per_s: float


def hash_cost(n: int, seconds: float) -> HashCost:
    ph = hasher()
    stored = ph.hash(PASSWORD)
    hashes, verifies = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        ph.hash(PASSWORD)
        hashes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ph.verify(stored, PASSWORD)
        verifies.append(time.perf_counter() - t0)
    threads = cores()
    deadline = time.monotonic() + seconds

    def flat_out() -> int:  # argon2-cffi releases the GIL while hashing
        done = 0
        while time.monotonic() < deadline:
            ph.verify(stored, PASSWORD)
            done += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: flat_out(), range(threads)))
    params = f"m={ph.memory_cost} KiB, t={ph.time_cost}, p={ph.parallelism}"
    return HashCost(
        params,
        statistics.median(hashes) * 1000,
        statistics.median(verifies) * 1000,
        threads,
        total / (time.monotonic() - started),
    )


@dataclass
class Level:
    backend: str
    concurrency: int
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    idle_rss_mib: float
    peak_rss_mib: float
    cpu: CpuUse


async def _sign_in_loop(
    client: httpx.AsyncClient, user: str, deadline: float, lat: list[float], errors: list[int]
) -> None:
    body = {"username": user, "password": PASSWORD}
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            r = await client.post("/api/v1/sessions", json=body)
        except httpx.HTTPError:
            errors.append(0)
            continue
        if r.status_code == 201:
            lat.append(time.perf_counter() - t0)
        else:
            errors.append(r.status_code)


async def drive(
    base: str, users: list[str], concurrency: int, seconds: float
) -> tuple[list[float], list[int], float]:
    lat: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _sign_in_loop(client, users[i % len(users)], deadline, lat, errors)
                for i in range(concurrency)
            )
        )
        return lat, errors, time.monotonic() - started


def run_levels(name: str, args: argparse.Namespace) -> list[Level]:
    levels: list[Level] = []
    with backend(name) as b:
        port = free_port()
        env = plaza_env(b)  # PLAZA_MAX_CONCURRENT_HASHES left at its default
        argv = uvicorn_argv("plaza.app:app_from_environment", port, factory=True)
        with Server(argv, env, port, "/readyz") as server:
            users = [f"signin{i}" for i in range(args.users)]
            with httpx.Client(base_url=server.base, timeout=60) as c:
                for u in users:
                    r = c.post("/api/v1/accounts", json={"username": u, "password": PASSWORD})
                    r.raise_for_status()
            idle_rss = status_kib(server.pid, "VmRSS") / 1024
            for conc in args.levels:
                wait_quiet(args.quiet_wait)
                asyncio.run(drive(server.base, users, conc, args.warmup))
                reset_hwm(server.pid)
                meter = CpuMeter(server.pid)
                meter.start()
                lat, errors, took = asyncio.run(drive(server.base, users, conc, args.seconds))
                cpu = meter.stop()
                lat.sort()
                p50, p99 = _pct(lat, 0.50) * 1000, _pct(lat, 0.99) * 1000
                peak = status_kib(server.pid, "VmHWM") / 1024
                levels.append(
                    Level(name, conc, len(lat), len(errors), took, p50, p99, idle_rss, peak, cpu)
                )
    return levels


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def report(cost: HashCost, levels: list[Level], args: argparse.Namespace) -> str:
    ideal = cost.threads * 1000 / cost.verify_ms
    costs = [
        ["hash, 1 thread, median ms", cost.hash_ms],
        ["verify, 1 thread, median ms", cost.verify_ms],
        ["verify rate, 1 thread /s", 1000 / cost.verify_ms],
        [f"ideal = {cost.threads} cores / verify time /s", ideal],
        [f"measured, {cost.threads} threads flat out /s", cost.threaded_per_s],
    ]
    rows = [
        [
            lv.backend, lv.concurrency, lv.ok / lv.seconds, f"{lv.ok / lv.seconds / ideal:.0%}",
            lv.p50_ms, lv.p99_ms, lv.errors, lv.idle_rss_mib, lv.peak_rss_mib,
            round(lv.cpu.server), round(lv.cpu.client), round(lv.cpu.other),
        ]
        for lv in levels
    ]  # fmt: skip
    headers = ["db", "clients", "sign-ins/s", "of ideal", "p50 ms", "p99 ms", "errors",
               "RSS before MiB", "peak RSS MiB", "srv %", "client %", "other %"]  # fmt: skip
    return "\n".join([
        f"signin: argon2id {cost.params}",
        "",
        table(["measure", "value"], costs),
        "",
        f"Concurrent POST /api/v1/sessions, 1 uvicorn worker, max_concurrent_hashes=4 "
        f"(default), {args.users} users, {args.seconds:g}s per level after {args.warmup:g}s "
        "warm-up; peak RSS = VmHWM, reset before each level",
        "",
        table(headers, rows),
        "CPU columns: % of one core; 'client' is this script; 'other' is unrelated load",
    ])  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="argon2id cost and concurrent sign-ins")
    p.add_argument("--hashes", type=int, default=30, help="single-thread samples")
    p.add_argument("--levels", default="1,4,16,64")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--quiet-wait", type=float, default=60.0)
    args = p.parse_args(argv)
    args.levels = [int(x) for x in args.levels.split(",")]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    print(machine(), flush=True)
    wait_quiet(args.quiet_wait)
    cost = hash_cost(args.hashes, seconds=5.0)
    levels = [lv for name in args.backends for lv in run_levels(name, args)]
    print(report(cost, levels, args))


if __name__ == "__main__":
    exit_on_sigterm()
    main()
