"""What the machine is and who uses its CPUs: for reading benchmark figures honestly."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import sqlite3
import subprocess
import time
import timeit
from dataclasses import dataclass
from pathlib import Path

from bench._common import PG_ADMIN_DSN


def status_kib(pid: int, field: str) -> int:
    """A memory figure of a process from /proc/PID/status: VmRSS (now), VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found")


def reset_hwm(pid: int) -> None:
    """Reset the peak RSS counter (Linux: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


TICK = os.sysconf("SC_CLK_TCK")


def _busy_jiffies() -> int:
    """All CPUs' non-idle time, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return sum(fields) - fields[3] - fields[4]  # minus idle and iowait


def _proc_jiffies(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_jiffies() -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _proc_jiffies(int(entry.name))
    return total


@dataclass
class CpuUse:
    """Average CPU use during a run, in % of one core."""

    server: float
    postgres: float
    client: float  # this script and wrk
    other: float  # everything else on the machine: background load that skews a run


class CpuMeter:
    """Measures who used the CPUs between ``start`` and ``stop``."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid

    def start(self) -> None:
        self._t = time.monotonic()
        self._busy, self._srv, self._pg = (
            _busy_jiffies(),
            _proc_jiffies(self.pid),
            _postgres_jiffies(),
        )
        self._kids = _children_seconds()

    def stop(self) -> CpuUse:
        seconds = time.monotonic() - self._t
        busy = (_busy_jiffies() - self._busy) / TICK
        srv = (_proc_jiffies(self.pid) - self._srv) / TICK
        pg = max(0.0, (_postgres_jiffies() - self._pg) / TICK)  # backends may exit
        kids = _children_seconds() - self._kids
        pct = 100 / seconds
        return CpuUse(srv * pct, pg * pct, kids * pct, max(0.0, busy - srv - pg - kids) * pct)


def _children_seconds() -> float:
    """CPU of this process (the load generator) and of its finished children (wrk)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def wait_quiet(max_seconds: float = 60.0, busy_below: float = 0.15) -> float:
    """Wait (bounded) until the machine is mostly idle; returns the last busy fraction."""
    deadline = time.monotonic() + max_seconds
    while True:
        total0 = sum(int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8])
        busy0 = _busy_jiffies()
        time.sleep(1.0)
        total1 = sum(int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8])
        frac = (_busy_jiffies() - busy0) / max(1, total1 - total0)
        if frac < busy_below or time.monotonic() >= deadline:
            return frac


def machine() -> str:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    try:
        pg = subprocess.run(
            ["psql", PG_ADMIN_DSN, "-qAtc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pg = "unavailable"
    # A pure-Python speed mark (lower is faster), to compare machines between runs.
    mark = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem_kib / 1048576:.1f} GiB RAM, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}, "
        f"sum(range(1000)) = {mark:.1f} us, {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
