"""Direct messages pages: /messages (the inbox, with its Requests tab and the "New
message" form), /messages/settings (who may message you, read receipts) and
/messages/{id} (one conversation).

The pages are shells; their ES modules (static/js/messages*.js) call the messaging
JSON API and follow the page's one live stream, so a conversation the viewer may not
see is answered by the API (404), not here.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plaza.web.site import NavItem, Site

BOXES = (("inbox", "Inbox"), ("requests", "Requests"))
# The server's limit on a message's text; the composer counts down from it.
MAX_MESSAGE_LENGTH = 10_000
# Edits are accepted this long after sending; the page offers Edit only meanwhile.
EDIT_WINDOW_SECONDS = 15 * 60
# The dm_policy choices (plaza.messaging's DmPolicy), each with what it does to the
# inbox and the Message requests box.
DM_POLICIES = (
    (
        "everyone",
        "Everyone",
        "Anyone can message you, and their first message lands in your inbox.",
    ),
    (
        "following",
        "People you follow",
        "People you follow land in your inbox; first messages from anyone else wait "
        "in Message requests until you accept them.",
    ),
    (
        "verified",
        "People you follow and verified accounts",
        "People you follow and verified accounts land in your inbox; first messages "
        "from anyone else wait in Message requests.",
    ),
    (
        "none",
        "No one new",
        "Only people you follow can start a conversation with you; anyone else is "
        "told you are not accepting messages. Conversations you already have go on.",
    ),
)


def mount_messaging(app: FastAPI, site: Site) -> None:
    """Add /messages, /messages/settings, /messages/{id} and the "Messages" link."""
    site.add_nav(NavItem("Messages", "/messages", order=15))

    @app.get("/messages", include_in_schema=False, response_model=None)
    async def inbox(request: Request, tab: str = "inbox") -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        return site.render(
            request,
            "messages/inbox.html",
            principal,
            title="Message requests" if tab == "requests" else "Messages",
            box=tab if tab in dict(BOXES) else "inbox",
            boxes=BOXES,
        )

    # Before /messages/{conversation_id}, which would answer "settings" with a 404.
    @app.get("/messages/settings", include_in_schema=False, response_model=None)
    async def settings(request: Request) -> Response:
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        # The page reads and saves the choices through GET/PATCH /api/v1/me/settings.
        return site.render(
            request,
            "messages/settings.html",
            principal,
            title="Message settings",
            policies=DM_POLICIES,
        )

    @app.get("/messages/{conversation_id}", include_in_schema=False, response_model=None)
    async def conversation(request: Request, conversation_id: str) -> Response:
        if not conversation_id.isdigit() or len(conversation_id) > 20:
            raise StarletteHTTPException(404)
        principal = await site.principal(request)
        if principal is None:
            return site.login_redirect(request)
        return site.render(
            request,
            "messages/conversation.html",
            principal,
            title="Conversation",
            conversation_id=conversation_id,
            me_id=str(principal.user.id),
            max_length=MAX_MESSAGE_LENGTH,
            edit_window=EDIT_WINDOW_SECONDS,
        )
