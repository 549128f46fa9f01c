"""Run the benchmarks: ``.venv/bin/python -m bench [name ...]`` (default: all of them).

Each benchmark also runs alone, with its own options: ``python -m bench.me_read --help``.
The home-timeline benchmark needs a generated data set first, so it runs alone:
``python -m bench.social_dataset --url URL`` then ``python -m bench.social_timeline --url URL``.
"""

from __future__ import annotations

import sys
import time

from bench import (
    ledger,
    me_read,
    media_range,
    profile_me,
    signin,
    social_posts,
    stream_connections,
)
from bench._common import exit_on_sigterm

BENCHMARKS = {
    "me_read": me_read.main,
    "signin": signin.main,
    "profile_me": profile_me.main,
    "media_range": media_range.main,
    "ledger": ledger.main,
    "social_posts": social_posts.main,
    "stream_connections": stream_connections.main,
}


def main() -> None:
    exit_on_sigterm()
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    for name in names:
        started = time.monotonic()
        print(f"\n=== {name} ===", flush=True)
        BENCHMARKS[name]([])
        print(f"=== {name}: {time.monotonic() - started:.0f}s ===", flush=True)


if __name__ == "__main__":
    main()
