"""Request and response bodies of the messaging API (the pinned shapes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from plaza.core.schemas import IdStr, Input, Timestamp

USERNAME = Field(min_length=1, max_length=32)


class ConversationCreate(Input):
    participants: list[str] = Field(
        min_length=1,
        max_length=100,
        description="Usernames of the other people: one for a direct conversation, "
        "two or more for a group.",
    )
    name: str | None = Field(default=None, max_length=100, description="A group's name.")


class ConversationPatch(Input):
    name: str | None = Field(max_length=100, description="The group's new name (null clears it).")


class MembersAdd(Input):
    usernames: list[str] = Field(min_length=1, max_length=100)


class MessageRef(Input):
    message_id: IdStr


class MessageCreate(Input):
    text: str = Field(
        default="",
        max_length=10_000,
        description="At most 10,000 characters (Unicode code points); may be empty only "
        "when media is attached.",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The sender's id for this message: sending it again stores nothing "
        "new and answers the first message. The Idempotency-Key header stands in when "
        "this is absent.",
    )
    reply_to: IdStr | None = None
    media_ids: list[IdStr] = Field(default_factory=list, max_length=4)


class MessageEdit(Input):
    text: str = Field(max_length=10_000)


class PersonOut(BaseModel):
    id: IdStr
    username: str
    display_name: str
    verified: bool


class MemberOut(PersonOut):
    role: Literal["admin", "member"]
    state: Literal["active", "request", "left", "removed"]


class MediaOut(BaseModel):
    id: IdStr
    kind: Literal["image", "video"]
    url: str
    thumbnail_url: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    alt_text: str
    content_type: str


class ReactionOut(BaseModel):
    emoji: str
    count: int
    me: bool


class ReplyOut(BaseModel):
    id: IdStr
    sender_id: IdStr | None
    text: str = Field(description="Empty when that message was deleted or is not visible.")


class MoneyOut(BaseModel):
    amount: int
    currency: str


class PaymentOut(BaseModel):
    id: IdStr
    amount: MoneyOut


class SystemOut(BaseModel):
    event: Literal["created", "renamed", "added", "removed", "left"]
    actor_id: IdStr
    user_ids: list[IdStr]
    name: str | None = None


class CallEntryOut(BaseModel):
    id: IdStr = Field(description="The call (`GET /api/v1/calls/{id}`).")
    media: Literal["audio", "video"]
    state: Literal["ended", "missed", "rejected", "cancelled", "busy", "failed"] = Field(
        description="How the call ended (the call's final `state`)."
    )
    missed: bool = Field(description="The callee never answered: a missed call for them.")
    duration_seconds: int = Field(description="From the answer to the end (0 if unanswered).")
    started_at: Timestamp | None = Field(description="When the call was placed.")


class MessageOut(BaseModel):
    id: IdStr
    conversation_id: IdStr
    sender: PersonOut
    client_id: str | None
    kind: Literal["text", "system", "payment", "call"]
    text: str
    reply_to: ReplyOut | None
    media: list[MediaOut]
    reactions: list[ReactionOut]
    created_at: Timestamp
    edited_at: Timestamp | None
    deleted: bool
    payment: PaymentOut | None
    system: SystemOut | None
    call: CallEntryOut | None = Field(
        description="Kind `call`: the call this line stands for (sent by the caller)."
    )


class ConversationOut(BaseModel):
    id: IdStr
    kind: Literal["direct", "group"]
    name: str | None
    created_at: Timestamp
    members: list[MemberOut]
    box: Literal["inbox", "requests"]
    state: Literal["active", "request", "left", "removed"]
    unread_count: int
    last_message: MessageOut | None
    last_message_at: Timestamp | None
    read_receipts: dict[str, str] = Field(
        description="user id → the last message id they read, for members who share "
        "read receipts (and have accepted the conversation)."
    )
    delivered: dict[str, str] = Field(
        description="user id → the last message id delivered to one of their devices."
    )


class UnreadOut(BaseModel):
    inbox: int = Field(description="Inbox conversations with unread messages.")
    requests: int = Field(description="Message requests waiting.")
    messages: int = Field(description="Unread messages across the inbox.")


class EditOut(BaseModel):
    text: str
    edited_at: Timestamp = Field(description="When this version was replaced by an edit.")
    written_at: Timestamp = Field(description="When this version was written.")


class EditsOut(BaseModel):
    data: list[EditOut]
