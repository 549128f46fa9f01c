"""The calls page (/calls) is a shell for its ES modules: the call log, and the call
settings with the operator's rules spelled out. The call screens come with every
signed-in page (layout.js), and profiles carry the hook for their call buttons."""

from __future__ import annotations

import httpx

from tests.conftest import Users

HTML = {"Accept": "text/html"}


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    log = await client.get("/calls", headers=HTML)
    assert (log.status_code, log.headers["location"]) == (303, "/login?next=/calls")


async def test_call_log_tabs_and_settings(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()
    headers = {**HTML, **alice.headers}

    page = await client.get("/calls", headers=headers)
    assert page.status_code == 200
    assert '<a href="/calls" aria-current="page">Calls</a>' in page.text
    assert 'id="call-log-section" data-tab="all"' in page.text
    assert '<script type="module" src="/static/js/calls-log.js"></script>' in page.text
    assert '<label for="calls-enabled">Allow calls</label>' in page.text
    # The operator's defaults: Premium to place a call, and a DM from the callee first.
    assert "placing a call needs Premium" in page.text
    assert "after they have sent you a direct message" in page.text
    missed = await client.get("/calls", params={"tab": "missed"}, headers=headers)
    assert 'data-tab="missed"' in missed.text
    assert "<title>Missed calls · Plaza</title>" in missed.text
    unknown = await client.get("/calls", params={"tab": "spam"}, headers=headers)
    assert 'data-tab="all"' in unknown.text


async def test_profiles_of_others_carry_the_call_button_hook(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    bob = await users.create()
    theirs = await client.get(f"/@{bob.username}", headers={**HTML, **alice.headers})
    assert f'data-call-username="{bob.username}"' in theirs.text
    mine = await client.get(f"/@{alice.username}", headers={**HTML, **alice.headers})
    assert "data-call-username" not in mine.text
