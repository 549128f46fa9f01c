"""A real call on loopback: time from the invite (``POST /api/v1/calls``) to ICE
connected, with two aiortc peers driven only through Plaza's public HTTP API and their
own stream WebSockets, beside the same two peers handing each other the SDPs directly.

One ``plaza serve`` process (SQLite by default), set up as in ``calls_signalling`` (the
operator's default consent policy: the caller has Premium through the grant path, the
callee follows the caller and has sent it a DM). This process is both phones, on one
event loop, separate from the server: each fetches its ICE servers from
``GET /api/v1/calls/ice-servers``, and each call goes

    caller: ICE servers, RTCPeerConnection (audio + 640x480 video), offer, gathering,
            POST /calls                                        <- the invite (t = 0)
    callee: call.incoming on its stream, ICE servers, peer, answer, gathering,
            POST /calls/{id}/answer
    caller: call.answered on its stream, setRemoteDescription
    both:   ICE checks until connected, then DTLS until the connection is up

then the caller hangs up and both wait for ``call.ended``. aiortc gathers every
candidate before the SDP is ready (no trickle), so ``/candidates`` is not used. ICE is
kept on 127.0.0.1 (aioice would otherwise gather every interface of the machine).

Variants: ``direct``, Plaza with no ICE servers (``iceServers=[]``: host candidates on
loopback); ``turn``, when coturn's ``turnserver`` is installed: a loopback coturn with
TURN REST auth that this script starts, Plaza configured with ``PLAZA_TURN_URIS`` and
``PLAZA_TURN_SECRET``, and so the relay-only policy it asks for by default (both
peers gather and use relayed candidates only).

The baseline, in the same run: the same two peers with the same ICE configuration
(fetched once from Plaza), the offer and answer handed over in process, timed from the
moment the offer is handed over. ``--calls`` calls per variant after one warm-up call.

    .venv/bin/python -m bench.calls_aiortc [--calls 15] [--variants direct,turn]
        [--backend sqlite|postgres] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
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

from bench._common import PYTHON, Backend, Server, backend, exit_on_sigterm, free_port, plaza_env
from bench._common import table as md_table
from bench._load import pct
from bench._system import machine, wait_quiet
from bench.calls_signalling import BENCH_LIMITS, setup_pairs

GOAL_MS = 1_000.0
TIMEOUT = 20.0


def loopback_only() -> None:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


# --------------------------------------------------------------------------------------
# A phone: one signed-in device with its stream open


class Phone:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.http = httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        self.frames: asyncio.Queue[tuple[float, str, dict[str, Any]]] = asyncio.Queue()
        self.backlog: list[tuple[float, str, dict[str, Any]]] = []
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        url = self.base.replace("http://", "ws://") + "/api/v1/stream"
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            ping_interval=None,
            compression=None,
            open_timeout=TIMEOUT,
        )
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert hello["type"] == "hello", hello

        async def read() -> None:
            async with ws:
                async for raw in ws:
                    now = time.perf_counter()
                    frame = orjson.loads(raw)
                    if frame["type"] == "ping":
                        await ws.send('{"type":"pong"}')
                    else:
                        self.frames.put_nowait((now, frame["type"], frame["data"]))

        self.reader = asyncio.create_task(read())

    async def event(self, kind: str, call_id: str | None) -> tuple[float, dict[str, Any]]:
        """The next ``kind`` frame about ``call_id`` (any call when None): when it arrived
        and its data."""
        for i, (at, k, data) in enumerate(self.backlog):
            if k == kind and call_id in (None, data.get("id")):
                del self.backlog[i]
                return at, data
        async with asyncio.timeout(TIMEOUT):
            while True:
                at, k, data = await self.frames.get()
                if k == kind and call_id in (None, data.get("id")):
                    return at, data
                self.backlog.append((at, k, data))

    async def post(self, path: str, body: Any = None) -> dict[str, Any]:
        r = await self.http.post(path, json=body)
        if r.status_code not in (200, 201, 202):
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
        answer: dict[str, Any] = r.json()
        return answer

    async def ice(self) -> dict[str, Any]:
        r = await self.http.get("/api/v1/calls/ice-servers")
        r.raise_for_status()
        config: dict[str, Any] = r.json()
        return config

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.reader
        await self.http.aclose()


class Peer:
    """An RTCPeerConnection with audio and video, noting when ICE and the connection
    come up (``perf_counter`` times)."""

    def __init__(self, ice: dict[str, Any]) -> None:
        from aiortc import (
            RTCConfiguration,
            RTCIceServer,
            RTCIceTransportPolicy,
            RTCPeerConnection,
        )
        from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

        servers = [
            RTCIceServer(urls=s["urls"], username=s["username"], credential=s["credential"])
            for s in ice["ice_servers"]
        ]
        policy = (
            RTCIceTransportPolicy.RELAY
            if ice["ice_transport_policy"] == "relay"
            else RTCIceTransportPolicy.ALL
        )
        # An empty list, never None: aiortc would fall back to a public STUN server.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        self.pc.addTrack(AudioStreamTrack())
        self.pc.addTrack(VideoStreamTrack())
        self.ice_up: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.up: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        @self.pc.on("iceconnectionstatechange")
        def on_ice() -> None:
            state = self.pc.iceConnectionState
            if state in ("connected", "completed") and not self.ice_up.done():
                self.ice_up.set_result(time.perf_counter())
            elif state == "failed" and not self.ice_up.done():
                self.ice_up.set_exception(RuntimeError("ICE failed"))

        @self.pc.on("connectionstatechange")
        def on_connection() -> None:
            state = self.pc.connectionState
            if state == "connected" and not self.up.done():
                self.up.set_result(time.perf_counter())
            elif state == "failed" and not self.up.done():
                self.up.set_exception(RuntimeError("connection failed"))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp: str = self.pc.localDescription.sdp
        return sdp

    async def answer(self, offer: str) -> str:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        sdp: str = self.pc.localDescription.sdp
        return sdp

    async def accept(self, answer: str) -> None:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def relayed(self) -> bool:
        """Whether the nominated candidate pair is relay on both ends (aiortc has no
        public getter: this reads the ICE agent, as tests/calls/peers.py does)."""
        transport = self.pc.getTransceivers()[0].sender.transport.transport
        pair = transport._connection._nominated[1]
        return bool(pair.local_candidate.type == pair.remote_candidate.type == "relay")

    async def close(self) -> None:
        await self.pc.close()


# --------------------------------------------------------------------------------------
# One call, through Plaza or directly


async def plaza_call(caller: Phone, callee: Phone, callee_name: str) -> dict[str, float]:
    """Place, answer, connect and hang up one call; the moments of each step."""
    t: dict[str, float] = {"dial": time.perf_counter()}
    peers: list[Peer] = []

    async def caller_side() -> str:
        peer = Peer(await caller.ice())
        peers.append(peer)
        offer = await peer.offer()
        t["invite"] = time.perf_counter()
        call = await caller.post(
            "/api/v1/calls", {"callee": callee_name, "media": "video", "sdp": offer}
        )
        assert call["state"] == "ringing", call
        t["posted"] = time.perf_counter()
        t["heard"], answered = await caller.event("call.answered", call["id"])
        await peer.accept(answered["sdp"])
        return str(call["id"])

    async def callee_side() -> Peer:
        t["ring"], incoming = await callee.event("call.incoming", None)
        peer = Peer(await callee.ice())
        answer = await peer.answer(incoming["offer_sdp"])
        t["answer"] = time.perf_counter()
        await callee.post(f"/api/v1/calls/{incoming['id']}/answer", {"sdp": answer})
        return peer

    try:
        call_id, peer_b = await asyncio.gather(caller_side(), callee_side())
        peers.append(peer_b)
        a, b = peers
        async with asyncio.timeout(TIMEOUT):
            t["ice"] = max(await a.ice_up, await b.ice_up)
            t["up"] = max(await a.up, await b.up)
        t["relayed"] = float(a.relayed() and b.relayed())
        ended = await caller.post(f"/api/v1/calls/{call_id}/hangup")
        assert ended["state"] == "ended", ended
        await caller.event("call.ended", call_id)
        await callee.event("call.ended", call_id)
    finally:
        for peer in peers:
            await peer.close()
    return t


async def direct_call(ice: dict[str, Any]) -> dict[str, float]:
    """The baseline: the same peers, the SDPs handed over in process."""
    t: dict[str, float] = {"dial": time.perf_counter()}
    a, b = Peer(ice), Peer(ice)
    try:
        offer = await a.offer()
        t["invite"] = time.perf_counter()
        answer = await b.answer(offer)
        await a.accept(answer)
        async with asyncio.timeout(TIMEOUT):
            t["ice"] = max(await a.ice_up, await b.ice_up)
            t["up"] = max(await a.up, await b.up)
        t["relayed"] = float(a.relayed() and b.relayed())
    finally:
        await a.close()
        await b.close()
    return t


# --------------------------------------------------------------------------------------
# coturn


@contextlib.contextmanager
def coturn(secret: str) -> Iterator[int]:
    """A loopback-only coturn with TURN REST auth (as tests/calls starts it); its port."""
    binary = shutil.which("turnserver")
    assert binary is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    relay_low = 40_000 + (port % 100) * 100
    with tempfile.TemporaryDirectory(prefix="plaza-bench-turn-") as tmp:
        log = Path(tmp) / "turnserver.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    "-n",
                    "--log-file=stdout",
                    "--simple-log",
                    "--listening-ip=127.0.0.1",
                    f"--listening-port={port}",
                    "--relay-ip=127.0.0.1",
                    f"--min-port={relay_low}",
                    f"--max-port={relay_low + 99}",
                    "--use-auth-secret",
                    f"--static-auth-secret={secret}",
                    "--realm=plaza.bench",
                    "--no-tls",
                    "--no-dtls",
                    "--fingerprint",
                    "--allow-loopback-peers",
                    "--no-cli",
                    "--no-tcp-relay",
                    f"--pidfile={Path(tmp) / 'turnserver.pid'}",
                    f"--db={Path(tmp) / 'turndb'}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 15
            while b"Total General servers" not in log.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text(errors="replace")[-2000:])
                time.sleep(0.05)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def plaza_server(b: Backend, **extra: str) -> Iterator[Server]:
    port = free_port()
    env = plaza_env(b, PLAZA_LOG_JSON="false", **BENCH_LIMITS, **extra)
    argv = [PYTHON, "-m", "plaza.cli", "serve", "--port", str(port)]
    with Server(argv, env, port, "/readyz") as server:
        yield server


def ms(times: list[dict[str, float]], start: str, end: str, p: float) -> float:
    return 1000 * pct([x[end] - x[start] for x in times], p)


async def run_variant(base: str, pair: dict[str, str], calls: int) -> dict[str, Any]:
    loopback_only()
    caller, callee = Phone(base, pair["caller"]), Phone(base, pair["callee_token"])
    try:
        await caller.open()
        await callee.open()
        ice = await caller.ice()
        await plaza_call(caller, callee, pair["callee"])  # warm-up
        await direct_call(ice)
        through, direct = [], []
        for _ in range(calls):
            through.append(await plaza_call(caller, callee, pair["callee"]))
            direct.append(await direct_call(ice))
            print(
                f"  call: invite -> ICE {1000 * (through[-1]['ice'] - through[-1]['invite']):.0f}"
                f" ms (direct {1000 * (direct[-1]['ice'] - direct[-1]['invite']):.0f} ms)",
                flush=True,
            )
    finally:
        await caller.close()
        await callee.close()
    return {"plaza": through, "direct": direct, "ice": ice}


def report(variant: str, result: dict[str, Any]) -> list[list[object]]:
    through, direct = result["plaza"], result["direct"]
    print()
    print(
        f"{variant}: {len(through)} calls; Plaza's ICE servers: "
        f"{[s['urls'] for s in result['ice']['ice_servers']]}, "
        f"policy {result['ice']['ice_transport_policy']}; relayed pairs: "
        f"{sum(int(x['relayed']) for x in through)}/{len(through)}"
    )
    phases = [
        ("dial -> invite (ICE servers, peer, offer, gathering)", "dial", "invite"),
        ("invite -> call.incoming on the callee's stream", "invite", "ring"),
        ("call.incoming -> answer ready (ICE servers, peer, gathering)", "ring", "answer"),
        ("answer ready -> call.answered on the caller's stream", "answer", "heard"),
        ("call.answered -> ICE connected (both)", "heard", "ice"),
        ("ICE connected -> connected (DTLS, both)", "ice", "up"),
    ]
    print(
        md_table(
            ["phase (Plaza)", "p50 ms", "p99 ms"],
            [[name, ms(through, a, b, 0.5), ms(through, a, b, 0.99)] for name, a, b in phases],
        )
    )
    rows = [
        [variant, "plaza", "invite -> ICE connected", *_p(through, "invite", "ice")],
        [variant, "plaza", "invite -> connected (DTLS)", *_p(through, "invite", "up")],
        [variant, "plaza", "dial -> ICE connected", *_p(through, "dial", "ice")],
        [variant, "direct", "offer handed over -> ICE connected", *_p(direct, "invite", "ice")],
        [variant, "direct", "offer handed over -> connected", *_p(direct, "invite", "up")],
        [variant, "direct", "peer created -> ICE connected", *_p(direct, "dial", "ice")],
    ]
    return rows


def _p(times: list[dict[str, float]], start: str, end: str) -> list[float]:
    return [ms(times, start, end, 0.5), ms(times, start, end, 0.99)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--variants", default="direct,turn")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--quick", action="store_true", help="5 calls per variant")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = min(args.calls, 5)
    variants = args.variants.split(",")
    if "turn" in variants and shutil.which("turnserver") is None:
        print("turnserver is not installed (apt-get install coturn): no relay variant")
        variants.remove("turn")
    exit_on_sigterm()
    print(machine(), flush=True)
    rows: list[list[object]] = []
    with backend(args.backend) as b:
        for variant in variants:
            with contextlib.ExitStack() as stack:
                extra = {}
                if variant == "turn":
                    secret = "bench-" + uuid.uuid4().hex
                    port = stack.enter_context(coturn(secret))
                    extra = {
                        "PLAZA_TURN_URIS": f"turn:127.0.0.1:{port}?transport=udp",
                        "PLAZA_TURN_SECRET": secret,
                    }
                server = stack.enter_context(plaza_server(b, **extra))
                [pair] = setup_pairs(server.base, b.url, 1)
                wait_quiet(20)
                print(f"{variant} (plaza serve, {b.name}):", flush=True)
                result = asyncio.run(run_variant(server.base, pair, args.calls))
            rows += report(variant, result)
    print()
    # With fewer than 100 calls, p99 is the slowest call.
    print(md_table(["variant", "via", "from -> to", "p50 ms", "p99 ms"], rows))
    for row in rows:
        if row[1] == "plaza" and row[2] == "invite -> ICE connected":
            p99 = float(row[4])  # type: ignore[arg-type]
            verdict = "met" if p99 < GOAL_MS else "MISSED"
            print(f"goal invite -> ICE connected < {GOAL_MS:.0f} ms ({row[0]}): {verdict}")


if __name__ == "__main__":
    main(sys.argv[1:])
