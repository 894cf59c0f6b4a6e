"""The web app's guard: read-only methods (form posts once people are configured),
optional basic auth, security headers.

A plain ASGI middleware, so it wraps every response (pages, API, static files, errors).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

READ_METHODS = frozenset({"GET", "HEAD"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def credentials_match(header: str | None, username: str, password: str) -> bool:
    """True when an ``Authorization: Basic …`` header carries exactly these credentials.

    Both parts are compared in constant time, and both always, so the response time
    says nothing about which part (or how much of it) was right.
    """
    if not header or header[:6].lower() != "basic ":
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, sep, given_password = decoded.partition(":")
    if not sep:
        return False
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    return user_ok and password_ok


WRITE_METHODS = frozenset({"POST"})
MAX_WRITE_BYTES = 64 * 1024  # a verdict form or a sign-in is a few hundred bytes


class GuardMiddleware:
    """``writable``: people are configured (web.users), so the app takes form posts, which
    its routes check for a signed-in session and a CSRF token; otherwise read-only."""

    def __init__(
        self, app: ASGIApp, *, username: str | None = None, password: str | None = None, writable: bool = False
    ) -> None:
        self.app = app
        self.username = username
        self.password = password
        self.writable = writable

    @property
    def auth_required(self) -> bool:
        return bool(self.username) and bool(self.password)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(SECURITY_HEADERS)]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        method = scope["method"]
        if method not in READ_METHODS and not (self.writable and method in WRITE_METHODS):
            allowed = b"GET, HEAD, POST" if self.writable else b"GET, HEAD"
            await _plain(send_with_headers, 405, "405 Method Not Allowed: this app is read-only.\n"
                         if not self.writable else "405 Method Not Allowed.\n", [(b"allow", allowed)])
            return
        if method in WRITE_METHODS and _too_large(scope):
            await _plain(send_with_headers, 413, "413 Content Too Large.\n", [])
            return
        if self.auth_required:
            header = _header(scope, b"authorization")
            assert self.username is not None and self.password is not None
            if not credentials_match(header, self.username, self.password):
                await _plain(send_with_headers, 401, "401 Unauthorized: sign in to see newswatch.\n",
                             [(b"www-authenticate", b'Basic realm="newswatch", charset="UTF-8"')])
                return
        await self.app(scope, receive, send_with_headers)


def _too_large(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is None:
        return True  # a form post from a browser always says its length
    return not length.isdigit() or int(length) > MAX_WRITE_BYTES


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ],
    })
    await send({"type": "http.response.body", "body": body})
