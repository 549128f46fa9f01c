"""The web client: server-rendered pages and small ES modules, served by the app."""

from plaza.web.pages import mount
from plaza.web.site import NavItem, Site

__all__ = ["NavItem", "Site", "mount"]
