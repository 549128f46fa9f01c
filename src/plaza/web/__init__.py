"""The web client: server-rendered pages and small ES modules, served by the app."""

from plaza.web.pages import mount

__all__ = ["mount"]
