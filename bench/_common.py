"""Shared helpers for the benchmarks: servers as subprocesses, databases, wrk, tables.

Everything talks to 127.0.0.1 only. Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
PASSWORD = "correct horse battery staple"


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``finally`` blocks stop the servers."""

    def handler(_signum: int, _frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pinned(cpus: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run under ``taskset -c cpus`` (taskset execs, so the pid stays the same)."""
    return ["taskset", "-c", cpus, *argv] if cpus else list(argv)


@dataclass
class Backend:
    """A throwaway database: an SQLite file in a temp dir, or a fresh PostgreSQL database."""

    name: str
    url: str  # SQLAlchemy URL for Plaza
    raw: str  # path (SQLite) or asyncpg DSN (PostgreSQL) for the bare baseline
    data_dir: Path


@contextlib.contextmanager
def backend(name: str) -> Iterator[Backend]:
    with tempfile.TemporaryDirectory(prefix=f"plaza-bench-{name}-") as tmp:
        data_dir = Path(tmp)
        if name == "sqlite":
            path = data_dir / "plaza.db"
            yield Backend(name, f"sqlite+aiosqlite:///{path}", str(path), data_dir)
            return
        if name != "postgres":
            raise ValueError(f"unknown backend {name!r}")
        db = f"bench_{uuid.uuid4().hex[:10]}"
        _psql(f"CREATE DATABASE {db}")
        try:
            dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{db}"
            url = dsn.replace("postgresql://", "postgresql+asyncpg://")
            yield Backend(name, url, dsn, data_dir)
        finally:
            _psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def _psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN_DSN, "-qAtc", sql], check=True, timeout=60)


def plaza_env(b: Backend, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    env.update(
        PLAZA_DATABASE_URL=b.url,
        PLAZA_DATA_DIR=str(b.data_dir),
        PLAZA_SECRET_KEY=SECRET_KEY,
        PLAZA_LOG_LEVEL="WARNING",
        PLAZA_SIGNUPS_PER_IP_PER_HOUR="100000",
        PLAZA_LOGIN_FAILURES_PER_HOUR="100000",
        PLAZA_NODE_ID="1",
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


def uvicorn_argv(app: str, port: int, *, factory: bool = False) -> list[str]:
    """The same uvicorn settings for Plaza and the baseline: uvloop, httptools, 1 worker."""
    argv = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", "1", "--loop", "uvloop", "--http", "httptools"]
    argv += ["--no-access-log", "--log-level", "warning"]
    return [*argv, "--factory"] if factory else argv


class Server:
    """A server subprocess; ``start`` waits (bounded) until ``probe`` answers 200."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, probe: str) -> None:
        self.argv, self.env, self.port, self.probe = argv, env, port, probe
        self.base = f"http://127.0.0.1:{port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Server:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + self.probe, timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sign_up_and_in(base: str, username: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        r = c.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        return str(r.json()["token"])


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot read latency {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def wrk(
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: int,
    headers: dict[str, str],
    cpus: str | None,
) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        pinned(cpus, [*argv, url]),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(x) for x in sock.groups()) if sock else 0
    return WrkResult(rps, _ms(p50), _ms(p99), total, errors)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    return str(value)
