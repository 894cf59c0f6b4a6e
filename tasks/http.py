"""The fetcher for feeds and article pages: every request bounded, every outcome classified.

One :class:`Fetcher` per pass (thread-safe, one ``httpx.Client``). ``Fetcher.fetch(url)`` never
raises for network or HTTP problems; it returns a :class:`FetchResult` whose ``outcome`` is an
``Outcome`` (storage/outcome.py: ok, not_modified, transient, permanent, rejected) and whose ``status`` is
words for a person ("HTTP 404", "timeout", "refused: private address 10.0.0.1", …).

What bounds a fetch:

* an overall deadline (``timeout_seconds``) enforced on every socket operation, so a server
  dripping one byte a second cannot hold us past it; plus connect and per-read timeouts;
* ``max_bytes`` on the raw *and* the decoded body (we decompress ourselves in bounded steps,
  so a gzip bomb stops at the cap without inflating in memory);
* redirects followed by hand, each hop checked (scheme, cap, loops, address);
* an SSRF guard: a host is resolved once, every address checked, and the connection made to a
  checked address (the httpcore network backend below), so DNS rebinding cannot slip a private
  address in between the check and the connect;
* per-host politeness: at most ``per_host_concurrency`` requests in flight and at least
  ``per_host_delay_seconds`` between request starts to the same host.

This module is pure (no prefect import).
"""

from __future__ import annotations

import contextlib
import functools
import io
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from config.netrules import NetworkRule, parse_network_rule
from storage.outcome import Outcome
from tasks.retry_after import parse_retry_after  # noqa: F401 (re-exported: tasks.http.parse_retry_after)

if TYPE_CHECKING:
    from config.settings import FetchConfig

BOT_PROTECTION = "blocked by bot protection"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# brotli is not advertised: its decoder cannot bound output per step, and none is installed.
ACCEPT_ENCODING = "gzip, deflate"
_CHUNK = 64 * 1024
# How much of a 401/403/429/503 page we read to recognise a bot wall.
_SNIFF_BYTES = 64 * 1024
# How long a checked DNS answer stays pinned for the connection that follows the check.
_PIN_SECONDS = 60.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# --- policy and result -------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one pass. Build from the config with :meth:`from_settings`."""

    # Read timeout per chunk AND the overall deadline for a whole fetch (all redirect hops).
    timeout_seconds: float = 20.0
    connect_timeout_seconds: float = 10.0
    # Cap on raw and decoded body bytes.
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    # Minimum gap between request starts to the same host.
    per_host_delay_seconds: float = 1.0
    # True, False, or entries like "127.0.0.1:8080", "localhost", "10.0.0.0/8".
    allow_private_networks: bool | list[str] = False
    user_agent: str = "newswatch/0.1"

    @classmethod
    def from_settings(cls, fetch: FetchConfig) -> FetchPolicy:
        allow = fetch.allow_private_networks
        return cls(
            timeout_seconds=fetch.timeout_seconds,
            connect_timeout_seconds=fetch.connect_timeout_seconds,
            max_bytes=fetch.max_bytes,
            max_redirects=fetch.max_redirects,
            per_host_concurrency=fetch.per_host_concurrency,
            per_host_delay_seconds=fetch.per_host_delay_seconds,
            allow_private_networks=list(allow) if isinstance(allow, list) else bool(allow),
            user_agent=fetch.user_agent,
        )


@dataclass
class FetchResult:
    """What happened to one fetch, in words for a person and fields for the code."""

    url: str  # as requested
    final_url: str  # the last URL requested (or refused) after redirects
    outcome: Outcome
    status: str  # "ok", "HTTP 404", "timeout", "refused: private address 10.0.0.1", …
    http_status: int | None = None
    body: bytes | None = None  # only for ok
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    content_type: str | None = None  # media type only, lower-cased
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after_seconds: float | None = None
    elapsed_ms: int = 0  # wall time of the whole fetch, politeness waits included
    redirects: list[str] = field(default_factory=list)  # the URLs redirected to, in order
    soft_failure: bool = False  # a failure that counts half in feed backoff (storage/outcome.py)
    remote_address: str | None = None  # the checked IP address the last response came from

    @property
    def is_failure(self) -> bool:
        return self.outcome.is_failure

    @property
    def failure_weight(self) -> float:
        """0 for ok / not modified, 0.5 for a soft failure, 1.0 for a hard one."""
        return self.outcome.failure_weight(self.soft_failure)


