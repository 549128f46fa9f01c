"""Calls: signalling for audio and video calls, consent, TURN credentials, the call log.

Other domains use only what this module exports; ``app.py`` wires in what calls needs
from them (``interfaces``).
"""

from plaza.calls.api import build_router
from plaza.calls.events import CallEnded
from plaza.calls.interfaces import (
    Conversations,
    DirectMessages,
    EntitlementChecker,
    Graph,
    Notifier,
    People,
    Stream,
)
from plaza.calls.models import CallCandidate, CallPreference, CallRecord
from plaza.calls.policy import CallPolicyChoice, CallRefused, CallsPolicy, turn_credentials
from plaza.calls.preferences import CallPreferences, CallSettings
from plaza.calls.service import Calls

__all__ = [
    "CallEnded",
    "CallPolicyChoice",
    "CallPreferences",
    "CallRefused",
    "CallSettings",
    "Calls",
    "CallsPolicy",
    "Conversations",
    "DirectMessages",
    "EntitlementChecker",
    "Graph",
    "Notifier",
    "People",
    "Stream",
    "build_router",
    "turn_credentials",
]

# The tables are imported for their registration with the metadata (Alembic), not exported.
_ = (CallCandidate, CallPreference, CallRecord)
