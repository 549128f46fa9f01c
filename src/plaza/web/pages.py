"""Page routes. Pages are templates; their ES modules talk to the JSON API."""

from __future__ import annotations

from fastapi import FastAPI

from plaza.identity import Authenticator


def mount(app: FastAPI, auth: Authenticator) -> None:
    """Add the web pages and static files to ``app``."""
