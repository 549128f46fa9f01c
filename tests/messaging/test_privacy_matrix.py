"""Only participants see a conversation or its messages: an A/B matrix over every
conversation and message endpoint.

Alice and Bob talk one to one; Alice runs a group with Bob and Carol. Xavier, an
outsider, calls every endpoint with their real ids: each answer is a 404 problem that
reads exactly like the one for an id that never existed, and nothing he tries changes
what Alice sees. A former member (removed by the admin, or gone by leaving) keeps the
history up to the exit and nothing after it: not in the history, not by id, not on the
stream, and every write answers 404; a member added later sees nothing from before.
Blocks hide the blocked person's new messages (quotes of them too), and a message can
be reported only by someone who can see it. Garbage ids answer 404 or a 422 naming the
field, never a 500.

The matrix (``MATRIX`` in matrix_helpers.py) is checked against the app's routes, so a
new endpoint under /api/v1/conversations fails
``test_the_matrix_walks_every_messaging_route`` until it is added there.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaza.core.clock import ManualClock
from tests.conftest import Users
from tests.messaging.matrix_helpers import (
    COLLECTION,
    EMOJI,
    MATRIX,
    MISSING_ID,
    NOT_CONVERSATION_ROUTES,
    PREFIX,
    SECOND,
    Call,
    MatrixClient,
    Scene,
    assert_problem,
    build_scene,
    created_ids,
    exit_after,
    exit_before,
    exit_now,
    exit_scene,
    expand,
    field_names,
    frame_mentions,
    mentions,
    messaging_routes,
    same_problem,
    stored_events,
    tagged,
    view_of,
    watching,
)
from tests.realtime.conftest import Emit, SocketFactory, producer

MAX_ID = 2**63 - 1


@pytest.fixture
def api(client: httpx.AsyncClient) -> MatrixClient:
    return MatrixClient(client)


@pytest.fixture
def emit(plaza: Any) -> Emit:
    return producer(plaza)


# ---- the matrix is complete ------------------------------------------------------------


async def test_the_matrix_walks_every_messaging_route(app: FastAPI) -> None:
    served = messaging_routes(app)
    walked = {call.route for call in MATRIX + COLLECTION}
    assert served, "no messaging routes are mounted"
    missing = served - walked - set(NOT_CONVERSATION_ROUTES)
    assert not missing, f"routes the privacy matrix does not walk: {sorted(missing)}"
    # A call to a route that does not exist gets the router's 404 and would pass.
    stale = walked - served
    assert not stale, f"matrix calls that match no route: {sorted(stale)}"


# ---- an outsider -----------------------------------------------------------------------


async def test_an_outsider_gets_404_on_every_endpoint_and_changes_nothing(
    api: MatrixClient, users: Users, plaza: Any, connect: SocketFactory, emit: Emit
) -> None:
    scene = await build_scene(api, users)
    x = scene.x
    before = {w.username: await view_of(api, w, scene) for w in (scene.a, scene.b)}
    events_before = {w.username: await stored_events(plaza, w) for w in (scene.a, scene.b, scene.c)}
    failures: list[str] = []

    async with watching(connect, scene.a, emit, plaza) as alice_live:
        calls = expand(
            MATRIX,
            [scene.direct, scene.group],
            scene.mids,
            [x.username, scene.y.username, scene.b.username],
        )
        for call, ids in calls:
            theirs = await api.call(x, call, ids)
            nothing = await api.call(x, call, ids | {"cid": MISSING_ID, "mid": MISSING_ID})
            try:
                got = assert_problem(theirs, 404, f"{call} {ids}")
                missing = assert_problem(nothing, 404, f"{call} (missing ids)")
                # The same answer as for ids that never existed: nothing says they do.
                assert same_problem(got, missing), (str(call), got, missing)
                assert not mentions(theirs.text, scene.secrets), (str(call), theirs.text)
            except AssertionError as exc:
                failures.append(str(exc))

        # X's own conversation with A's message ids: a message belongs to one conversation.
        foreign = {scene.own: scene.mids[scene.direct] + scene.mids[scene.group]}
        for call, ids in expand(
            [c for c in MATRIX if c.needs("mid")], [scene.own], foreign, [x.username]
        ):
            response = await api.call(x, call, ids)
            allowed = {200, 404} if "after=" in call.template else {404, 422}
            if "{mid}" in call.template.partition("?")[0]:
                allowed = {404}
            if response.status_code not in allowed or mentions(response.text, scene.secrets):
                failures.append(
                    f"{call} in X's own conversation with A's message {ids['mid']}: "
                    f"expected one of {sorted(allowed)} without A's texts, "
                    f"got {response.status_code} {response.text[:300]}"
                )

        leaked = await alice_live.sync(settle=0.2)
        assert not leaked, f"A's stream got events from X's attempts: {leaked}"

    assert not failures, "\n".join(failures)
    after = {w.username: await view_of(api, w, scene) for w in (scene.a, scene.b)}
    assert after == before, "X's attempts changed what A or B see"
    for w in (scene.a, scene.b, scene.c):
        assert await stored_events(plaza, w) == events_before[w.username], w.username

    # Nothing X can list or receive carries the conversations, their messages or names.
    needles = [scene.direct, scene.group, *scene.mids[scene.direct], *scene.mids[scene.group]]
    for call in COLLECTION[:3]:
        response = await api.call(x, call, {})
        assert response.status_code == 200, (str(call), response.text)
        assert not mentions(response.text, needles + scene.secrets), (str(call), response.text)
    x_events = "\n".join(data for _seq, _type, data in await stored_events(plaza, x))
    assert not mentions(x_events, needles + scene.secrets)

    # Starting a conversation with the same people makes a new one, not a door into theirs.
    for others in ([scene.a], [scene.a, scene.b]):
        started = await api.start(x, *others)
        assert started["id"] not in (scene.direct, scene.group)
        last = started["last_message"]
        assert last is None or last["kind"] == "system", started  # a group's "created" line
        assert not mentions(str(started), scene.secrets)
        history = await api.history(x, started["id"])
        assert not mentions(str(history), needles + scene.secrets)


async def test_signed_out_gets_401_on_every_endpoint(
    api: MatrixClient, users: Users, app: FastAPI
) -> None:
    scene = await build_scene(api, users)
    calls = list(expand(MATRIX, [scene.direct], scene.mids, [scene.b.username]))
    calls += list(expand(COLLECTION, [""], {"": []}, [scene.b.username]))
    # A client of its own: the shared one holds the session cookie of the last sign-in.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as anon:
        stranger = MatrixClient(anon)
        for call, ids in calls:
            response = await stranger.call(None, call, ids)
            body = assert_problem(response, 401, f"signed out: {call}")
            assert not mentions(response.text, scene.secrets), body
    # Nothing was written on the way.
    history = await api.history(scene.a, scene.direct)
    assert {m["id"] for m in history} >= set(scene.mids[scene.direct])
    assert not [m for m in history if m["text"] == "matrix probe"]


# ---- former members ----------------------------------------------------------------------


EXITS = pytest.mark.parametrize("how", ["removed", "left"])


@EXITS
async def test_a_former_member_reads_up_to_the_exit_and_nothing_after(
    api: MatrixClient, users: Users, clock: ManualClock, how: str
) -> None:
    scene = await exit_scene(api, users, clock, how)
    c, group = scene.c, scene.group
    hidden = scene.post + scene.post_texts

    # The rest of the conversation object is the view test's business (below).
    conversation = await api.conversation(c, group)
    assert conversation["state"] == how
    last = conversation["last_message"]
    assert last is None or not mentions(str(last), hidden), last

    history = await api.history(c, group, limit=2)
    seen = [m["id"] for m in history]
    assert set(scene.pre) <= set(seen), "the history up to the exit stays readable"
    assert not mentions(str(history), hidden), [m for m in history if m["id"] in scene.post]
    after_first = await api.ok(c, "GET", f"{PREFIX}/{group}/messages?after={scene.pre[0]}")
    assert {scene.pre[1], scene.pre[2]} <= {m["id"] for m in after_first["data"]}
    assert not mentions(str(after_first), hidden), after_first

    for mid in scene.pre:
        message = await api.ok(c, "GET", f"{PREFIX}/{group}/messages/{mid}")
        assert not mentions(str(message), hidden), message
    edits = await api.ok(c, "GET", f"{PREFIX}/{group}/messages/{scene.pre[0]}/edits")
    assert edits["data"][0]["text"] == scene.pre_texts[0], edits
    missing = assert_problem(
        await api.client.get(f"{PREFIX}/{group}/messages/{MISSING_ID}", headers=c.headers),
        404,
        "missing message",
    )
    for mid in scene.post:
        for suffix in ("", "/edits"):
            response = await api.client.get(
                f"{PREFIX}/{group}/messages/{mid}{suffix}", headers=c.headers
            )
            body = assert_problem(response, 404, f"C reads post-exit message {mid}{suffix}")
            assert same_problem(body, missing) or suffix, body

    for conv in await api.listing(c):
        last = conv["last_message"]
        assert last is None or not mentions(str(last), hidden), last

    # Reporting: what C saw can be reported, what came later does not exist for C.
    report = {"subject": "message", "category": "spam"}
    filed = await api.client.post(
        "/api/v1/reports", json=report | {"subject_id": scene.pre[0]}, headers=c.headers
    )
    assert filed.status_code == 201, filed.text
    refused = await api.client.post(
        "/api/v1/reports", json=report | {"subject_id": scene.post[0]}, headers=c.headers
    )
    assert_problem(refused, 404, "C reports a post-exit message")


@EXITS
async def test_every_write_of_a_former_member_is_404(
    api: MatrixClient, users: Users, clock: ManualClock, how: str
) -> None:
    scene = await exit_scene(api, users, clock, how)
    c, group = scene.c, scene.group
    alice_before = await api.conversation(scene.a, group), await api.history(scene.a, group)
    failures: list[str] = []
    # pre[2] is C's own message: the sender's rights end with the membership too.
    mids = {group: [scene.pre[2], scene.pre[0], scene.post[0]]}
    users_ = [c.username, scene.b.username]
    for call, ids in expand(MATRIX, [group], mids, users_):
        response = await api.call(c, call, ids)
        post = ids["mid"] in scene.post and call.needs("mid")
        if call.write:
            expected = {404}
        elif "after=" in call.template and post:
            expected = {200, 404}
        elif post:
            expected = {404}
        else:
            expected = {200}
        ok = response.status_code in expected
        if ok and response.status_code == 404:
            ok = response.headers.get("content-type", "").startswith("application/problem+json")
        # The conversation object's own leaks are the business of the view test below;
        # a 404 names the post-exit id in its "instance", which is the caller's own URL.
        messages = call.template.startswith("/{cid}/messages")
        shown = response.text if messages and response.status_code == 200 else ""
        if not ok or mentions(shown, scene.post + scene.post_texts):
            failures.append(
                f"{how} C: {call} mid={'post' if post else 'pre'} {ids['mid']} "
                f"user={ids['user']}: expected {sorted(expected)}, "
                f"got {response.status_code} {response.text[:200]}"
            )
    assert not failures, "\n".join(failures)
    assert (await api.conversation(scene.a, group), await api.history(scene.a, group)) == (
        alice_before
    ), "a former member's attempts changed the group"


@EXITS
async def test_a_former_members_view_of_the_conversation_stops_at_the_exit(
    api: MatrixClient, users: Users, clock: ManualClock, how: str
) -> None:
    a, b, c = [await users.create() for _ in range(3)]
    scene = await exit_before(api, a, b, c)
    clock.advance(SECOND)
    await exit_now(api, scene, how)
    clock.advance(SECOND)

    async def view() -> dict[str, Any]:
        listed = [conv for conv in await api.listing(c) if conv["id"] == scene.group]
        return {
            "conversation": await api.conversation(c, scene.group),
            "listed": listed,
            "unread": await api.ok(c, "GET", f"{PREFIX}/unread"),
        }

    at_exit = await view()
    await exit_after(api, scene)
    later = await view()
    changed = {
        key: (at_exit["conversation"].get(key), value)
        for key, value in later["conversation"].items()
        if at_exit["conversation"].get(key) != value
    }
    assert not changed, f"C's conversation object moved after the exit: {changed}"
    assert later["listed"] == at_exit["listed"], (at_exit["listed"], later["listed"])
    assert later["unread"] == at_exit["unread"], (at_exit["unread"], later["unread"])


@EXITS
async def test_a_former_members_stream_carries_nothing_after_the_exit(
    api: MatrixClient,
    users: Users,
    clock: ManualClock,
    plaza: Any,
    connect: SocketFactory,
    emit: Emit,
    how: str,
) -> None:
    a, b, c = [await users.create() for _ in range(3)]
    async with watching(connect, c, emit, plaza) as live:
        scene = await exit_before(api, a, b, c)
        clock.advance(SECOND)
        await exit_now(api, scene, how)
        before_exit = await live.sync()
        # The socket works: the messages before the exit arrived.
        assert {scene.pre[0], scene.pre[1]} <= set(created_ids(before_exit)), before_exit
        clock.advance(SECOND)
        await exit_after(api, scene)
        after_exit = await live.sync(settle=0.3)
    hidden = [scene.group, *scene.post, *scene.post_texts, *scene.late_texts]
    assert not frame_mentions(after_exit, hidden), frame_mentions(after_exit, hidden)

    # The stored stream, replayed from the start, has nothing after the exit either.
    async with watching(connect, c, emit, plaza, since=0) as replay:
        replayed = replay.frames
    assert {scene.pre[0], scene.pre[1]} <= set(created_ids(replayed))
    hidden = [*scene.post, *scene.post_texts, *scene.late_texts]
    assert not frame_mentions(replayed, hidden), frame_mentions(replayed, hidden)


async def test_a_message_in_the_same_instant_as_the_removal_stays_hidden(
    api: MatrixClient, users: Users
) -> None:
    """The clock does not move between the removal and the next message (two requests
    within one clock tick): the cut must still fall between them."""
    a, b, c = [await users.create() for _ in range(3)]
    scene = await exit_before(api, a, b, c)
    await exit_now(api, scene, "removed")
    await exit_after(api, scene)
    history = await api.history(c, scene.group)
    assert set(scene.pre) <= {m["id"] for m in history}
    leaked = [m for m in history if m["id"] in scene.post]
    assert not leaked, f"C sees messages sent after the removal: {leaked}"
    for mid in scene.post:
        response = await api.client.get(f"{PREFIX}/{scene.group}/messages/{mid}", headers=c.headers)
        assert_problem(response, 404, f"removed C reads {mid}")


async def test_a_member_added_later_sees_nothing_from_before_joining(
    api: MatrixClient, users: Users, plaza: Any, connect: SocketFactory, emit: Emit
) -> None:
    """The other side of the same bound: a participant from a given message on."""
    a, b, e, d = [await users.create() for _ in range(4)]
    group = (await api.start(a, b, e, name=tagged("late")))["id"]
    await api.join(b, group)
    secrets = [tagged("before-d-1"), tagged("before-d-2"), tagged("before-d-edited")]
    s1 = (await api.send(a, group, secrets[0]))["id"]
    s2 = (await api.send(b, group, secrets[1]))["id"]
    async with watching(connect, d, emit, plaza) as live:
        await api.ok(a, "POST", f"{PREFIX}/{group}/members", {"usernames": [d.username]})
        await api.join(d, group)
        quoting = (await api.send(b, group, tagged("b-quotes-s1"), reply_to=s1))["id"]
        await api.edit(a, group, s1, secrets[2])
        await api.react(b, group, s2)
        after = (await api.send(a, group, tagged("after-d")))["id"]
        frames = await live.sync(settle=0.2)
    assert {quoting, after} <= set(created_ids(frames)), "D's stream carries the new messages"
    assert not [f for f in frames if f["data"].get("id") in (s1, s2)], "updates of old ones"
    assert not frame_mentions(frames, secrets), frame_mentions(frames, secrets)

    history = await api.history(d, group)
    assert {quoting, after} <= {m["id"] for m in history}
    assert not {s1, s2} & {m["id"] for m in history}, history
    assert not mentions(str(history), secrets), history
    alice_before = await api.history(a, group)
    for call, ids in expand(
        [c for c in MATRIX if "{mid}" in c.template], [group], {group: [s1, s2]}, [d.username]
    ):
        if call.template.startswith("/{cid}/messages?after="):
            continue
        response = await api.call(d, call, ids)
        assert_problem(response, 404, f"D, added later: {call} on {ids['mid']}")
    report = {"subject": "message", "subject_id": s1, "category": "spam"}
    refused = await api.client.post("/api/v1/reports", json=report, headers=d.headers)
    assert_problem(refused, 404, "D reports a message from before joining")
    assert await api.history(a, group) == alice_before, "D's attempts changed the group"


# ---- blocks ------------------------------------------------------------------------------


async def test_someone_blocked_cannot_start_a_conversation_or_add_the_blocker(
    api: MatrixClient, users: Users
) -> None:
    a, b, c, e = [await users.create() for _ in range(4)]
    await api.ok(b, "POST", f"/api/v1/users/{a.username}/block", status=204)
    ghost = tagged("nobody")
    unknown = assert_problem(
        await api.client.post(PREFIX, json={"participants": [ghost]}, headers=a.headers),
        404,
        "unknown user",
    )

    def as_unknown(body: dict[str, Any], username: str) -> bool:
        return bool(str(body["detail"]).replace(username, ghost) == unknown["detail"])

    for who, participants in ((a, [b]), (b, [a]), (a, [b, c]), (a, [c, b])):
        response = await api.client.post(
            PREFIX, json={"participants": [p.username for p in participants]}, headers=who.headers
        )
        context = f"{who.username} starts with {[p.username for p in participants]}"
        body = assert_problem(response, 404, context)
        other = b if who is a else a
        assert as_unknown(body, other.username), (context, body, unknown)
        assert "block" not in body["detail"].lower(), body
    for who in (b, c):
        assert await api.listing(who) == [], f"{who.username} got a conversation anyway"

    group = (await api.start(a, c, e))["id"]
    response = await api.client.post(
        f"{PREFIX}/{group}/members", json={"usernames": [b.username]}, headers=a.headers
    )
    body = assert_problem(response, 404, "A adds B, who blocked A, to a group")
    assert "block" not in body["detail"].lower(), body
    members = {m["username"] for m in (await api.conversation(a, group))["members"]}
    assert b.username not in members
    assert await api.listing(b) == []


async def test_in_a_group_the_blocked_persons_new_messages_never_reach_the_blocker(
    api: MatrixClient,
    users: Users,
    clock: ManualClock,
    plaza: Any,
    connect: SocketFactory,
    emit: Emit,
) -> None:
    a, b, c = [await users.create() for _ in range(3)]
    group = (await api.start(a, b, c))["id"]
    await api.join(b, group)
    await api.join(c, group)
    earlier = (await api.send(a, group, tagged("before-block")))["id"]
    await api.read(b, group, earlier)
    async with watching(connect, b, emit, plaza) as live:
        await api.ok(b, "POST", f"/api/v1/users/{a.username}/block", status=204)
        clock.advance(SECOND)
        from_a_text, edited_text = tagged("from-a-after-block"), tagged("from-a-edited")
        from_a = (await api.send(a, group, from_a_text))["id"]
        from_c = (await api.send(c, group, tagged("from-c")))["id"]
        # C quotes A, reacts to A and A edits: none of it may carry A's words to B.
        quoting = (await api.send(c, group, tagged("c-quotes-a"), reply_to=from_a))["id"]
        await api.react(c, group, from_a)
        await api.edit(a, group, from_a, edited_text)
        frames = await live.sync(settle=0.2)
    secrets = [from_a_text, edited_text]
    problems: list[str] = []

    def check(ok: bool, what: str, evidence: object) -> None:
        if not ok:
            problems.append(f"{what}: {str(evidence)[:400]}")

    check({from_c, quoting} <= set(created_ids(frames)), "B's stream lacks C's messages", frames)
    about_a = [f for f in frames if f["data"].get("id") == from_a]
    check(not about_a, "B's stream carries events of A's message", about_a)
    leaks = frame_mentions(frames, secrets)
    check(not leaks, "B's stream carries A's text", leaks)

    history = await api.history(b, group)
    check({from_c, quoting} <= {m["id"] for m in history}, "B's history lacks C's", history)
    check(from_a not in {m["id"] for m in history}, "A's message is in B's history", history)
    check(not mentions(str(history), secrets), "B's history carries A's text", history)
    by_id = await api.client.get(f"{PREFIX}/{group}/messages/{from_a}", headers=b.headers)
    check(by_id.status_code == 404, "B reads A's message by id", by_id.text)
    quote = await api.client.get(f"{PREFIX}/{group}/messages/{quoting}", headers=b.headers)
    check(not mentions(quote.text, secrets), "C's quote shows B the text of A", quote.text)
    conversation = await api.conversation(b, group)
    last = conversation["last_message"] or {}
    check(last.get("id") == quoting, "B's last message is not C's quote", last)
    check(not mentions(str(conversation), secrets), "B's conversation shows A's text", last)
    check(conversation["unread_count"] == 2, "B's unread counts A", conversation["unread_count"])
    assert not problems, "\n".join(problems)
    # The others still see both.
    assert {from_a, from_c} <= {m["id"] for m in await api.history(c, group)}


async def test_one_to_one_sending_is_refused_across_a_block_both_ways(
    api: MatrixClient, users: Users
) -> None:
    a, b = await users.create(), await users.create()
    direct = (await api.start(a, b))["id"]
    await api.send(a, direct, "hi")
    await api.join(b, direct)
    await api.ok(b, "POST", f"/api/v1/users/{a.username}/block", status=204)
    for who in (a, b):
        response = await api.client.post(
            f"{PREFIX}/{direct}/messages",
            json={"text": "still there?", "client_id": uuid.uuid4().hex},
            headers=who.headers,
        )
        body = assert_problem(response, 403, f"{who.username} sends across the block")
        assert "blocked" in body["detail"].lower(), body


# ---- reports -----------------------------------------------------------------------------


async def test_only_someone_who_can_see_a_message_can_report_it(
    api: MatrixClient, users: Users
) -> None:
    scene = await build_scene(api, users)
    report = {"subject": "message", "category": "spam", "reason": "matrix"}
    nothing = assert_problem(
        await api.client.post(
            "/api/v1/reports", json=report | {"subject_id": MISSING_ID}, headers=scene.x.headers
        ),
        404,
        "report a missing message",
    )
    for mid in scene.mids[scene.direct] + scene.mids[scene.group]:
        response = await api.client.post(
            "/api/v1/reports", json=report | {"subject_id": mid}, headers=scene.x.headers
        )
        body = assert_problem(response, 404, f"X reports {mid}")
        assert same_problem(body, nothing), (body, nothing)
    first = await api.client.post(
        "/api/v1/reports",
        json=report | {"subject_id": scene.mids[scene.direct][0]},
        headers=scene.b.headers,
    )
    assert first.status_code == 201, first.text
    again = await api.client.post(
        "/api/v1/reports",
        json=report | {"subject_id": scene.mids[scene.direct][0]},
        headers=scene.b.headers,
    )
    assert again.status_code == 200, again.text
    in_group = await api.client.post(
        "/api/v1/reports",
        json=report | {"subject_id": scene.mids[scene.group][0]},
        headers=scene.c.headers,
    )
    assert in_group.status_code == 201, in_group.text
    garbage = await api.client.post(
        "/api/v1/reports", json=report | {"subject_id": "abc"}, headers=scene.b.headers
    )
    body = assert_problem(garbage, 422, "report with a garbage id")
    assert "subject_id" in [e["field"] for e in body["errors"]], body


# ---- ids that are not ids ----------------------------------------------------------------

GARBAGE = [
    "abc",
    "-1",
    "1.5",
    "1e3",
    "0x10",
    str(MAX_ID + 1),
    "9" * 40,
    "null",
    "' OR 1=1 --",
    "١٢٣",
    "😀",
    "%00",
    "<script>",
]
_DIGITS = frozenset("0123456789")


def judge(app: FastAPI, call: Call, where: str, value: str, response: httpx.Response) -> str:
    """Empty if ``response`` is a fine answer to ``value`` standing in ``where`` of
    ``call``; otherwise what is wrong."""
    status = response.status_code
    well_formed = set(value) <= _DIGITS and value != "" and int(value) <= MAX_ID
    in_path = "{" + where + "}" in call.template.partition("?")[0]
    if well_formed:
        allowed = {404} if in_path else {404, 422}
        if "after=" in call.template and not in_path:
            allowed = {200, 404}
    else:
        allowed = {404, 422}
    if status not in allowed:
        return f"{call} with {where}={value!r}: expected {sorted(allowed)}, got {status}"
    if status >= 400 and not response.headers.get("content-type", "").startswith(
        "application/problem+json"
    ):
        return f"{call} with {where}={value!r}: {status} is not a problem document"
    if status == 422:
        names = field_names(app, call, where)
        fields = [e.get("field", "") for e in response.json().get("errors", [])]
        if not any(n in f or f in n for f in fields for n in names):
            return f"{call} with {where}={value!r}: the 422 names {fields}, not one of {names}"
    return ""


async def probe(
    api: MatrixClient, app: FastAPI, scene: Scene, call: Call, where: str, value: str
) -> str:
    ids = {
        "cid": scene.group,
        "mid": scene.mids[scene.group][1],
        "user": scene.c.username,
        "emoji": EMOJI,
        where: value,
    }
    response = await api.call(scene.a, call, ids)
    return judge(app, call, where, value, response)


async def test_garbage_ids_answer_404_or_a_422_naming_the_field(
    api: MatrixClient, users: Users, app: FastAPI
) -> None:
    scene = await build_scene(api, users)
    failures = []
    for value in [*GARBAGE, MISSING_ID, str(MAX_ID), "0"]:
        for call in MATRIX:
            for where in ("cid", "mid"):
                if call.needs(where):
                    failures.append(await probe(api, app, scene, call, where, value))
    failures = [f for f in failures if f]
    assert not failures, "\n".join(failures)
    # None of it touched the group.
    history = await api.history(scene.a, scene.group)
    assert not [m for m in history if m["text"] == "matrix probe"]


ID_CALLS = [(call, where) for call in MATRIX for where in ("cid", "mid") if call.needs(where)]


@pytest.fixture
def scene_cache() -> dict[str, Scene]:
    return {}


async def cached_scene(cache: dict[str, Scene], api: MatrixClient, users: Users) -> Scene:
    if "scene" not in cache:
        cache["scene"] = await build_scene(api, users)
    return cache["scene"]


HYPOTHESIS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(
    target=st.sampled_from(ID_CALLS),
    value=st.integers(min_value=0, max_value=MAX_ID).map(str),
)
async def test_any_other_well_formed_id_is_404(
    api: MatrixClient,
    users: Users,
    app: FastAPI,
    scene_cache: dict[str, Scene],
    target: tuple[Call, str],
    value: str,
) -> None:
    scene = await cached_scene(scene_cache, api, users)
    known = {scene.direct, scene.group, scene.own, *scene.mids[scene.direct]}
    known |= set(scene.mids[scene.group])
    if value in known:
        return
    call, where = target
    problem = await probe(api, app, scene, call, where, value)
    assert not problem, problem


@HYPOTHESIS
@given(
    target=st.sampled_from(ID_CALLS),
    value=st.one_of(
        st.integers(min_value=-(2**80), max_value=2**80).map(str),
        st.text(
            st.characters(exclude_categories=["Cs"], exclude_characters="/"),
            min_size=1,
            max_size=30,
        ),
    ).filter(lambda v: v not in (".", "..", "unread")),
)
async def test_any_garbage_id_is_404_or_a_422_naming_the_field(
    api: MatrixClient,
    users: Users,
    app: FastAPI,
    scene_cache: dict[str, Scene],
    target: tuple[Call, str],
    value: str,
) -> None:
    scene = await cached_scene(scene_cache, api, users)
    known = {scene.direct, scene.group, scene.own, *scene.mids[scene.direct]}
    known |= set(scene.mids[scene.group])
    if value in known:
        return
    call, where = target
    problem = await probe(api, app, scene, call, where, value)
    assert not problem, problem
