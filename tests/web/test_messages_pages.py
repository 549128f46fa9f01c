"""The messages pages are shells for their ES modules: /messages (Inbox | Requests)
and /messages/{id}; the API answers who may see a conversation."""

from __future__ import annotations

import httpx

from tests.conftest import Users

HTML = {"Accept": "text/html"}


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    inbox = await client.get("/messages", headers=HTML)
    assert (inbox.status_code, inbox.headers["location"]) == (303, "/login?next=/messages")
    one = await client.get("/messages/123", headers=HTML)
    assert one.headers["location"] == "/login?next=/messages/123"


async def test_inbox_tabs_and_conversation_shell(client: httpx.AsyncClient, users: Users) -> None:
    alice = await users.create()
    headers = {**HTML, **alice.headers}

    inbox = await client.get("/messages", headers=headers)
    assert inbox.status_code == 200
    assert '<a href="/messages" aria-current="page">Messages</a>' in inbox.text
    assert 'data-box="inbox"' in inbox.text
    assert '<label for="new-to">To</label>' in inbox.text
    requests = await client.get("/messages", params={"tab": "requests"}, headers=headers)
    assert 'id="conversations-section" data-box="requests"' in requests.text
    unknown_tab = await client.get("/messages", params={"tab": "spam"}, headers=headers)
    assert 'id="conversations-section" data-box="inbox"' in unknown_tab.text

    page = await client.get("/messages/386150682974732288", headers=headers)
    assert page.status_code == 200
    assert 'data-conversation-id="386150682974732288"' in page.text
    assert f'data-me="{alice.id}"' in page.text
    assert 'data-action="pay"' in page.text
    not_an_id = await client.get("/messages/latest", headers=headers)
    assert not_an_id.status_code == 404
    assert "Page not found" in not_an_id.text


async def test_message_settings_page_offers_every_policy_and_read_receipts(
    client: httpx.AsyncClient, users: Users
) -> None:
    signed_out = await client.get("/messages/settings", headers=HTML)
    assert signed_out.headers["location"] == "/login?next=/messages/settings"

    alice = await users.create()
    headers = {**HTML, **alice.headers}
    page = await client.get("/messages/settings", headers=headers)
    assert page.status_code == 200
    for policy in ("everyone", "following", "verified", "none"):
        assert f'name="dm_policy" value="{policy}"' in page.text
        assert f'id="dm-policy-{policy}-hint"' in page.text
    assert 'name="read_receipts"' in page.text
    inbox = await client.get("/messages", headers=headers)
    assert 'href="/messages/settings"' in inbox.text
    assert ">Message settings</a>" in inbox.text


async def test_conversation_page_has_the_pay_dialog_and_the_step_up_prompt(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    page = await client.get("/messages/386150682974732288", headers={**HTML, **alice.headers})
    assert 'id="dm-pay-dialog"' in page.text
    assert 'name="amount.amount"' in page.text
    assert 'id="step-up"' in page.text  # the wallet's prompt, for large payments
    assert 'id="dm-group"' in page.text
    assert 'id="dm-delete"' in page.text


async def test_profiles_of_others_have_a_message_button(
    client: httpx.AsyncClient, users: Users
) -> None:
    alice = await users.create()
    bob = await users.create()
    theirs = await client.get(f"/@{bob.username}", headers={**HTML, **alice.headers})
    assert f'data-message-username="{bob.username}"' in theirs.text
    assert "/static/js/messages-start.js" in theirs.text
    mine = await client.get(f"/@{alice.username}", headers={**HTML, **alice.headers})
    assert "data-message-username" not in mine.text
    signed_out = await client.get(f"/@{bob.username}", headers=HTML)
    assert "data-message-username" not in signed_out.text
