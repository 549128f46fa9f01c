"""More of the messages web client in real browsers: paying from a DM (with the
wallet's step-up prompt, and an Idempotency-Key that a retry reuses), the message
settings and their effect, the profile's Message button, group management with its
system lines on another member's page, and call lines, edit history and deleting a
conversation.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_messages_flow import (
    PASSWORD,
    STREAM_OPEN,
    _accounts,
    _message,
    _send,
    _sign_in,
    _until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
STEP_UP_PROBLEM = {
    "type": "https://plaza.example/problems/step-up-required",
    "title": "Recent second-factor check required",
    "status": 403,
    "detail": "step-up required: confirm with your password at POST /api/v1/me/step-up first",
}


@pytest.fixture
def server_settings() -> dict[str, str]:
    """The sandbox rail settles at once, so a top-up can be spent straight away; anyone
    may place a call (the consent rules have tests of their own)."""
    return {
        "PLAZA_SANDBOX_RAIL_DELAY_SECONDS": "0",
        "PLAZA_CALLS_REQUIRE_PREMIUM": "false",
        "PLAZA_CALLS_REQUIRE_PRIOR_DM": "false",
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _follow(http: httpx.Client, token: str, username: str) -> None:
    followed = http.post(f"/api/v1/users/{username}/follow", headers=_bearer(token))
    assert followed.status_code == 200, followed.text


def _conversation(http: httpx.Client, token: str, *participants: str, name: str = "") -> str:
    body: dict[str, Any] = {"participants": list(participants)}
    if name:
        body["name"] = name
    made = http.post("/api/v1/conversations", json=body, headers=_bearer(token))
    assert made.status_code in (200, 201), made.text
    return str(made.json()["id"])


def _available(http: httpx.Client, token: str) -> int:
    wallet = http.get("/api/v1/wallet", headers=_bearer(token))
    assert wallet.status_code == 200, wallet.text
    return int(wallet.json()["available"]["amount"])


async def test_paying_from_a_dm_shows_the_payment_on_both_sides(
    page: Any, second_page: Any, live_server: LiveServer
) -> None:
    alice, bob = page, second_page
    tokens = _accounts(live_server, "alice_dmpay", "bob_dmpay")
    with live_server.api() as http:
        _follow(http, tokens["bob_dmpay"], "alice_dmpay")  # her DM lands in his inbox
        conversation_id = _conversation(http, tokens["alice_dmpay"], "bob_dmpay")
        topped_up = http.post(
            "/api/v1/wallet/deposits",
            json={"amount": {"amount": 5000, "currency": "USD"}},
            headers={**_bearer(tokens["alice_dmpay"]), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert topped_up.status_code == 201, topped_up.text
        assert _available(http, tokens["alice_dmpay"]) == 5000

    await _sign_in(alice, "alice_dmpay")
    await _sign_in(bob, "bob_dmpay")
    url = f"/messages/{conversation_id}"
    await bob.goto(url)
    await alice.goto(url)
    await _until(bob, STREAM_OPEN, "Bob's stream")

    pay = alice.get_by_role("button", name="Send money")
    await pay.click()
    dialog = alice.get_by_role("dialog", name="Send money to @bob_dmpay")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Available in your wallet: US$50.00")
    amount = dialog.get_by_label("Amount", exact=True)
    await expect(amount).to_be_focused()

    # More than the wallet holds: the server's 422 lands on the amount field.
    await amount.fill("100")
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await expect(alice.locator("#dm-pay-error")).to_contain_text("exceeds the available balance")

    await amount.fill("12.50")
    await dialog.get_by_label("Note (optional)").fill("pizza 🍕")
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(dialog).to_be_hidden()
    await expect(pay).to_be_focused()
    await expect(alice.locator("#dm-status")).to_have_text(
        re.compile(r"Sent US\$12\.50 to @bob_dmpay")
    )

    mine = alice.locator("#dm-messages > li.dm-msg--payment")
    await expect(mine).to_contain_text("You paid @bob_dmpay")
    await expect(mine).to_contain_text("US$12.50")
    await expect(mine).to_contain_text("pizza 🍕")
    theirs = bob.locator("#dm-messages > li.dm-msg--payment")
    await expect(theirs).to_contain_text("@alice_dmpay paid you")
    await expect(theirs).to_contain_text("US$12.50")
    await expect(theirs).to_contain_text("pizza 🍕")

    # A second payment: the first try never reaches the server (the retry sends the same
    # key), the second asks for a step-up (answered: the next try takes a new key).
    keys: list[str] = []

    async def scripted(route: Any) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.abort()
        elif len(keys) == 2:
            await route.fulfill(
                status=403,
                content_type="application/problem+json",
                body=json.dumps(STEP_UP_PROBLEM),
            )
        else:
            await route.continue_()

    await alice.route("**/api/v1/payments", scripted)
    await pay.click()
    await dialog.get_by_label("Amount", exact=True).fill("2")
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(alice.locator("#dm-pay-error")).to_contain_text("could not be reached")
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(
        dialog.get_by_role("heading", name=re.compile("^Confirm it.s you$"))
    ).to_be_visible()
    await dialog.get_by_label("Your password").fill(PASSWORD)
    await dialog.get_by_role("button", name="Confirm").click()
    await expect(dialog).to_be_hidden()
    await expect(bob.locator("#dm-messages > li.dm-msg--payment")).to_have_count(2)
    assert len(keys) == 3, keys
    assert keys[0] == keys[1], "a retry after no answer must reuse the key"
    assert keys[2] != keys[1], "after a stored answer the next attempt needs a new key"
    await alice.unroute("**/api/v1/payments")

    with live_server.api() as http:
        assert _available(http, tokens["alice_dmpay"]) == 5000 - 1250 - 200
        assert _available(http, tokens["bob_dmpay"]) == 1250 + 200

    # Bob's inbox says who paid whom.
    await bob.goto("/messages")
    row = bob.locator(f'#conversations > li[data-conversation-id="{conversation_id}"]')
    await expect(row).to_contain_text("@alice_dmpay paid you US$2.00")


async def test_message_settings_and_the_profile_message_button(
    page: Any, second_page: Any, live_server: LiveServer
) -> None:
    dan, carol = page, second_page
    _accounts(live_server, "carol_dmset", "dan_dmset")
    await _sign_in(dan, "dan_dmset")
    await _sign_in(carol, "carol_dmset")

    # Dan opens his message settings from the inbox; the default is "People you follow".
    await dan.goto("/messages")
    await dan.get_by_role("link", name="Message settings").click()
    await expect(dan.get_by_role("heading", name="Message settings")).to_be_visible()
    following = dan.get_by_role("radio", name="People you follow", exact=True)
    await expect(following).to_be_checked()
    await expect(
        dan.get_by_role("checkbox", name=re.compile("read their messages"))
    ).to_be_checked()
    await dan.get_by_role("radio", name="Everyone").check()
    await dan.get_by_role("button", name="Save").click()
    await expect(dan.locator("#dm-settings-status")).to_contain_text(
        re.compile("Anyone.s first message now lands in your inbox")
    )
    await dan.reload()
    await expect(dan.get_by_role("radio", name="Everyone")).to_be_checked()

    # Carol, whom Dan does not follow, writes from his profile: it lands in his inbox.
    await dan.goto("/messages")
    await _until(dan, STREAM_OPEN, "Dan's stream")
    await carol.goto("/@dan_dmset")
    await carol.get_by_role("button", name="Message", exact=True).click()
    await expect(carol).to_have_url(re.compile(r"/messages/\d+$"))
    await expect(carol.get_by_role("heading", name="dan_dmset", exact=True)).to_be_visible()
    await _send(carol, "Hello from your profile")
    conversation_id = carol.url.rsplit("/", 1)[1]
    row = dan.locator(f'#conversations > li[data-conversation-id="{conversation_id}"]')
    await expect(row).to_contain_text("carol_dmset: Hello from your profile")
    requests = await dan.request.get("/api/v1/conversations?box=requests")
    assert (await requests.json())["data"] == []

    # The button again opens the same conversation.
    await carol.goto("/@dan_dmset")
    await carol.get_by_role("button", name="Message", exact=True).click()
    await expect(carol).to_have_url(re.compile(rf"/messages/{conversation_id}$"))

    # "No one new" is saved the same way (its effect is the API's, tested there).
    await dan.goto("/messages/settings")
    await dan.get_by_role("radio", name="No one new").check()
    await dan.get_by_role("button", name="Save").click()
    await expect(dan.locator("#dm-settings-status")).to_contain_text("Only people you follow")
    settings = await dan.request.get("/api/v1/me/settings")
    assert (await settings.json())["dm_policy"] == "none"


async def test_group_rename_add_and_remove_show_system_lines_to_other_members(
    page: Any, second_page: Any, live_server: LiveServer
) -> None:
    alice, bob = page, second_page
    tokens = _accounts(live_server, "alice_grp", "bob_grp", "carol_grp", "dave_grp")
    with live_server.api() as http:
        for name in ("bob_grp", "carol_grp", "dave_grp"):
            _follow(http, tokens[name], "alice_grp")  # so the group lands in their inboxes
        conversation_id = _conversation(http, tokens["alice_grp"], "bob_grp", "carol_grp")
    await _sign_in(alice, "alice_grp")
    await _sign_in(bob, "bob_grp")
    url = f"/messages/{conversation_id}"
    await bob.goto(url)
    await alice.goto(url)
    await _until(bob, STREAM_OPEN, "Bob's stream")

    # Bob is a member, not an admin: he sees the members but cannot change them.
    await bob.get_by_text("Members and group settings").click()
    await expect(bob.locator("#dm-group-note")).to_be_visible()
    await expect(bob.get_by_label("Group name")).to_be_hidden()
    await expect(bob.locator("#dm-group-members")).to_contain_text("admin")

    await alice.get_by_text("Members and group settings").click()
    await alice.get_by_label("Group name").fill("Weekend trip")
    await alice.get_by_role("button", name="Rename").click()
    await expect(alice.locator("#dm-group-status")).to_have_text(
        "The group is now called “Weekend trip”."
    )
    await expect(bob.get_by_role("heading", name="Weekend trip", level=1)).to_be_visible()
    await expect(bob.locator("#dm-messages")).to_contain_text(
        "@alice_grp renamed the group to “Weekend trip”"
    )

    await alice.get_by_label("Add people").fill("@dave_grp")
    await alice.get_by_role("button", name="Add", exact=True).click()
    await expect(bob.locator("#dm-messages")).to_contain_text("@alice_grp added @dave_grp")
    await expect(bob.locator("#dm-group-members")).to_contain_text("@dave_grp")

    await alice.get_by_role("button", name="Remove @carol_grp from the group").click()
    await (
        alice.get_by_role("group", name="Remove @carol_grp?")
        .get_by_role("button", name="Remove")
        .click()
    )
    await expect(bob.locator("#dm-messages")).to_contain_text("@alice_grp removed @carol_grp")
    await expect(alice.locator("#dm-messages")).to_contain_text("You removed @carol_grp")

    # Anyone may leave.
    await bob.get_by_role("button", name="Leave group").click()
    await expect(bob.locator("#dm-gone")).to_have_text("You left this conversation.")
    await expect(alice.locator("#dm-messages")).to_contain_text("@bob_grp left")


async def test_call_lines_edit_history_and_deleting_a_conversation(
    page: Any, live_server: LiveServer
) -> None:
    tokens = _accounts(live_server, "alice_dmcall", "bob_dmcall")
    with live_server.api() as http:
        _follow(http, tokens["bob_dmcall"], "alice_dmcall")
        _follow(http, tokens["alice_dmcall"], "bob_dmcall")
        conversation_id = _conversation(http, tokens["alice_dmcall"], "bob_dmcall")
        path = f"/api/v1/conversations/{conversation_id}/messages"
        alice = _bearer(tokens["alice_dmcall"])
        sent = http.post(path, json={"text": "See you at 6", "client_id": "c1"}, headers=alice)
        assert sent.status_code == 201, sent.text
        edited = http.patch(
            f"{path}/{sent.json()['id']}", json={"text": "See you at 7"}, headers=alice
        )
        assert edited.status_code == 200, edited.text
        # Alice calls Bob and gives up before he answers: a missed call for him.
        placed = http.post(
            "/api/v1/calls",
            json={"callee": "bob_dmcall", "media": "video", "sdp": OFFER},
            headers=alice,
        )
        assert placed.status_code == 201, placed.text
        cancelled = http.post(f"/api/v1/calls/{placed.json()['id']}/cancel", headers=alice)
        assert cancelled.status_code == 200, cancelled.text

    await _sign_in(page, "bob_dmcall")
    await page.goto("/messages")
    row = page.locator(f'#conversations > li[data-conversation-id="{conversation_id}"]')
    await expect(row).to_contain_text("Missed video call")
    await row.get_by_role("link").click()

    call = page.locator("#dm-messages > li.dm-msg--call")
    await expect(call).to_contain_text("Missed video call")
    await expect(
        call.get_by_role("button", name="Call back: video call to @alice_dmcall")
    ).to_be_visible()

    # "edited" opens the earlier versions.
    message = _message(page, "See you at 7")
    await message.get_by_role("button", name=re.compile("^edited")).click()
    versions = message.get_by_role("region", name="Earlier versions")
    await expect(versions).to_contain_text("See you at 6")

    delete = page.get_by_role("button", name="Delete conversation")
    await delete.click()
    await (
        page.get_by_role("group", name="Delete this conversation for you?")
        .get_by_role("button", name="Delete")
        .click()
    )
    await expect(page).to_have_url(re.compile(r"/messages$"))
    await expect(page.locator("#flash")).to_contain_text("Conversation deleted.")
    await expect(row).to_have_count(0)
