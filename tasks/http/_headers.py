"""Headers in and out: validators safe to send back, and the response headers we read."""

from __future__ import annotations

import httpx


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """``"text/HTML; charset=\"UTF-8\""`` -> ``("text/html", "utf-8")``."""
    if not value:
        return None, None
    first, *params = value.split(";")
    media = first.strip().lower() or None
    charset = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").strip().lower() or None
    return media, charset


def header_value(value: str | None) -> str | None:
    """A stored validator safe to send back (no line breaks, latin-1 only), else None."""
    if value is None:
        return None
    value = value.strip()
    if not value or any(c in value for c in "\r\n\0"):
        return None
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return value


def merged_headers(response: httpx.Response) -> dict[str, str]:
    """The response's headers by lower-cased name, repeated ones joined with ", "."""
    merged: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def peer_address(response: httpx.Response) -> str | None:
    """The IP address the response came from (the checked one the transport connected to)."""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:  # the peer already hung up
        return None
    return str(peer[0]) if peer else None
