"""A calling app for tests: an aiortc peer driven only through Plaza's public HTTP API
and the user's stream, sending a solid colour of video and audio, and counting (and
sampling) what it receives."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import av
import httpx
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from tests.conftest import Account
from tests.realtime.conftest import FakeSocket

JSON = Any
WIDTH, HEIGHT = 320, 240


class ColourTrack(VideoStreamTrack):
    """Video frames of one solid colour, so the receiver can tell whose they are."""

    def __init__(self, rgb: tuple[int, int, int]) -> None:
        super().__init__()
        self.rgb = rgb

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "rgb24")
        plane = frame.planes[0]
        plane.update(bytes(self.rgb) * (plane.line_size // 3) * HEIGHT)
        frame.pts, frame.time_base = pts, time_base
        return frame


def centre_colour(frame: av.VideoFrame) -> tuple[int, int, int]:
    rgb = frame.reformat(format="rgb24")
    plane = rgb.planes[0]
    offset = (rgb.height // 2) * plane.line_size + (rgb.width // 2) * 3
    data = bytes(plane)
    return data[offset], data[offset + 1], data[offset + 2]


class Phone:
    """One signed-in device of one person, with its stream open."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        account: Account,
        stream: FakeSocket,
        colour: tuple[int, int, int],
    ) -> None:
        self.client = client
        self.account = account
        self.stream = stream
        self.colour = colour
        self.pc: RTCPeerConnection | None = None
        self.call_id: str | None = None
        self.received: Counter[str] = Counter()
        self.colours: list[tuple[int, int, int]] = []
        self.audio_rates: set[int] = set()
        # Recorded once connected: the ICE agent forgets them when the call closes.
        self.pair: tuple[str, str] | None = None
        self.local_types: set[str] = set()
        self._backlog: list[tuple[str, JSON]] = []
        self._readers: list[asyncio.Task[None]] = []

    # ---- Plaza -----------------------------------------------------------------------

    async def _post(self, path: str, body: JSON = None) -> JSON:
        response = await self.client.post(path, json=body, headers=self.account.headers)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    async def event(self, kind: str, timeout: float = 10.0) -> JSON:
        """The next ``kind`` event about this call (or any call, before there is one)."""
        for i, (k, data) in enumerate(self._backlog):
            if k == kind and (self.call_id is None or data.get("id") == self.call_id):
                del self._backlog[i]
                return data
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.stream.receive_event()
                k, data = frame["type"], frame["data"]
                if k == kind and (self.call_id is None or data.get("id") == self.call_id):
                    return data
                self._backlog.append((k, data))

    async def _configuration(self) -> tuple[RTCConfiguration, JSON]:
        response = await self.client.get("/api/v1/calls/ice-servers", headers=self.account.headers)
        assert response.status_code == 200, response.text
        ice = response.json()
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
        return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy), ice

    async def _peer(self) -> tuple[RTCPeerConnection, JSON]:
        configuration, ice = await self._configuration()
        pc = RTCPeerConnection(configuration)
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(ColourTrack(self.colour))

        @pc.on("track")
        def on_track(track: Any) -> None:
            self._readers.append(asyncio.create_task(self._read(track)))

        self.pc = pc
        return pc, ice

    async def _read(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.received[track.kind] += 1
                if track.kind == "video":
                    self.colours.append(centre_colour(frame))
                else:
                    self.audio_rates.add(frame.sample_rate)

    # ---- the calling app's steps -----------------------------------------------------

    async def dial(self, username: str, media: str = "video") -> JSON:
        pc, ice = await self._peer()
        await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
        call = await self._post(
            "/api/v1/calls", {"callee": username, "media": media, "sdp": pc.localDescription.sdp}
        )
        self.call_id = call["id"]
        return {"call": call, "ice": ice}

    async def pick_up(self) -> JSON:
        incoming = await self.event("call.incoming")
        self.call_id = incoming["id"]
        pc, ice = await self._peer()
        await pc.setRemoteDescription(RTCSessionDescription(incoming["offer_sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self._post(f"/api/v1/calls/{self.call_id}/answer", {"sdp": pc.localDescription.sdp})
        return {"incoming": incoming, "ice": ice}

    async def hear_answer(self) -> JSON:
        answered = await self.event("call.answered")
        assert self.pc is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(answered["sdp"], "answer"))
        return answered

    async def hang_up(self) -> JSON:
        return await self._post(f"/api/v1/calls/{self.call_id}/hangup")

    async def until_connected(self, timeout: float = 15.0) -> None:
        assert self.pc is not None
        async with asyncio.timeout(timeout):
            while self.pc.connectionState != "connected":
                await asyncio.sleep(0.02)
        self.pair = self._selected_pair()
        self.local_types = self._local_candidate_types()

    async def until_received(self, video: int, audio: int, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while self.received["video"] < video or self.received["audio"] < audio:
                await asyncio.sleep(0.05)

    def _selected_pair(self) -> tuple[str, str]:
        """The types of the nominated ICE candidate pair (local, remote). aiortc has no
        public getter for it, so this reads the ICE agent's nominated pair."""
        assert self.pc is not None
        transport = self.pc.getTransceivers()[0].sender.transport.transport
        pair = transport._connection._nominated[1]
        return pair.local_candidate.type, pair.remote_candidate.type

    def _local_candidate_types(self) -> set[str]:
        assert self.pc is not None
        gatherer = self.pc.getTransceivers()[0].sender.transport.transport.iceGatherer
        return {c.type for c in gatherer.getLocalCandidates()}

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
