"""The privacy matrix of messaging: every conversation and message endpoint as a call
template, the routes the app really serves (so that a new endpoint cannot slip past the
matrix), a small client for building scenes, and stream readers.

The scenes at the end build the conversations the tests walk: the outsider's scene and
the group that a member leaves or is removed from.

A call template is relative to ``/api/v1/conversations`` and names the ids it needs:
``{cid}`` a conversation, ``{mid}`` a message, ``{user}`` a username, ``{emoji}`` a
reaction, ``{client_id}`` a fresh client id. The same placeholders may appear in the body.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import fastapi.routing
import httpx
import orjson
from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from plaza.core.clock import ManualClock
from tests.conftest import Account, Users
from tests.realtime.conftest import Emit, FakeSocket, SocketFactory

PREFIX = "/api/v1/conversations"
MISSING_ID = "123456789012345678"
EMOJI = "🔥"
_PLACEHOLDER = re.compile(r"\{([^}]*)\}")
JSON = Any


def shape(path: str) -> str:
    """A path with its query dropped and every parameter reduced to ``{}``."""
    return _PLACEHOLDER.sub("{}", path.partition("?")[0])


def _fill(value: JSON, ids: dict[str, str]) -> JSON:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: ids.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Call:
    """One request of the matrix. ``write`` calls change something when allowed."""

    method: str
    template: str
    body: JSON = None
    write: bool = False

    @property
    def route(self) -> tuple[str, str]:
        return self.method, shape(PREFIX + self.template)

    def needs(self, name: str) -> bool:
        return "{" + name + "}" in self.template or "{" + name + "}" in orjson.dumps(
            self.body
        ).decode("utf-8")

    def url(self, **ids: str) -> str:
        path, _, query = self.template.partition("?")
        url = PREFIX + _PLACEHOLDER.sub(lambda m: quote(ids[m.group(1)], safe=""), path)
        if query:
            url += "?" + _PLACEHOLDER.sub(lambda m: quote(ids[m.group(1)], safe=""), query)
        return url

    def json(self, **ids: str) -> JSON:
        return _fill(self.body, {"client_id": uuid.uuid4().hex, **ids})

    def where(self, name: str) -> list[str]:
        """Where ``{name}`` travels: "path" (by position), "query.<key>", or a body key."""
        places: list[str] = []
        path, _, query = self.template.partition("?")
        if "{" + name + "}" in path:
            places.append("path")
        for pair in query.split("&") if query else []:
            key, _, value = pair.partition("=")
            if value == "{" + name + "}":
                places.append("query." + key)
        if isinstance(self.body, dict):
            marker = "{" + name + "}"
            places += [k for k, v in self.body.items() if marker in orjson.dumps(v).decode()]
        return places

    def __str__(self) -> str:
        return f"{self.method} {PREFIX}{self.template}"


TEXT = "matrix probe"
# Every endpoint on one conversation, reads first: a write that wrongly succeeds must
# not hide what the reads would have shown.
MATRIX: tuple[Call, ...] = (
    Call("GET", "/{cid}"),
    Call("GET", "/{cid}/messages"),
    Call("GET", "/{cid}/messages?after={mid}"),
    Call("GET", "/{cid}/messages/{mid}"),
    Call("GET", "/{cid}/messages/{mid}/edits"),
    Call("POST", "/{cid}/typing", write=True),
    Call("POST", "/{cid}/read", {"message_id": "{mid}"}, write=True),
    Call("POST", "/{cid}/delivered", {"message_id": "{mid}"}, write=True),
    Call("POST", "/{cid}/messages", {"text": TEXT, "client_id": "{client_id}"}, write=True),
    Call(
        "POST",
        "/{cid}/messages",
        {"text": TEXT, "client_id": "{client_id}", "reply_to": "{mid}"},
        write=True,
    ),
    Call("PATCH", "/{cid}/messages/{mid}", {"text": TEXT}, write=True),
    Call("PUT", "/{cid}/messages/{mid}/reactions/{emoji}", write=True),
    Call("DELETE", "/{cid}/messages/{mid}/reactions/{emoji}", write=True),
    Call("PATCH", "/{cid}", {"name": TEXT}, write=True),
    Call("POST", "/{cid}/members", {"usernames": ["{user}"]}, write=True),
    Call("POST", "/{cid}/accept", write=True),
    Call("DELETE", "/{cid}/messages/{mid}?scope=me", write=True),
    Call("DELETE", "/{cid}/messages/{mid}?scope=everyone", write=True),
    Call("DELETE", "/{cid}/members/{user}", write=True),
    Call("DELETE", "/{cid}", write=True),
)
# The endpoints without a conversation id: what they show is checked per scene.
COLLECTION: tuple[Call, ...] = (
    Call("GET", ""),
    Call("GET", "?box=requests"),
    Call("GET", "/unread"),
    Call("POST", "", {"participants": ["{user}"]}, write=True),
)
# Routes of the messaging package outside /api/v1/conversations that the matrix does
# not walk, each with the reason. Keep this empty unless a route truly has no
# conversation or message in it.
NOT_CONVERSATION_ROUTES: dict[tuple[str, str], str] = {}


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route of the app with its full path. FastAPI 0.16x keeps an included
    router as one entry of ``app.routes``; ``iter_route_contexts`` flattens them."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten else list(app.routes)


def _is_websocket(route: Any) -> bool:
    target = getattr(route, "original_route", route)
    return isinstance(target, WebSocketRoute | fastapi.routing.APIWebSocketRoute)


def messaging_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path shape) the app serves under the conversations prefix or from
    the messaging package; WebSocket routes there count with method "WS"."""
    found: set[tuple[str, str]] = set()
    for route in flat_routes(app):
        path = route.path or ""
        module = getattr(route.endpoint, "__module__", "") or ""
        if not (path.startswith(PREFIX) or module.startswith("plaza.messaging")):
            continue
        if _is_websocket(route):
            found.add(("WS", shape(path)))
        else:
            methods = set(route.methods or ()) - {"HEAD", "OPTIONS"}
            found |= {(m, shape(path)) for m in methods or {"ANY"}}
    return found