# --- pure helpers --------------------------------------------------------------------------


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """``"text/HTML; charset=\"UTF-8\""`` -> ``("text/html", "utf-8")``."""
    if not value:
        return None, None
    media, *params = value.split(";")
    media = media.strip().lower() or None
    charset = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip("\"'").strip().lower() or None
    return media, charset


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
    if status not in (401, 403, 429, 503):
        return False
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    server = headers.get("server", "").lower()
    if status == 403 and ("cloudflare" in server or "akamaighost" in server):
        return True
    if "x-datadome" in headers or "x-px-block" in headers:
        return True
    lowered = body_prefix[:_SNIFF_BYTES].lower()
    return any(marker in lowered for marker in _BOT_WALL_MARKERS)


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def non_public_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` is not a public internet address ("loopback", "private", …), else None.

    IPv4 addresses embedded in IPv6 forms (``::ffff:127.0.0.1``, 6to4 ``2002:7f00:1::``,
    Teredo, NAT64) are judged by the IPv4 address they carry. Raises ``ValueError`` for text
    that is not an IP address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # Mapped and NAT64 (DNS64 answers on IPv6-only hosts) addresses are their IPv4 address.
        if ip.ipv4_mapped is not None:
            return non_public_reason(ip.ipv4_mapped)
        if ip in _NAT64:
            return non_public_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for inner in _embedded_ipv4(ip):
        reason = non_public_reason(inner)
        if reason is not None:
            return f"{reason} (embedded {inner})"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for reason, applies in checks:
        if applies:
            return reason
    return None


def is_public_address(address: str | IPAddress) -> bool:
    return non_public_reason(address) is None


def parse_allow_rules(allow: bool | list[str] | tuple[str, ...]) -> bool | list[NetworkRule]:
    """``allow_private_networks`` as True/False or parsed rules; ``ValueError`` names a bad entry."""
    if isinstance(allow, bool):
        return allow
    return [parse_network_rule(entry) for entry in allow]


# --- the SSRF guard ----------------------------------------------------------------------


class AddressRefused(Exception):
    """A destination resolved to an address the policy does not allow. Nothing was sent."""

    def __init__(self, host: str, address: str, port: int, reason: str) -> None:
        super().__init__(f"refused: private address {address}")
        self.host, self.address, self.port, self.reason = host, address, port, reason


class DNSFailure(Exception):
    """The host name did not resolve."""


Resolver = Callable[..., list[tuple[Any, ...]]]


class AddressGuard:
    """Resolve a host once, check every address, and pin the checked answer for the connect."""

    def __init__(
        self,
        allow: bool | list[NetworkRule],
        *,
        resolve: Resolver = socket.getaddrinfo,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allow = allow
        self._resolve = resolve
        self._clock = clock
        self._pinned: dict[tuple[str, int], tuple[list[str], float]] = {}
        self._lock = threading.Lock()

    def allows(self, host: str, address: str, port: int) -> str | None:
        """None when allowed, else the reason the address is refused."""
        reason = non_public_reason(address)
        if reason is None or self._allow is True:
            return None
        if self._allow is False:
            return reason
        if any(rule.allows(host, address, port) for rule in self._allow):
            return None
        return reason

    def check(self, host: str, port: int) -> list[str]:
        """The host's addresses, all allowed; raises :class:`AddressRefused` or :class:`DNSFailure`."""
        host = host.strip("[]").lower()
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                infos = self._resolve(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise DNSFailure(str(exc)) from exc
            addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
            if not addresses:
                raise DNSFailure(f"{host} has no addresses")
        for address in addresses:
            reason = self.allows(host, address, port)
            if reason is not None:
                raise AddressRefused(host, address, port, reason)
        with self._lock:
            self._pinned[(host, port)] = (addresses, self._clock() + _PIN_SECONDS)
        return addresses

    def addresses_for(self, host: str, port: int) -> list[str]:
        """The pinned, checked addresses for a connect; checks afresh when none are pinned."""
        key = (host.strip("[]").lower(), port)
        with self._lock:
            pinned = self._pinned.get(key)
        if pinned is not None and pinned[1] > self._clock():
            return pinned[0]
        return self.check(*key)


class _Deadline:
    """The current fetch's deadline, per thread (httpx's sync client does I/O in the caller)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._local = threading.local()

    @contextlib.contextmanager
    def until(self, when: float) -> Iterator[None]:
        self._local.when = when
        try:
            yield
        finally:
            self._local.when = None

    def clamp(self, timeout: float | None, expired: type[Exception]) -> float | None:
        when = getattr(self._local, "when", None)
        if when is None:
            return timeout
        remaining = when - self._clock()
        if remaining <= 0:
            raise expired("deadline for the whole fetch passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the guard checked. httpcore still sends the original host
    name in the Host header and as the TLS SNI/certificate name, so HTTPS verifies normally."""

    def __init__(self, guard: AddressGuard, deadline: _Deadline) -> None:
        self._guard = guard
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._guard.addresses_for(host, port)
        except DNSFailure as exc:
            raise httpcore.ConnectError(f"DNS error: {exc}") from exc
        last_error: Exception | None = None
        for address in addresses:
            limit = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(
                    address, port, limit, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # try the next address, like create_connection
                last_error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        assert last_error is not None
        raise last_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ):
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _guarded_transport(
    backend: httpcore.NetworkBackend, limits: httpx.Limits, ssl_context: ssl.SSLContext
) -> httpx.HTTPTransport:
    """httpx's own transport (request/response conversion, exception mapping) over our backend.

    httpx 0.28 has no public ``network_backend`` argument, so the pool is rebuilt with it; a test
    (test_connects_only_to_checked_addresses) fails if a future httpx stops using ``_pool``.
    """
    transport = httpx.HTTPTransport(trust_env=False, limits=limits)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )
    return transport


@functools.cache
def _public_ca_context() -> ssl.SSLContext:
    """certifi's CAs, loaded once per process (loading takes tens of milliseconds)."""
    return httpx.create_ssl_context(trust_env=False)


# --- per-host politeness -------------------------------------------------------------------


class _HostGate:
    """At most N requests in flight per host, and a minimum gap between their starts."""

    def __init__(
        self,
        concurrency: int,
        delay: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, tuple[threading.Semaphore, threading.Lock, list[float]]] = {}

    def _state(self, host: str) -> tuple[threading.Semaphore, threading.Lock, list[float]]:
        with self._lock:
            state = self._hosts.get(host)
            if state is None:
                state = (threading.Semaphore(self._concurrency), threading.Lock(), [float("-inf")])
                self._hosts[host] = state
            return state

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        semaphore, lock, next_start = self._state(host)
        # Take the concurrency slot first, then the start time: two requests released by the
        # semaphore at once must still start a delay apart.
        with semaphore:
            with lock:
                now = self._clock()
                start = max(now, next_start[0])
                next_start[0] = start + self._delay
            if start > now:
                self._sleep(start - now)
            yield


# --- body reading --------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class _UnsupportedEncoding(Exception):
    pass


class _BoundedDecoder:
    """Decompress in steps that never produce more than the bytes still allowed."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._limit = limit
        self._total = 0
        self._encoding = encoding
        self._z: Any = None
        self._raw_fallback = encoding == "deflate"
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise _UnsupportedEncoding(encoding)

    def feed(self, data: bytes, sink: io.BytesIO) -> None:
        if self._z is None:
            sink.write(self._count(data))
            return
        while data:
            # Small steps: one step of a bomb must not inflate more than _CHUNK at once.
            step = min(self._limit - self._total + 1, _CHUNK)
            try:
                out = self._z.decompress(data, step)
            except zlib.error:
                # "deflate" servers often send raw deflate without the zlib header.
                if self._encoding == "deflate" and self._total == 0 and self._raw_fallback:
                    self._raw_fallback = False
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self._raw_fallback = False
            sink.write(self._count(out))
            data = self._z.unconsumed_tail

    def finish(self, sink: io.BytesIO) -> None:
        if self._z is not None:
            sink.write(self._count(self._z.flush()))

    def _count(self, out: bytes) -> bytes:
        self._total += len(out)
        if self._total > self._limit:
            raise _TooLarge
        return out


def _read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes raw and decoded; raises :class:`_TooLarge`."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    codings = [c.strip() for c in response.headers.get("content-encoding", "").lower().split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:  # stacked encodings ("gzip, gzip") are legal but unseen in the wild
        raise _UnsupportedEncoding(", ".join(codings))
    decoder = _BoundedDecoder(codings[0] if codings else "", limit)
    raw_total = 0
    sink = io.BytesIO()  # getvalue() hands over its buffer without a copy
    for chunk in response.iter_raw(_CHUNK):
        raw_total += len(chunk)
        if raw_total > limit:
            raise _TooLarge
        decoder.feed(chunk, sink)
    decoder.finish(sink)
    return sink.getvalue()


def _sniff(response: httpx.Response) -> bytes:
    """The start of an error page, for bot-wall markers; never fails."""
    try:
        return _read_body(response, _SNIFF_BYTES)
    except (_TooLarge, _UnsupportedEncoding, zlib.error, httpx.HTTPError):
        return b""


# --- the fetcher -----------------------------------------------------------------------------


@dataclass
class _Target:
    url: httpx.URL
    host: str
    port: int


class _Refusal(Exception):
    """A URL we will not request; carries the finished result."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def _target(text: str) -> _Target:
    """Parse and vet a URL to request; raises :class:`_Refusal` with the reason."""
    text = text.strip()
    if not text:
        raise _Refusal("invalid URL")
    scheme, colon, _ = text.partition(":")
    scheme = scheme.lower()
    if not colon or not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
        raise _Refusal("invalid URL")
    if scheme not in ("http", "https"):
        raise _Refusal(f"unsupported scheme {scheme[:20]}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _Refusal("invalid URL")
    try:
        url = httpx.URL(text)
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise _Refusal("invalid URL") from None
    if not host or not 0 < port < 65536:
        raise _Refusal("invalid URL")
    return _Target(url=url.copy_with(fragment=None), host=host.strip("[]").lower(), port=port)


def _header_value(value: str | None) -> str | None:
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


def _headers(response: httpx.Response) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def _forget_response(result: FetchResult) -> None:
    result.http_status = result.content_type = result.charset = None
    result.etag = result.last_modified = result.remote_address = None
    result.retry_after_seconds = None
    result.headers = {}


def _peer_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:  # the peer already hung up
        return None
    return str(peer[0]) if peer else None


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_exception(exc: BaseException) -> tuple[str, str, bool]:
    """(outcome, status, soft) for an exception raised while fetching."""
    chain = list(_exception_chain(exc))
    if any(isinstance(e, DNSFailure | socket.gaierror) for e in chain):
        return Outcome.TRANSIENT, "DNS error", True
    if any(
        isinstance(e, httpx.TimeoutException | httpcore.TimeoutException | TimeoutError)
        for e in chain
    ):
        return Outcome.TRANSIENT, "timeout", True
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        return Outcome.TRANSIENT, "TLS error", True
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Outcome.TRANSIENT, "connection refused", True
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Outcome.REJECTED, "invalid URL", False
    if isinstance(exc, httpx.LocalProtocolError):
        return Outcome.PERMANENT, "invalid request", False
    if isinstance(exc, httpx.RemoteProtocolError) and not _is_hang_up(exc):
        return Outcome.TRANSIENT, "invalid HTTP response", True
    return Outcome.TRANSIENT, "connection error", True


def _is_hang_up(exc: httpx.RemoteProtocolError) -> bool:
    """h11 reports a server that closed early and one that spoke garbage with the same type."""
    text = str(exc).lower()
    return any(word in text for word in ("disconnect", "closed", "incomplete", "without"))


def _classify_status(code: int, headers: dict[str, str], sniffed: bytes) -> tuple[str, str, bool]:
    """(outcome, status, soft) for a final response that is not 2xx or 304."""
    if looks_like_bot_wall(code, headers, sniffed):
        return Outcome.PERMANENT, BOT_PROTECTION, False
    if code == 429:
        return Outcome.TRANSIENT, "rate limited", True
    if code == 404:
        return Outcome.PERMANENT, "HTTP 404", True
    if code in (408, 425) or code >= 500:
        return Outcome.TRANSIENT, f"HTTP {code}", True
    return Outcome.PERMANENT, f"HTTP {code}", False


class Fetcher:
    """Fetches URLs under one :class:`FetchPolicy`. Thread-safe; one per pass; close it."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        resolve: Resolver = socket.getaddrinfo,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """``resolve`` replaces DNS and ``verify`` the trusted CAs (certifi by default); both
        exist for tests and private deployments."""
        self.policy = policy
        self._clock = clock
        self._guard = AddressGuard(
            parse_allow_rules(policy.allow_private_networks), resolve=resolve, clock=clock
        )
        self._deadline = _Deadline(clock)
        self._gate = _HostGate(
            policy.per_host_concurrency, policy.per_host_delay_seconds, clock, sleep
        )
        limits = httpx.Limits(
            max_connections=256, max_keepalive_connections=64, keepalive_expiry=30
        )
        self._client = httpx.Client(
            transport=_guarded_transport(
                _GuardedBackend(self._guard, self._deadline),
                limits,
                verify or _public_ca_context(),
            ),
            follow_redirects=False,
            trust_env=False,  # an environment proxy would bypass the address guard
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )
        self._count_lock = threading.Lock()
        self._request_count = 0

    @property
    def request_count(self) -> int:
        """Requests handed to the network (connection attempts included), for tests and benchmarks."""
        return self._request_count

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url`` (conditionally when validators are given); never raises for network or HTTP problems."""
        started = self._clock()
        result = FetchResult(url=url, final_url=url, outcome=Outcome.TRANSIENT, status="")
        headers: dict[str, str] = {}
        if (value := _header_value(accept)) is not None:
            headers["Accept"] = value
        if (value := _header_value(etag)) is not None:
            headers["If-None-Match"] = value
        if (value := _header_value(last_modified)) is not None:
            headers["If-Modified-Since"] = value
        try:
            self._follow(url, headers, result)
        except _Refusal as refusal:
            result.outcome, result.status, result.soft_failure = Outcome.REJECTED, refusal.status, False
        result.elapsed_ms = int(round((self._clock() - started) * 1000))
        if result.outcome != Outcome.OK:
            result.body = None
        return result

    # One hop per loop turn; each hop is vetted before anything is sent.
    def _follow(self, url: str, headers: dict[str, str], result: FetchResult) -> None:
        budget = self.policy.timeout_seconds
        seen: set[str] = set()
        current = url
        while True:
            result.final_url = current
            target = _target(current)
            seen.add(str(target.url))
            try:
                self._guard.check(target.host, target.port)
            except AddressRefused as refused:
                raise _Refusal(str(refused)) from None
            except DNSFailure:
                result.outcome, result.status, result.soft_failure = Outcome.TRANSIENT, "DNS error", True
                return
            with self._gate.slot(target.host):
                hop_started = self._clock()
                try:
                    with self._deadline.until(hop_started + budget):
                        location = self._hop(target, headers, result, budget)
                finally:
                    budget -= self._clock() - hop_started
            if location is None:
                return
            try:
                next_url = str(target.url.join(location).copy_with(fragment=None))
            except (httpx.InvalidURL, UnicodeError, ValueError):
                raise _Refusal("invalid redirect URL") from None
            result.redirects.append(next_url)
            if next_url in seen:
                result.final_url = next_url
                result.outcome, result.status, result.soft_failure = (
                    Outcome.PERMANENT,
                    "redirect loop",
                    True,
                )
                return
            if len(result.redirects) > self.policy.max_redirects:
                result.final_url = next_url
                result.outcome, result.status, result.soft_failure = (
                    Outcome.PERMANENT,
                    "too many redirects",
                    True,
                )
                return
            current = next_url

    def _hop(
        self, target: _Target, headers: dict[str, str], result: FetchResult, budget: float
    ) -> str | None:
        """Send one request; fill ``result`` and return None, or return a redirect's Location."""
        policy = self.policy
        if budget <= 0:
            result.outcome, result.status, result.soft_failure = Outcome.TRANSIENT, "timeout", True
            return None
        timeout = httpx.Timeout(
            connect=min(policy.connect_timeout_seconds, budget),
            read=min(policy.timeout_seconds, budget),
            write=min(policy.timeout_seconds, budget),
            pool=budget,
        )
        _forget_response(result)  # a failed hop must not report the previous hop's response
        request = self._client.build_request("GET", target.url, headers=headers, timeout=timeout)
        self._count(+1)
        try:
            response = self._client.send(request, stream=True)
        except AddressRefused as refused:  # DNS changed since the check: nothing was sent
            self._count(-1)
            raise _Refusal(str(refused)) from None
        except (httpx.HTTPError, httpcore.TimeoutException, OSError) as exc:
            result.outcome, result.status, result.soft_failure = classify_exception(exc)
            return None
        try:
            return self._read_response(response, result)
        except (httpx.HTTPError, httpcore.TimeoutException, OSError) as exc:
            result.outcome, result.status, result.soft_failure = classify_exception(exc)
            return None
        finally:
            response.close()

    def _count(self, step: int) -> None:
        with self._count_lock:
            self._request_count += step

    def _read_response(self, response: httpx.Response, result: FetchResult) -> str | None:
        code = response.status_code
        headers = _headers(response)
        result.http_status = code
        result.headers = headers
        result.content_type, result.charset = parse_content_type(headers.get("content-type"))
        result.etag = headers.get("etag")
        result.last_modified = headers.get("last-modified")
        result.retry_after_seconds = parse_retry_after(headers.get("retry-after"))
        result.remote_address = _peer_address(response)

        if code in REDIRECT_STATUSES:
            location = headers.get("location", "").strip()
            if location:
                return location
            result.outcome, result.status, result.soft_failure = (
                Outcome.PERMANENT,
                f"HTTP {code} without a Location",
                False,
            )
            return None
        if code == 304:
            result.outcome, result.status = Outcome.NOT_MODIFIED, "not modified"
            return None
        if 200 <= code < 300:
            try:
                result.body = _read_body(response, self.policy.max_bytes)
            except _TooLarge:
                result.outcome, result.status = (
                    Outcome.REJECTED,
                    f"too large (over {self.policy.max_bytes} bytes)",
                )
                return None
            except _UnsupportedEncoding as exc:
                result.outcome, result.status = (
                    Outcome.PERMANENT,
                    f"unsupported content encoding {exc}"[:80],
                )
                return None
            except zlib.error:
                result.outcome, result.status, result.soft_failure = (
                    Outcome.PERMANENT,
                    "invalid compressed body",
                    True,
                )
                return None
            result.outcome, result.status = Outcome.OK, "ok"
            return None
        sniffed = _sniff(response) if code in (401, 403, 429, 503) else b""
        result.outcome, result.status, result.soft_failure = _classify_status(
            code, headers, sniffed
        )
        if result.retry_after_seconds is not None and result.outcome == Outcome.TRANSIENT:
            result.status += f" (retry after {result.retry_after_seconds:.0f} s)"
        return None
