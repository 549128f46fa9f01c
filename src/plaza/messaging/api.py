"""The messaging HTTP API (``/api/v1/conversations``): parse, call the service, answer.

Only participants see a conversation; everyone else gets the 404 of an id that never
existed, on every endpoint. Former members may read up to when they left and get 404
from every endpoint that changes something.

No ``from __future__ import annotations`` here: FastAPI must see the real types of the
``Annotated`` aliases defined inside ``build_router``.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from pydantic import BaseModel

from plaza.core.errors import InvalidInput
from plaza.core.idempotency import HEADER
from plaza.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from plaza.core.schemas import IdPath, Page
from plaza.identity import Authenticator, Principal
from plaza.messaging import schemas as s
from plaza.messaging.conversations import decode_cursor_pair, encode_cursor
from plaza.messaging.service import Messaging

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such conversation (or message) that you may see"}
}
WRITE: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    403: {"description": "A rule refused it; the detail names the rule"},
}
EmojiPath = Annotated[str, Path(min_length=1, max_length=16)]
UsernamePath = Annotated[str, Path(min_length=1, max_length=32)]
# Catch-up mode of the history; cursors issued by it continue forwards.
AFTER = 2


def _json(model: type[BaseModel], data: Any, code: int = status.HTTP_200_OK) -> Response:
    # Validated against the documented model, so the answer always matches the schema.
    body = model.model_validate(data).model_dump_json()
    return Response(body, status_code=code, media_type="application/json")


def build_router(messaging: Messaging, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["messaging"])
    Me = Annotated[Principal, Depends(auth.required)]
    conversations = messaging.conversations
    messages = messaging.messages
    receipts = messaging.receipts

    def no_content() -> Response:
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # ---- conversations ------------------------------------------------------------------

    @router.post(
        "/conversations",
        response_model=s.ConversationOut,
        status_code=status.HTTP_201_CREATED,
        responses={
            200: {"model": s.ConversationOut, "description": "The existing direct conversation"},
            403: {"description": "Someone's dm_policy accepts no new conversation from you"},
            404: {"description": "An unknown user, or one of you blocked the other"},
            429: {"description": "Too many new conversations today"},
        },
    )
    async def start(body: s.ConversationCreate, me: Me) -> Response:
        """One other participant: the direct conversation of the two (201 when new, 200
        when it exists). Two or more: a new group, its creator the admin. Where it lands
        for each person follows their ``dm_policy`` (inbox or Message requests)."""
        started = await conversations.start(me.user.id, body.participants, body.name)
        code = status.HTTP_201_CREATED if started.created else status.HTTP_200_OK
        return _json(s.ConversationOut, started.conversation, code)

    @router.get("/conversations", response_model=Page[s.ConversationOut])
    async def list_conversations(
        me: Me,
        box: Literal["inbox", "requests"] = "inbox",
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> Response:
        """The inbox (accepted conversations) or Message requests, newest activity
        first; requests from senders with Priority DMs come first."""
        views, next_cursor = await conversations.listing(
            me.user.id, box, limit=limit, cursor=cursor
        )
        return _json(Page[s.ConversationOut], {"data": views, "next_cursor": next_cursor})

    @router.get("/conversations/unread", response_model=s.UnreadOut)
    async def unread(me: Me) -> Response:
        """Unread counts for badges: inbox conversations with unread messages, waiting
        requests, and unread messages across the inbox."""
        return _json(s.UnreadOut, await conversations.unread(me.user.id))

    @router.get(
        "/conversations/{conversation_id}", response_model=s.ConversationOut, responses=NOT_FOUND
    )
    async def get_conversation(conversation_id: IdPath, me: Me) -> Response:
        return _json(s.ConversationOut, await conversations.get(me.user.id, conversation_id))

    @router.patch(
        "/conversations/{conversation_id}", response_model=s.ConversationOut, responses=WRITE
    )
    async def rename(conversation_id: IdPath, body: s.ConversationPatch, me: Me) -> Response:
        """The group's admin renames it (null clears the name)."""
        view = await conversations.rename(me.user.id, conversation_id, body.name)
        return _json(s.ConversationOut, view)

    @router.post(
        "/conversations/{conversation_id}/members",
        response_model=s.ConversationOut,
        responses={**WRITE, 422: {"description": "Bad usernames, or the group would be too big"}},
    )
    async def add_members(conversation_id: IdPath, body: s.MembersAdd, me: Me) -> Response:
        """The group's admin adds people (at most 50 members in all)."""
        view = await conversations.add_members(me.user.id, conversation_id, body.usernames)
        return _json(s.ConversationOut, view)

    @router.delete(
        "/conversations/{conversation_id}/members/{username}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=WRITE,
    )
    async def remove_member(conversation_id: IdPath, username: UsernamePath, me: Me) -> Response:
        """The admin removes a member; anyone removes themselves to leave."""
        await conversations.remove_member(me.user.id, conversation_id, username)
        return no_content()

    @router.post(
        "/conversations/{conversation_id}/accept",
        response_model=s.ConversationOut,
        responses=NOT_FOUND,
    )
    async def accept(conversation_id: IdPath, me: Me) -> Response:
        """Accept a message request: it moves to the inbox."""
        return _json(s.ConversationOut, await conversations.accept(me.user.id, conversation_id))

    @router.delete(
        "/conversations/{conversation_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=NOT_FOUND,
    )
    async def delete_for_me(conversation_id: IdPath, me: Me) -> Response:
        """Delete the conversation for yourself (a request: decline it). A later message
        shows it again, with only the new messages."""
        await conversations.delete_for_me(me.user.id, conversation_id)
        return no_content()

    # ---- receipts and typing ------------------------------------------------------------

    @router.post(
        "/conversations/{conversation_id}/read",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=NOT_FOUND,
    )
    async def read(conversation_id: IdPath, body: s.MessageRef, me: Me) -> Response:
        """Read up to that message: unread clears on every device of yours."""
        await receipts.mark(me.user.id, conversation_id, body.message_id, "read")
        return no_content()

    @router.post(
        "/conversations/{conversation_id}/delivered",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=NOT_FOUND,
    )
    async def delivered(conversation_id: IdPath, body: s.MessageRef, me: Me) -> Response:
        """This device received the messages up to that one."""
        await receipts.mark(me.user.id, conversation_id, body.message_id, "delivered")
        return no_content()

    @router.post(
        "/conversations/{conversation_id}/typing",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=NOT_FOUND,
    )
    async def typing(conversation_id: IdPath, me: Me) -> Response:
        """Show the others that you are typing (live devices only, never stored)."""
        await receipts.typing(me.user.id, conversation_id)
        return no_content()

    # ---- messages -----------------------------------------------------------------------

    @router.post(
        "/conversations/{conversation_id}/messages",
        response_model=s.MessageOut,
        status_code=status.HTTP_201_CREATED,
        responses={**WRITE, 429: {"description": "Too many messages"}},
    )
    async def send(
        conversation_id: IdPath,
        body: s.MessageCreate,
        me: Me,
        idempotency_key: Annotated[
            str | None,
            Header(alias=HEADER, description="Used as client_id when the body has none."),
        ] = None,
    ) -> Response:
        """Send a message. The same client_id again stores nothing new and answers the
        first message (a different body with it is a 422)."""
        client_id = body.client_id
        if client_id is None and idempotency_key is not None:
            if not 0 < len(idempotency_key) <= 100:
                raise InvalidInput(HEADER, "must be 1 to 100 characters")
            client_id = idempotency_key
        sent = await messages.send(
            me.user.id,
            conversation_id,
            text=body.text,
            client_id=client_id,
            reply_to=body.reply_to,
            media_ids=body.media_ids,
        )
        response = _json(s.MessageOut, sent.message, status.HTTP_201_CREATED)
        if not sent.created:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    @router.get(
        "/conversations/{conversation_id}/messages",
        response_model=Page[s.MessageOut],
        responses=NOT_FOUND,
    )
    async def history(
        conversation_id: IdPath,
        me: Me,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
        after: Annotated[
            int | None,
            Query(ge=0, le=2**63 - 1, description="Catch-up: oldest first after this id."),
        ] = None,
    ) -> Response:
        """Newest first (``cursor`` pages back), or with ``after`` oldest first after
        that message (its ``next_cursor`` keeps going forwards)."""
        before = None
        pair = decode_cursor_pair(cursor)
        if pair is not None:
            rank, minus = pair
            if rank == AFTER and after is None:
                after = -minus
            elif rank != AFTER:
                before = -minus
        data, next_id = await messages.history(
            me.user.id, conversation_id, limit=limit, before=before, after=after
        )
        next_cursor = None
        if next_id is not None:
            next_cursor = encode_cursor(AFTER if after is not None else 0, next_id)
        return _json(Page[s.MessageOut], {"data": data, "next_cursor": next_cursor})

    @router.get(
        "/conversations/{conversation_id}/messages/{message_id}",
        response_model=s.MessageOut,
        responses=NOT_FOUND,
    )
    async def get_message(conversation_id: IdPath, message_id: IdPath, me: Me) -> Response:
        return _json(s.MessageOut, await messages.get(me.user.id, conversation_id, message_id))

    @router.patch(
        "/conversations/{conversation_id}/messages/{message_id}",
        response_model=s.MessageOut,
        responses=WRITE,
    )
    async def edit(
        conversation_id: IdPath, message_id: IdPath, body: s.MessageEdit, me: Me
    ) -> Response:
        """The sender edits the text, within 15 minutes of sending."""
        view = await messages.edit(me.user.id, conversation_id, message_id, body.text)
        return _json(s.MessageOut, view)

    @router.get(
        "/conversations/{conversation_id}/messages/{message_id}/edits",
        response_model=s.EditsOut,
        responses=NOT_FOUND,
    )
    async def edits(conversation_id: IdPath, message_id: IdPath, me: Me) -> Response:
        """Earlier versions of the message, oldest first."""
        data = await messages.edits(me.user.id, conversation_id, message_id)
        return _json(s.EditsOut, {"data": data})

    @router.delete(
        "/conversations/{conversation_id}/messages/{message_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=WRITE,
    )
    async def delete_message(
        conversation_id: IdPath,
        message_id: IdPath,
        me: Me,
        scope: Literal["me", "everyone"] = "me",
    ) -> Response:
        """``me`` hides it from your devices; ``everyone`` (the sender only) removes its
        text and media for all."""
        await messages.delete(me.user.id, conversation_id, message_id, scope)
        return no_content()

    @router.put(
        "/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
        response_model=s.MessageOut,
        responses=WRITE,
    )
    async def react(
        conversation_id: IdPath, message_id: IdPath, emoji: EmojiPath, me: Me
    ) -> Response:
        view = await messages.react(me.user.id, conversation_id, message_id, emoji, add=True)
        return _json(s.MessageOut, view)

    @router.delete(
        "/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",
        response_model=s.MessageOut,
        responses=WRITE,
    )
    async def unreact(
        conversation_id: IdPath, message_id: IdPath, emoji: EmojiPath, me: Me
    ) -> Response:
        view = await messages.react(me.user.id, conversation_id, message_id, emoji, add=False)
        return _json(s.MessageOut, view)

    return router