def route_params(app: FastAPI, call: Call) -> list[str]:
    """The app's names of the path parameters of ``call``, in order."""
    method, wanted = call.route
    for route in flat_routes(app):
        if method in (route.methods or ()) and shape(route.path or "") == wanted:
            return _PLACEHOLDER.findall(route.path)
    raise AssertionError(f"no route for {call}")


def field_names(app: FastAPI, call: Call, placeholder: str) -> list[str]:
    """The names a 422 may give to the field that carries ``placeholder`` in ``call``."""
    names: list[str] = []
    ours = _PLACEHOLDER.findall(call.template.partition("?")[0])
    theirs = route_params(app, call)
    for mine, name in zip(ours, theirs, strict=True):
        if mine == placeholder:
            names.append("path." + name)
    names += [w for w in call.where(placeholder) if w != "path"]
    return names


def expand(
    calls: Iterable[Call], cids: Iterable[str], mids: dict[str, list[str]], users: list[str]
) -> Iterator[tuple[Call, dict[str, str]]]:
    """Each call with every id it needs: every message of the conversation, every user."""
    for call in calls:
        for cid in cids:
            for mid in mids[cid] if call.needs("mid") else [MISSING_ID]:
                for user in users if call.needs("user") else [""]:
                    yield call, {"cid": cid, "mid": mid, "user": user, "emoji": EMOJI}


