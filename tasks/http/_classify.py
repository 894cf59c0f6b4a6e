"""The one place a fetch gets its outcome: errors (ours, httpx's, httpcore's, the socket's,
ssl's) and HTTP statuses become a :class:`Verdict` (outcome, status words, soft or hard).

A *soft* failure counts half in a feed's backoff (storage/outcome.py): what may pass by
itself (a timeout, a 404 while a site is rebuilt, a redirect loop) weighs less than what
a person has to fix (a 403 bot wall, a 410, a non-feed).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import NamedTuple

import httpcore
import httpx

from storage.outcome import Outcome
from tasks.http._decoder import SNIFF_BYTES
from tasks.http._exceptions import (
    AddressRefused,
    CorruptBody,
    DNSFailure,
    FetchError,
    RequestRefused,
    UnsupportedEncoding,
)

BOT_PROTECTION = "blocked by bot protection"
# The statuses a bot wall answers with, and so the error pages worth sniffing for one.
BOT_WALL_STATUSES = frozenset({401, 403, 429, 503})


class Verdict(NamedTuple):
    outcome: Outcome
    status: str  # words for a person: "ok", "HTTP 404", "timeout", …
    soft: bool = False


OK = Verdict(Outcome.OK, "ok")
NOT_MODIFIED = Verdict(Outcome.NOT_MODIFIED, "not modified")
DEADLINE_PASSED = Verdict(Outcome.TRANSIENT, "timeout", True)
REDIRECT_LOOP = Verdict(Outcome.PERMANENT, "redirect loop", True)
TOO_MANY_REDIRECTS = Verdict(Outcome.PERMANENT, "too many redirects", True)


def classify_exception(exc: BaseException) -> Verdict:
    """The verdict on an exception raised while fetching (ours or a library's)."""
    if isinstance(exc, FetchError):
        return _classify_own(exc)
    chain = list(_exception_chain(exc))
    if any(isinstance(e, DNSFailure | socket.gaierror) for e in chain):
        return Verdict(Outcome.TRANSIENT, "DNS error", True)
    if any(
        isinstance(e, httpx.TimeoutException | httpcore.TimeoutException | TimeoutError)
        for e in chain
    ):
        return Verdict(Outcome.TRANSIENT, "timeout", True)
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        return Verdict(Outcome.TRANSIENT, "TLS error", True)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Verdict(Outcome.TRANSIENT, "connection refused", True)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Verdict(Outcome.REJECTED, "invalid URL")
    if isinstance(exc, httpx.LocalProtocolError):
        return Verdict(Outcome.PERMANENT, "invalid request")
    if isinstance(exc, httpx.RemoteProtocolError) and not _is_hang_up(exc):
        return Verdict(Outcome.TRANSIENT, "invalid HTTP response", True)
    return Verdict(Outcome.TRANSIENT, "connection error", True)


def _classify_own(exc: FetchError) -> Verdict:
    if isinstance(exc, DNSFailure):
        return Verdict(Outcome.TRANSIENT, "DNS error", True)
    if isinstance(exc, RequestRefused | AddressRefused):
        return Verdict(Outcome.REJECTED, str(exc))
    if isinstance(exc, UnsupportedEncoding):
        return Verdict(Outcome.PERMANENT, str(exc)[:80])
    if isinstance(exc, CorruptBody):
        return Verdict(Outcome.PERMANENT, str(exc), True)
    return Verdict(Outcome.REJECTED, str(exc))  # BodyTooLarge: the bound is ours


def classify_status(
    code: int, headers: dict[str, str], sniffed: bytes, retry_after: float | None = None
) -> Verdict:
    """The verdict on a final response that is not 2xx, 3xx or 304."""
    if looks_like_bot_wall(code, headers, sniffed):
        return Verdict(Outcome.PERMANENT, BOT_PROTECTION)
    if code == 429:
        verdict = Verdict(Outcome.TRANSIENT, "rate limited", True)
    elif code == 404:
        return Verdict(Outcome.PERMANENT, "HTTP 404", True)
    elif code in (408, 425) or code >= 500:
        verdict = Verdict(Outcome.TRANSIENT, f"HTTP {code}", True)
    else:
        return Verdict(Outcome.PERMANENT, f"HTTP {code}")
    if retry_after is not None:
        return verdict._replace(status=f"{verdict.status} (retry after {retry_after:.0f} s)")
    return verdict


def missing_location(code: int) -> Verdict:
    """A redirect status with no Location header to follow."""
    return Verdict(Outcome.PERMANENT, f"HTTP {code} without a Location")


_BOT_WALL_MARKERS = (
    b"just a moment...",
    b"attention required! | cloudflare",
    b"cf-browser-verification",
    b"challenge-platform",
    b"cf_chl_",
    b"checking your browser",
    b"captcha",
    b"_incapsula_resource",
    b"ddos protection by",
    b"datadome",
    b"px-captcha",
    b"are you a robot",
    b"verify you are human",
)


def looks_like_bot_wall(status: int, headers: dict[str, str], body_prefix: bytes = b"") -> bool:
    """A challenge page from Cloudflare, Akamai, Imperva, DataDome, PerimeterX and the like."""
    if status not in BOT_WALL_STATUSES:
        return False
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    server = headers.get("server", "").lower()
    if status == 403 and ("cloudflare" in server or "akamaighost" in server):
        return True
    if "x-datadome" in headers or "x-px-block" in headers:
        return True
    lowered = body_prefix[:SNIFF_BYTES].lower()
    return any(marker in lowered for marker in _BOT_WALL_MARKERS)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_hang_up(exc: httpx.RemoteProtocolError) -> bool:
    """h11 reports a server that closed early and one that spoke garbage with the same type."""
    text = str(exc).lower()
    return any(word in text for word in ("disconnect", "closed", "incomplete", "without"))
