"""The social domain's tables. Import them from here inside ``plaza.social``."""

import plaza.social.models.posts  # noqa: F401  (the posts tables register with Base)
from plaza.social.models.graph import (
    Block,
    Follow,
    FollowRequest,
    Mute,
    Notification,
    SocialProfile,
)

__all__ = [
    "Block",
    "Follow",
    "FollowRequest",
    "Mute",
    "Notification",
    "SocialProfile",
]