def assert_problem(response: httpx.Response, status: int, context: object) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with ``status``."""
    assert response.status_code == status, (str(context), response.status_code, response.text)
    kind = response.headers.get("content-type", "")
    assert kind.startswith("application/problem+json"), (str(context), kind)
    body: dict[str, Any] = response.json()
    assert body["status"] == status, (str(context), body)
    for key in ("type", "title", "detail"):
        assert body.get(key), (str(context), key, body)
    return body


def mentions(response_text: str, secrets: Iterable[str]) -> list[str]:
    return [s for s in secrets if s in response_text]


class MatrixClient:
    """The messaging API calls the scenes repeat; each asserts its success status."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, who: Account | None, call: Call, ids: dict[str, str]) -> httpx.Response:
        return await self.client.request(
            call.method,
            call.url(**ids),
            json=call.json(**ids),
            headers=who.headers if who else {},
        )

    async def ok(
        self, who: Account, method: str, url: str, json: JSON = None, status: int = 200
    ) -> Any:
        response = await self.client.request(method, url, json=json, headers=who.headers)
        assert response.status_code == status, (method, url, response.status_code, response.text)
        return response.json() if response.content else None

    async def start(self, who: Account, *others: Account, name: str | None = None) -> JSON:
        body: dict[str, Any] = {"participants": [o.username for o in others]}
        if name is not None:
            body["name"] = name
        response = await self.client.post(PREFIX, json=body, headers=who.headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def join(self, who: Account, cid: str) -> None:
        """Accept ``cid`` if it sits in ``who``'s message requests."""
        conversation = await self.conversation(who, cid)
        if conversation["state"] == "request":
            await self.ok(who, "POST", f"{PREFIX}/{cid}/accept")

    async def conversation(self, who: Account, cid: str) -> JSON:
        return await self.ok(who, "GET", f"{PREFIX}/{cid}")

    async def send(self, who: Account, cid: str, text: str, **extra: Any) -> JSON:
        body = {"text": text, "client_id": uuid.uuid4().hex, **extra}
        return await self.ok(who, "POST", f"{PREFIX}/{cid}/messages", body, status=201)

    async def react(self, who: Account, cid: str, mid: str, emoji: str = EMOJI) -> JSON:
        return await self.ok(
            who, "PUT", f"{PREFIX}/{cid}/messages/{mid}/reactions/{quote(emoji, safe='')}"
        )

    async def edit(self, who: Account, cid: str, mid: str, text: str) -> JSON:
        return await self.ok(who, "PATCH", f"{PREFIX}/{cid}/messages/{mid}", {"text": text})

    async def read(self, who: Account, cid: str, mid: str) -> None:
        await self.ok(who, "POST", f"{PREFIX}/{cid}/read", {"message_id": mid}, status=204)

    async def history(self, who: Account, cid: str, limit: int = 3) -> list[JSON]:
        """Every message ``who`` can page through, newest first, walking the cursors."""
        out: list[JSON] = []
        cursor: str | None = None
        for _ in range(200):
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            response = await self.client.get(
                f"{PREFIX}/{cid}/messages", params=params, headers=who.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            out += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return out
        raise AssertionError("history did not end")

    async def listing(self, who: Account) -> list[JSON]:
        """Every conversation in both boxes of ``who``."""
        out: list[JSON] = []
        for box in ("inbox", "requests"):
            response = await self.client.get(
                PREFIX, params={"box": box, "limit": 100}, headers=who.headers
            )
            assert response.status_code == 200, response.text
            out += response.json()["data"]
        return out


# ---- the stream -----------------------------------------------------------------------

SENTINEL = "matrix.sentinel"


class Watch:
    """A live stream socket of one user, read up to sentinels this test emits, so that
    "nothing arrived" is a statement about everything committed before the sentinel."""

    def __init__(self, sock: FakeSocket, user_id: int, emit: Emit, plaza: Any) -> None:
        self.sock = sock
        self.user_id = user_id
        self.emit = emit
        self.plaza = plaza
        self.frames: list[dict[str, Any]] = []

    async def sync(self, settle: float = 0.0) -> list[dict[str, Any]]:
        """Every frame up to a fresh sentinel (and, after ``settle`` seconds, any late
        ephemeral frame); returns the frames new since the last sync."""
        await self.plaza.bus.drain()
        # Unique across sockets: a replay from seq 0 carries earlier sentinels too.
        mark = uuid.uuid4().int >> 80
        await self.emit([self.user_id], 1, type=SENTINEL, start=mark)
        new: list[dict[str, Any]] = []
        while True:
            frame = await self.sock.receive_event()
            if frame["type"] == SENTINEL:
                if frame["data"] == {"n": mark}:
                    break
                continue
            new.append(frame)
        if settle:
            await asyncio.sleep(settle)
            while self.sock.pending():
                frame = await self.sock.receive_event()
                if frame["type"] != SENTINEL:
                    new.append(frame)
        self.frames += new
        return new


@asynccontextmanager
async def watching(
    connect: SocketFactory, who: Account, emit: Emit, plaza: Any, since: int | None = None
) -> AsyncIterator[Watch]:
    async with connect(who.headers, since=since) as sock:
        watch = Watch(sock, int(who.id), emit, plaza)
        await watch.sync()
        yield watch


def frame_mentions(frames: Iterable[dict[str, Any]], needles: Iterable[str]) -> list[Any]:
    """The frames whose JSON contains any of ``needles`` (ids or texts)."""
    needles = list(needles)
    hits = []
    for frame in frames:
        text = orjson.dumps(frame).decode()
        found = [n for n in needles if n in text]
        if found:
            hits.append((frame["type"], found, frame.get("data")))
    return hits


def created_ids(frames: Iterable[dict[str, Any]]) -> list[str]:
    return [f["data"]["id"] for f in frames if f["type"] == "message.created"]


# ---- scenes ------------------------------------------------------------------------

SECOND = timedelta(seconds=1)


def tagged(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}"


@dataclass
class Scene:
    """A and B one to one; group G of admin A with B and C; X talks only with Y."""

    a: Account
    b: Account
    c: Account
    x: Account
    y: Account
    direct: str
    group: str
    own: str  # X's conversation with Y
    mids: dict[str, list[str]]
    secrets: list[str] = field(default_factory=list)


async def build_scene(api: MatrixClient, users: Users) -> Scene:
    a, b, c, x, y = [await users.create() for _ in range(5)]
    s = [tagged(n) for n in ("direct-a", "direct-b", "edited-a", "group", "g-a", "g-b", "g-c")]
    direct = (await api.start(a, b))["id"]
    a1 = (await api.send(a, direct, s[0]))["id"]
    await api.join(b, direct)
    b1 = (await api.send(b, direct, s[1], reply_to=a1))["id"]
    await api.react(a, direct, b1)
    await api.react(b, direct, a1)
    await api.edit(a, direct, a1, s[2])
    await api.read(b, direct, a1)

    group = (await api.start(a, b, c, name=s[3]))["id"]
    await api.join(b, group)
    await api.join(c, group)
    g1 = (await api.send(a, group, s[4]))["id"]
    g2 = (await api.send(b, group, s[5], reply_to=g1))["id"]
    g3 = (await api.send(c, group, s[6]))["id"]
    await api.react(b, group, g1)
    await api.edit(a, group, g1, tagged("g-edited"))

    own = (await api.start(x, y))["id"]
    await api.send(x, own, "hello y")
    return Scene(a, b, c, x, y, direct, group, own, {direct: [a1, b1], group: [g1, g2, g3]}, s)


async def view_of(api: MatrixClient, who: Account, scene: Scene) -> dict[str, Any]:
    """Everything ``who`` can read about the scene's two conversations."""
    out: dict[str, Any] = {}
    for cid in (scene.direct, scene.group):
        out[cid] = await api.conversation(who, cid)
        out[cid + "/history"] = await api.history(who, cid)
        for mid in scene.mids[cid]:
            url = f"{PREFIX}/{cid}/messages/{mid}"
            out[mid] = await api.ok(who, "GET", url)
            out[mid + "/edits"] = await api.ok(who, "GET", url + "/edits")
    return out


async def stored_events(plaza: Any, who: Account) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = await plaza.realtime.events_after(int(who.id), 0, 10_000)
    return [row for row in rows if row[1] != SENTINEL]


def same_problem(theirs: dict[str, Any], nothing: dict[str, Any]) -> bool:
    keys = ("type", "title", "status", "detail")
    return [theirs.get(k) for k in keys] == [nothing.get(k) for k in keys]


@dataclass
class Exit:
    """Group G (admin A, B, C). C leaves or is removed between ``pre`` and ``post``."""

    a: Account
    b: Account
    c: Account
    group: str
    pre: list[str]  # pre1 by A (reacted, edited), pre2 by B (a reply), pre3 by C
    post: list[str] = field(default_factory=list)
    post_texts: list[str] = field(default_factory=list)
    pre_texts: list[str] = field(default_factory=list)
    late_texts: list[str] = field(default_factory=list)  # edits of pre messages after


async def exit_before(api: MatrixClient, a: Account, b: Account, c: Account) -> Exit:
    texts = [tagged(n) for n in ("pre-a", "pre-b", "pre-c")]
    group = (await api.start(a, b, c, name=tagged("exit-group")))["id"]
    await api.join(b, group)
    await api.join(c, group)
    pre1 = (await api.send(a, group, texts[0]))["id"]
    pre2 = (await api.send(b, group, texts[1], reply_to=pre1))["id"]
    pre3 = (await api.send(c, group, texts[2]))["id"]
    await api.react(b, group, pre1)
    await api.edit(a, group, pre1, texts[0] + "-edited")
    await api.read(c, group, pre3)
    return Exit(a, b, c, group, [pre1, pre2, pre3], pre_texts=texts)


async def exit_now(api: MatrixClient, scene: Exit, how: str) -> None:
    actor = scene.a if how == "removed" else scene.c
    await api.ok(actor, "DELETE", f"{PREFIX}/{scene.group}/members/{scene.c.username}", status=204)


async def exit_after(api: MatrixClient, scene: Exit) -> None:
    """What happens in the group once C is gone: messages, a reply to C's message, a
    reaction, an edit, reads and typing."""
    a, b, group = scene.a, scene.b, scene.group
    texts = [tagged(n) for n in ("post-a", "post-b", "post-edit")]
    post1 = (await api.send(a, group, texts[0], reply_to=scene.pre[2]))["id"]
    post2 = (await api.send(b, group, texts[1]))["id"]
    await api.react(b, group, post1)
    await api.edit(a, group, post1, texts[2])
    await api.read(a, group, post2)
    await api.read(b, group, post2)
    await api.ok(a, "POST", f"{PREFIX}/{group}/typing", status=204)
    # Later changes to messages from before the exit: C saw those messages, not these.
    await api.react(b, group, scene.pre[1])
    late_edit = tagged("pre-a-late-edit")
    await api.edit(a, group, scene.pre[0], late_edit)
    scene.post += [post1, post2]
    scene.post_texts += texts
    scene.late_texts.append(late_edit)


async def exit_scene(api: MatrixClient, users: Users, clock: ManualClock, how: str) -> Exit:
    a, b, c = [await users.create() for _ in range(3)]
    scene = await exit_before(api, a, b, c)
    clock.advance(SECOND)
    await exit_now(api, scene, how)
    clock.advance(SECOND)
    await exit_after(api, scene)
    return scene
