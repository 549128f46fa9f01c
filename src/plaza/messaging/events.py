"""Facts messaging announces after commit, for other domains to react to."""

from __future__ import annotations

from plaza.core.events import Event


class MessageSent(Event):
    """A message was stored in a conversation (system and payment lines too).
    ``recipient_ids`` are the members it was delivered to, the sender included."""

    topic = "messaging.message_sent"
    conversation_id: int
    message_id: int
    sender_id: int
    kind: str
    recipient_ids: list[int]


class ConversationCreated(Event):
    topic = "messaging.conversation_created"
    conversation_id: int
    kind: str
    creator_id: int
    member_ids: list[int]
