"""Who is calling: session tokens from a Bearer header or the web cookie, plus CSRF.

Cookie-authenticated requests with unsafe methods must carry the session's CSRF
token in ``X-CSRF-Token``; Bearer requests need not, since browsers never attach
that header on their own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request, WebSocket
from starlette.requests import HTTPConnection

from plaza.core.errors import Forbidden, Unauthorized
from plaza.identity.passkeys import RelyingParty
from plaza.identity.service import ClientInfo, IdentityService, Principal
from plaza.identity.tokens import ServerKeys, token_hash

SESSION_COOKIE = "plaza_session"
DEVICE_COOKIE = "plaza_device"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticator:
    def __init__(
        self, identity: IdentityService, keys: ServerKeys, *, public_url: str | None, rp_name: str
    ) -> None:
        self.identity = identity
        self.keys = keys
        self.public_url = public_url
        self.rp_name = rp_name

    async def _resolve(self, conn: HTTPConnection, method: str) -> Principal | None:
        header = conn.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Authorization must be 'Bearer <token>'.")
            principal = await self.identity.authenticate(token.strip())
            if principal is None:
                raise Unauthorized("The session token is unknown, revoked or expired.")
            return principal
        cookie = conn.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        principal = await self.identity.authenticate(cookie, via_cookie=True)
        if principal is None:
            return None
        if method not in SAFE_METHODS and not self.keys.csrf_valid(
            token_hash(cookie), conn.headers.get(CSRF_HEADER)
        ):
            raise Forbidden("CSRF check failed: send the X-CSRF-Token header of this session.")
        return principal

    async def optional(self, request: Request) -> Principal | None:
        """The signed-in principal, or None for anonymous requests."""
        cached: Principal | None = getattr(request.state, "principal", None)
        if cached is None:
            cached = await self._resolve(request, request.method)
            request.state.principal = cached
        return cached

    async def required(self, request: Request) -> Principal:
        """The signed-in principal; raises Unauthorized (401) otherwise."""
        principal = await self.optional(request)
        if principal is None:
            raise Unauthorized("Sign in first.")
        return principal

    async def websocket(self, websocket: WebSocket) -> Principal | None:
        """For the stream: a Bearer header, or the cookie from a page of this origin.

        Browsers send cookies on cross-site WebSocket handshakes and CSRF tokens do not
        apply there, so a cookie is honoured only with this site's Origin.
        """
        cookie_only = "authorization" not in websocket.headers and bool(
            websocket.cookies.get(SESSION_COOKIE)
        )
        if cookie_only and websocket.headers.get("origin") != self.relying_party(websocket).origin:
            raise Forbidden("Cross-site WebSocket refused: the Origin is not this site.")
        return await self._resolve(websocket, "GET")

    def csrf_token(self, principal: Principal) -> str:
        return self.keys.csrf_token(principal.session.token_hash)

    def client(self, request: Request) -> ClientInfo:
        return ClientInfo(
            ip=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", "")[:300],
            device=request.cookies.get(DEVICE_COOKIE),
        )

    def relying_party(self, request: HTTPConnection) -> RelyingParty:
        """The WebAuthn relying party: the configured public URL, else this request's host."""
        base = self.public_url or str(request.base_url)
        parts = urlsplit(base)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        origin = f"{scheme}://{parts.netloc}"
        return RelyingParty(id=parts.hostname or "localhost", name=self.rp_name, origin=origin)
