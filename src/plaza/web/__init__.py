"""The web client: server-rendered pages and small ES modules, served by the app."""

from plaza.web.pages import mount
from plaza.web.pages_calls import mount_calls
from plaza.web.pages_messages import mount_messaging
from plaza.web.pages_payments import mount_payments
from plaza.web.pages_premium import mount_premium
from plaza.web.pages_safety import mount_safety
from plaza.web.pages_social_graph import mount_social_graph
from plaza.web.pages_social_posts import mount_social_posts
from plaza.web.site import NavItem, Site

__all__ = [
    "NavItem",
    "Site",
    "mount",
    "mount_calls",
    "mount_messaging",
    "mount_payments",
    "mount_premium",
    "mount_safety",
    "mount_social_graph",
    "mount_social_posts",
]
