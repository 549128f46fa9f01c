"""Authenticated ``GET /api/v1/me`` on one uvicorn worker: Plaza beside a bare Starlette app.

For each database (SQLite, PostgreSQL) this starts, on a fresh database:
- ``plaza``: Plaza itself (``plaza.app:app_from_environment``);
- ``bare``: ``bench/baseline_app.py``, one raw-driver query (session by token hash
  joined to its user), the same JSON;
- ``bare+tx``: the baseline running Plaza's exact statement (with the second-factor
  EXISTS subqueries) inside BEGIN ... ROLLBACK, as Plaza's read session does.

All run under uvicorn with the same flags (uvloop, httptools, 1 worker, no access
log). One account is created and signed in through Plaza's API; its bearer token
drives ``wrk``. The servers are pinned to CPU 0 and wrk to CPU 1 (``taskset``)
when there are two or more CPUs; PostgreSQL is not pinned and competes for both.
Rounds interleave the apps; the table reports the median round of each. Before
each run the script waits (at most a minute) for the machine to be idle, and it
reports the CPU that other processes used during the run.

    .venv/bin/python -m bench.me_read [--seconds 10] [--connections 1,32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import httpx

from bench._common import (
    Server,
    WrkResult,
    backend,
    cores,
    exit_on_sigterm,
    free_port,
    pinned,
    plaza_env,
    sign_up_and_in,
    table,
    uvicorn_argv,
    wrk,
)
from bench._system import CpuMeter, CpuUse, machine, wait_quiet

GOAL_RPS = 3000
GOAL_P99_MS = 20.0
GOAL_TAX = 1.5
APPS = ("plaza", "bare", "bare+tx")


@dataclass
class Run:
    result: WrkResult
    cpu: CpuUse


@dataclass
class Row:
    backend: str
    app: str
    connections: int
    run: Run


def _servers(b_env: dict[str, str], kind: str, raw: str, cpu: str | None) -> dict[str, Server]:
    port = free_port()
    argv = uvicorn_argv("plaza.app:app_from_environment", port, factory=True)
    servers = {"plaza": Server(pinned(cpu, argv), b_env, port, "/readyz")}
    for app, same in (("bare", "0"), ("bare+tx", "1")):
        port = free_port()
        env = {**b_env, "BENCH_DB_KIND": kind, "BENCH_DB": raw, "BENCH_SAME_READS": same}
        argv = uvicorn_argv("bench.baseline_app:app", port)
        servers[app] = Server(pinned(cpu, argv), env, port, "/healthz")
    return servers


def measure(server: Server, token: str, conns: int, args: argparse.Namespace) -> Run:
    url = server.base + "/api/v1/me"
    wrk_cpu = "1" if args.pin else None
    opts = {"Authorization": f"Bearer {token}"}
    wait_quiet(args.quiet_wait)
    wrk(
        url,
        threads=args.threads,
        connections=conns,
        seconds=args.warmup,
        headers=opts,
        cpus=wrk_cpu,
    )
    meter = CpuMeter(server.pid)
    meter.start()
    res = wrk(
        url,
        threads=args.threads,
        connections=conns,
        seconds=args.seconds,
        headers=opts,
        cpus=wrk_cpu,
    )
    cpu = meter.stop()
    if res.errors:
        raise RuntimeError(f"{url}: {res.errors} errors or non-2xx answers")
    return Run(res, cpu)


def run_backend(name: str, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    with backend(name) as b:
        servers = _servers(plaza_env(b), name, b.raw, "0" if args.pin else None)
        try:
            servers["plaza"].start()  # applies the migrations first
            token = sign_up_and_in(servers["plaza"].base, "benchuser")
            headers = {"Authorization": f"Bearer {token}"}
            reference = httpx.get(servers["plaza"].base + "/api/v1/me", headers=headers).json()
            for app in APPS[1:]:
                servers[app].start()
                got = httpx.get(servers[app].base + "/api/v1/me", headers=headers).json()
                if got != reference:
                    raise RuntimeError(f"{app} answers {got}, Plaza answers {reference}")
            for conns in args.connections:
                runs: dict[str, list[Run]] = {app: [] for app in APPS}
                for _ in range(args.rounds):
                    for app in APPS:
                        runs[app].append(measure(servers[app], token, conns, args))
                for app in APPS:
                    median = sorted(runs[app], key=lambda r: r.result.rps)[(args.rounds - 1) // 2]
                    rows.append(Row(name, app, conns, median))
        finally:
            for server in servers.values():
                server.stop()
    return rows


def report(rows: list[Row], args: argparse.Namespace) -> str:
    pin = "server on CPU 0, wrk on CPU 1" if args.pin else "no CPU pinning"
    lines = [
        f"me_read: GET /api/v1/me, 1 uvicorn worker, wrk -t{args.threads} -d{args.seconds}s "
        f"after a {args.warmup}s warm-up, median of {args.rounds} rounds, {pin}",
        "CPU columns: % of one core during the run; 'other' is load from unrelated processes",
        "",
    ]
    body, verdicts = [], []
    plaza = {(r.backend, r.connections): r.run for r in rows if r.app == "plaza"}
    for r in rows:
        res, cpu = r.run.result, r.run.cpu
        base = plaza[(r.backend, r.connections)].result.rps
        cpu_ms = cpu.server * args.seconds * 10 / max(1, res.requests)
        body.append(
            [
                r.backend,
                r.connections,
                r.app,
                round(res.rps),
                res.p50_ms,
                res.p99_ms,
                f"{res.rps / base:.2f}x",
                cpu_ms,
                round(cpu.server),
                round(cpu.postgres),
                round(cpu.client),
                round(cpu.other),
            ]
        )
        if r.app == "bare":
            p = plaza[(r.backend, r.connections)].result
            tax = res.rps / p.rps
            verdicts.append(
                f"{r.backend} c={r.connections}: framework tax {tax:.2f}x (goal <= {GOAL_TAX}x: "
                f"{_yn(tax <= GOAL_TAX)}); Plaza {p.rps:,.0f} req/s (goal >= {GOAL_RPS}: "
                f"{_yn(p.rps >= GOAL_RPS)}), p99 {p.p99_ms:.1f} ms (goal < {GOAL_P99_MS:.0f}: "
                f"{_yn(p.p99_ms < GOAL_P99_MS)})"
            )
    headers = [
        "db",
        "conns",
        "app",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs plaza",
        "srv CPU ms/req",
        "srv %",
        "pg %",
        "wrk %",
        "other %",
    ]
    return "\n".join([*lines, table(headers, body), "", *verdicts])


def _yn(ok: bool) -> str:
    return "met" if ok else "MISSED"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="GET /api/v1/me: Plaza beside bare Starlette")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", default="1,32", help="comma-separated wrk -c values")
    p.add_argument("--threads", type=int, default=0, help="wrk threads (default 1 if pinned)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="max seconds to wait for an idle machine before each run",
    )
    p.add_argument("--no-pin", dest="pin", action="store_false")
    args = p.parse_args(argv)
    args.pin = args.pin and cores() >= 2
    args.threads = args.threads or (1 if args.pin else 2)
    args.connections = [int(c) for c in args.connections.split(",")]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    print(machine(), flush=True)
    started = time.monotonic()
    rows: list[Row] = []
    for name in args.backends:
        rows += run_backend(name, args)
    print(report(rows, args))
    print(f"(took {time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    exit_on_sigterm()
    main()
