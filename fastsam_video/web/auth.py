"""Who may use the server: anyone on 127.0.0.1 (the default bind); on any other address, only
requests carrying the token, on every API, stream and page request (401 otherwise).

The token travels as `Authorization: Bearer TOKEN`, as `?token=TOKEN` (for <img> streams and
EventSource, which cannot set headers), or as the `fastsam_token` cookie that a page request
with `?token=` sets, so the page's own requests carry it.
"""

from __future__ import annotations

import json
import os
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

TOKEN_ENV = "FASTSAM_VIDEO_TOKEN"
COOKIE = "fastsam_token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """(token, generated): the given token, else the environment's, else a new one when `host`
    is not loopback; None (no check) on loopback with neither given."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is None and host not in LOOPBACK:
        return secrets.token_urlsafe(24), True
    return token, False


def request_token(scope) -> str | None:
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
    return cookie[COOKIE].value if COOKIE in cookie else None


class TokenMiddleware:
    """ASGI middleware: 401 with a one-line JSON error unless the request carries `token`."""

    def __init__(self, app, token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send):
        if self.token is None or scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = request_token(scope)
        if given is None or not secrets.compare_digest(given.encode(), self.token.encode()):
            body = json.dumps({"error": "a valid token is required: add ?token=TOKEN or the header "
                                        "'Authorization: Bearer TOKEN' (printed by `fastsam-video serve`)"}).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": body})
            return
        if b"token=" in scope.get("query_string", b""):
            await self.app(scope, receive, _with_cookie(send, given))
            return
        await self.app(scope, receive, send)


def _with_cookie(send, token: str):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode()
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)
    return wrapped
