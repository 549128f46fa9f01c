"""Group fan-out: one sender in a 50-member group, 49 recipients on the stream.

Same server, generator and measures as ``bench.dm_delivery`` (read its docstring):
one ``plaza serve`` process on loopback, a separate load-generating process. Set-up
through the API: 50 accounts; the 49 members follow the creator (so that the group
lands in their inbox) and the creator makes the group with all of them. The
generator holds the 49 members' streams and the creator sends open-loop at each
offered rate. For each message the latency is the time from its scheduled send to
the moment the *last* of the 49 recipients had its frame; achieved counts messages
that reached all 49 within the step's window. ``deliveries/s`` is frames received
by the recipients per second (49 per message).

    .venv/bin/python -m bench.dm_fanout [--backend sqlite|postgres] [--database-url URL]
        [--steps 5,10,25,50,100,200,400] [--seconds 5] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

import httpx

from bench._common import exit_on_sigterm, table
from bench._load import api, sign_up_many
from bench._system import machine, wait_quiet
from bench.dm_delivery import (
    CURVE_HEADERS,
    commit_floor,
    curve_rows,
    database,
    plaza_server,
    run_generator,
)

MEMBERS = 50
DEFAULT_STEPS = "5,10,25,50,100,200,400"


def setup_group(base: str, members: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    creator = f"g0_{tag}"
    others = [f"g{i}_{tag}" for i in range(1, members)]
    accounts = sign_up_many(base, [creator, *others])
    with httpx.Client(base_url=base, timeout=60) as c:
        for name in others:
            api(c, "POST", f"/api/v1/users/{creator}/follow", accounts[name][1])
        group = api(
            c,
            "POST",
            "/api/v1/conversations",
            accounts[creator][1],
            json={"participants": others, "name": "bench group"},
        ).json()
    assert group["kind"] == "group", group
    assert len(group["members"]) == members, group
    route = {
        "token": accounts[creator][1],
        "conversation_id": group["id"],
        "recipients": len(others),
    }
    return {"receivers": [accounts[n][1] for n in others], "routes": [route]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--database-url", help="an existing, empty database instead")
    parser.add_argument("--redis-url", help="run the server's event bus on Redis")
    parser.add_argument("--steps", default=DEFAULT_STEPS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8, help="HTTP connections")
    parser.add_argument("--quick", action="store_true", help="3 s steps")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.seconds = min(args.seconds, 3.0)
    exit_on_sigterm()
    print(machine(), flush=True)
    with database(args) as b, plaza_server(b, args.redis_url) as server:
        started = time.monotonic()
        plan = setup_group(server.base, MEMBERS)
        print(f"set-up: a {MEMBERS}-member group in {time.monotonic() - started:.0f}s", flush=True)
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
    print()
    print(
        f"group fan-out, {b.name}{' + Redis' if args.redis_url else ''}: 1 sender, "
        f"{MEMBERS - 1} recipients on the stream, {args.seconds:.0f} s per step; latency = "
        "until the last recipient has the frame"
    )
    headers = [*CURVE_HEADERS[:2], "deliveries/s", *CURVE_HEADERS[2:]]
    rows = [
        [*row[:2], round(r["frames_per_s"]), *row[2:]]
        for row, r in zip(curve_rows(results), results, strict=True)
    ]
    print(table(headers, rows))
    if results and results[-1].get("broke"):
        print(f"broke at {results[-1]['rate']:.0f} messages/s: {results[-1]['broke']}")
    held = [r for r in results if not r.get("broke")]
    if held:
        best = max(held, key=lambda r: r["rate"])
        print(
            f"highest offered load that held: {best['rate']:.0f} messages/s = "
            f"{best['frames_per_s']:.0f} deliveries/s (p99 {best['p99_ms']:.1f} ms)"
        )
    print(f"commit floor of the database: {floor:,.0f} transactions/s (1 connection)")


if __name__ == "__main__":
    main()
