"""Where links point: built from ``web.base_url``, never from what a request claims.

A request's Host header is whatever the client sent: links built from it let anyone
make the app hand out links to their own site (in an Atom feed a reader caches, say).
So absolute links come from ``web.base_url``. Without it, links are relative (feed
readers and HTTP clients resolve them against the URL they fetched), unless
``web.trust_proxy_headers`` says a proxy in front sets ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` (and overwrites any a client sent).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.requests import Request

from config.settings import WebConfig

# host, host:port, [v6]:port; nothing that could end the authority or start a path.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.?)+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")


class Links:
    def __init__(self, web: WebConfig) -> None:
        self.base_url = web.base_url
        self.trust_proxy_headers = web.trust_proxy_headers
        # Pages link within the app under the base URL's path (a proxy serving it at /newswatch).
        self.root = urlsplit(web.base_url).path.rstrip("/") if web.base_url else ""

    def origin(self, request: Request) -> str | None:
        """``scheme://host[/path]`` for absolute links, or None for relative ones."""
        if self.base_url:
            return self.base_url
        if not self.trust_proxy_headers:
            return None
        proto = _nearest(request.headers.get("x-forwarded-proto")) or request.url.scheme
        host = _nearest(request.headers.get("x-forwarded-host")) or request.headers.get("host", "")
        if proto.lower() not in ("http", "https") or not _HOST.fullmatch(host):
            return None
        return f"{proto.lower()}://{host}"

    def url(self, request: Request, path: str) -> str:
        """The link to ``path`` (``/stories/3``): absolute when an origin is known."""
        return (self.origin(request) or self.root) + path


def _nearest(value: str | None) -> str:
    """The last of a comma-separated header's values: the one our own proxy added (a
    proxy that appends keeps whatever a client sent in front of it)."""
    return (value or "").split(",")[-1].strip()
