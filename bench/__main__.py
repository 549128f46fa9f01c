"""Run the benchmarks: ``.venv/bin/python -m bench [name ...]`` (default: all of them).

Each benchmark also runs alone, with its own options: ``python -m bench.me_read --help``.
The home-timeline benchmark needs a generated data set first, so it runs alone:
``python -m bench.social_dataset --url URL`` then ``python -m bench.social_timeline --url URL``.
"""

from __future__ import annotations

import sys
import time

from bench import (
    calls_aiortc,
    calls_signalling,
    dm_delivery,
    dm_fanout,
    ledger,
    me_read,
    media_range,
    premium_renewals,
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
    # The short versions here; run ``python -m bench.dm_delivery`` alone for the full curve.
    "dm_delivery": lambda argv: dm_delivery.main(["--quick", *argv]),
    "dm_fanout": lambda argv: dm_fanout.main(["--quick", *argv]),
    # Short versions too: ``python -m bench.calls_signalling`` alone for the full curve.
    "calls_signalling": lambda argv: calls_signalling.main(["--quick", *argv]),
    "calls_aiortc": lambda argv: calls_aiortc.main(["--quick", *argv]),
    # 5,000 subscriptions here: ``python -m bench.premium_renewals`` alone renews 100,000.
    "premium_renewals": lambda argv: premium_renewals.main(["--quick", *argv]),
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
