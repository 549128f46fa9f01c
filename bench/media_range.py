"""Reading a large video over HTTP on loopback: Plaza (``plaza serve``, uvicorn) beside
``python -m http.server`` serving the very same file, in the same run.

A real H.264 video of about 64 MiB is made with ffmpeg, uploaded to Plaza through the
resumable upload API (8 MiB chunks) and processed; ``http.server`` then serves the
folder Plaza stored it in. For each server the client measures, for a fixed time:
- full reads: GET the whole file, over and over;
- 1 MiB range reads: ``Range: bytes=a-b`` at random 1 MiB-aligned offsets.
each at concurrency 1 and 8 (threads, one keep-alive connection each). MB/s counts
body bytes received (MB = 10^6 bytes).

``http.server`` (Python 3.11) ignores ``Range`` and answers 200 with the whole file;
for its range rows the client reads the first 1 MiB and hangs up (what a video player
does with such a server), so those rows count 1 MiB per request and a new connection
each time. Servers are pinned to CPU 0 and the client to CPU 1 when there are two CPUs.

    .venv/bin/python -m bench.media_range [--seconds 5] [--size-mib 64]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._common import (
    PYTHON,
    Server,
    backend,
    cores,
    exit_on_sigterm,
    free_port,
    pinned,
    plaza_env,
    sign_up_and_in,
    table,
)
from bench._system import CpuMeter, machine, wait_quiet

MIB = 1_048_576
CHUNK = 8 * MIB


@dataclass
class Result:
    server: str
    mode: str
    concurrency: int
    requests: int
    mb_per_s: float
    statuses: str
    server_cpu: float = 0.0
    other_cpu: float = 0.0


def make_video(path: Path, size_mib: int) -> None:
    """An H.264 stream at a constant bitrate chosen to land near ``size_mib``."""
    seconds = 20
    bitrate = size_mib * MIB * 8 // seconds
    subprocess.run(
        [
            "/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", str(bitrate),
            "-maxrate", str(bitrate), "-bufsize", str(bitrate // 2),
            "-x264-params", "nal-hrd=cbr", "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
        timeout=600,
    )  # fmt: skip


def upload(base: str, token: str, video: Path) -> tuple[str, str]:
    """Upload through the resumable API; the media URL and its path in the media folder."""
    headers = {"Authorization": f"Bearer {token}"}
    size = video.stat().st_size
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        state = c.post("/api/v1/media/uploads", json={"size": size}).raise_for_status().json()
        path = f"/api/v1/media/uploads/{state['id']}"
        with video.open("rb") as handle:
            offset = 0
            while offset < size:
                data = handle.read(min(CHUNK, state["chunk_size"]))
                answer = c.patch(path, content=data, headers={"Upload-Offset": str(offset)})
                offset = answer.raise_for_status().json()["offset"]
        media = c.post(path + "/complete").raise_for_status().json()
        deadline = time.monotonic() + 300
        while media["status"] == "processing" and time.monotonic() < deadline:
            time.sleep(0.5)
            media = c.get(f"/api/v1/media/{media['id']}").raise_for_status().json()
        if media["status"] != "ready":
            raise RuntimeError(f"the video did not become ready: {media}")
        owner = c.get("/api/v1/me").raise_for_status().json()["id"]
    return media["url"], f"/m/{owner}/{media['id']}/original.mp4"


def _worker(
    port: int, path: str, mode: str, size: int, until: float, totals: list[tuple[int, int, str]]
) -> None:
    rng = random.Random(threading.get_ident())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    buffer = bytearray(MIB)
    view = memoryview(buffer)
    requests = received = 0
    statuses: set[int] = set()
    while time.monotonic() < until:
        headers = {}
        if mode == "range":
            start = rng.randrange(size // MIB) * MIB
            headers["Range"] = f"bytes={start}-{start + MIB - 1}"
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        statuses.add(response.status)
        want = MIB if mode == "range" else size
        got = 0
        while got < want:
            n = response.readinto(view[: min(MIB, want - got)])
            if not n:
                break
            got += n
        if mode == "range" and response.status == 200:
            conn.close()  # the server ignored Range; hang up after the bytes we wanted
        elif response.will_close:
            response.read()
            conn.close()
        received += got
        requests += 1
    conn.close()
    totals.append((requests, received, ",".join(str(s) for s in sorted(statuses))))


def measure(port: int, path: str, mode: str, size: int, concurrency: int, seconds: float) -> Result:
    totals: list[tuple[int, int, str]] = []
    started = time.monotonic()
    until = started + seconds
    threads = [
        threading.Thread(target=_worker, args=(port, path, mode, size, until, totals))
        for _ in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    requests = sum(t[0] for t in totals)
    received = sum(t[1] for t in totals)
    statuses = ",".join(sorted({t[2] for t in totals}))
    return Result("", mode, concurrency, requests, received / elapsed / 1e6, statuses)


def main(argv: list[str] | None = None) -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args(argv)
    pin = cores() >= 2
    server_cpu = "0" if pin else None
    print(machine(), flush=True)
    with backend("sqlite") as b, tempfile.TemporaryDirectory(prefix="plaza-bench-video-") as tmp:
        video = Path(tmp) / "big.mp4"
        make_video(video, args.size_mib)
        port = free_port()
        plaza_bin = str(Path(PYTHON).parent / "plaza")
        plaza = Server(
            pinned(server_cpu, [plaza_bin, "serve", "--host", "127.0.0.1", "--port", str(port)]),
            plaza_env(b, PLAZA_LOG_LEVEL="WARNING"),
            port,
            "/readyz",
        )
        with plaza:
            token = sign_up_and_in(plaza.base, "mediabench")
            url, stored = upload(plaza.base, token, video)
            media_dir = b.data_dir / "media"
            size = (media_dir / stored.lstrip("/")).stat().st_size
            print(f"file: {size / MIB:.1f} MiB, Plaza URL {url}", flush=True)
            base_port = free_port()
            argv = [PYTHON, "-m", "http.server", "--bind", "127.0.0.1", str(base_port)]
            argv += ["--directory", str(media_dir)]
            baseline = Server(pinned(server_cpu, argv), dict(os.environ), base_port, stored)
            if pin:
                os.sched_setaffinity(0, {1})
            results: list[Result] = []
            with baseline:
                for mode in ("full", "range"):
                    for concurrency in (1, 8):
                        for name, server, path in (
                            ("plaza", plaza, url),
                            ("http.server", baseline, stored),
                        ):
                            wait_quiet(30)
                            meter = CpuMeter(server.pid)
                            meter.start()
                            r = measure(server.port, path, mode, size, concurrency, args.seconds)
                            use = meter.stop()
                            r.server, r.server_cpu, r.other_cpu = name, use.server, use.other
                            results.append(r)
                            print(
                                f"{name:12} {mode:5} c={concurrency}: {r.mb_per_s:8.1f} MB/s "
                                f"({r.requests} requests, status {r.statuses}, server CPU "
                                f"{r.server_cpu:.0f} %, other {r.other_cpu:.0f} %)",
                                flush=True,
                            )
    rows = []
    for mode in ("full", "range"):
        for concurrency in (1, 8):
            pair = {r.server: r for r in results if r.mode == mode and r.concurrency == concurrency}
            p, h = pair["plaza"], pair["http.server"]
            label = "full file" if mode == "full" else "1 MiB ranges"
            rows.append(
                [
                    label,
                    concurrency,
                    p.mb_per_s,
                    h.mb_per_s,
                    f"{p.mb_per_s / h.mb_per_s:.2f}",
                    f"{p.statuses} / {h.statuses}",
                    f"{p.server_cpu:.0f} / {h.server_cpu:.0f}",
                    f"{p.other_cpu:.0f} / {h.other_cpu:.0f}",
                ]
            )
    print()
    print(
        table(
            [
                "read",
                "concurrency",
                "Plaza MB/s",
                "http.server MB/s",
                "Plaza / http.server",
                "status (P / H)",
                "server CPU % (P / H)",
                "other CPU % (P / H)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
