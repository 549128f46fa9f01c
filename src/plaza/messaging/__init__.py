"""Messaging: direct and group conversations, Message requests and the DM policy,
messages with replies, reactions, edits, deletes and attachments, read and delivered
receipts, typing indicators and unread counts. New messages reach every device through
the realtime stream inside the transaction that stores them.

Other domains use only what this module exports.
"""

from plaza.messaging.api import build_router
from plaza.messaging.context import MessagingPolicy
from plaza.messaging.events import ConversationCreated, MessageSent
from plaza.messaging.interfaces import (
    Entitlements,
    Graph,
    Media,
    Notifier,
    People,
    Person,
    Stream,
)
from plaza.messaging.models import (
    Conversation,
    Hidden,
    Member,
    Message,
    MessageEdit,
    Preference,
    Reaction,
)
from plaza.messaging.people import SocialPeople
from plaza.messaging.policy import DmPolicy, MessagingPreferences, MessagingSettings
from plaza.messaging.service import Messaging

__all__ = [
    "ConversationCreated",
    "DmPolicy",
    "Entitlements",
    "Graph",
    "Media",
    "MessageSent",
    "Messaging",
    "MessagingPolicy",
    "MessagingPreferences",
    "MessagingSettings",
    "Notifier",
    "People",
    "Person",
    "SocialPeople",
    "Stream",
    "build_router",
]

# The tables are imported for their registration with the metadata (Alembic), not exported.
_ = (Conversation, Hidden, Member, Message, MessageEdit, Preference, Reaction)
