"""A URL we will request: parsed, vetted, and split into the host and port the guard checks."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tasks.http._exceptions import RequestRefused


@dataclass
class Target:
    url: httpx.URL  # without its fragment
    host: str  # lower-cased, without IPv6 brackets
    port: int


def target(text: str) -> Target:
    """Parse and vet a URL to request; raises :class:`RequestRefused` with the reason."""
    text = text.strip()
    if not text:
        raise RequestRefused("invalid URL")
    scheme, colon, _ = text.partition(":")
    scheme = scheme.lower()
    if not colon or not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
        raise RequestRefused("invalid URL")
    if scheme not in ("http", "https"):
        raise RequestRefused(f"unsupported scheme {scheme[:20]}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise RequestRefused("invalid URL")
    try:
        url = httpx.URL(text)
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise RequestRefused("invalid URL") from None
    if not host or not 0 < port < 65536:
        raise RequestRefused("invalid URL")
    return Target(url=url.copy_with(fragment=None), host=host.strip("[]").lower(), port=port)


def redirect_target(current: Target, location: str) -> str:
    """The absolute URL a Location header points to (fragment dropped)."""
    try:
        return str(current.url.join(location).copy_with(fragment=None))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise RequestRefused("invalid redirect URL") from None
