"""Identity: accounts with no phone number, sessions, and second factors without SMS.

Other domains use only what this module exports.
"""

from plaza.identity.api import build_router
from plaza.identity.auth import Authenticator
from plaza.identity.events import (
    AccountDeleted,
    AccountDeletionScheduled,
    SessionsRevoked,
    UserRegistered,
)
from plaza.identity.lifecycle import AccountLifecycle, Exporter
from plaza.identity.passwords import PasswordHasher
from plaza.identity.security import SecuritySettings
from plaza.identity.service import ClientInfo, IdentityPolicy, IdentityService, Principal
from plaza.identity.tokens import ServerKeys

__all__ = [
    "AccountDeleted",
    "AccountDeletionScheduled",
    "AccountLifecycle",
    "Authenticator",
    "ClientInfo",
    "Exporter",
    "IdentityPolicy",
    "IdentityService",
    "PasswordHasher",
    "Principal",
    "SecuritySettings",
    "ServerKeys",
    "SessionsRevoked",
    "UserRegistered",
    "build_router",
]
