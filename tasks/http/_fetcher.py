"""The fetcher: redirects followed by hand, one vetted hop at a time, every response read
within the policy's bounds and settled into a :class:`FetchResult` by ``_classify``."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable

import httpcore
import httpx

from storage.outcome import Outcome
from tasks.http._addresses import AddressGuard, Resolver, parse_allow_rules
from tasks.http._classify import (
    BOT_WALL_STATUSES,
    DEADLINE_PASSED,
    NOT_MODIFIED,
    OK,
    REDIRECT_LOOP,
    TOO_MANY_REDIRECTS,
    classify_exception,
    classify_status,
    missing_location,
)
from tasks.http._decoder import ACCEPT_ENCODING, read_body, sniff
from tasks.http._exceptions import AddressRefused, BodyError, FetchError
from tasks.http._headers import header_value, merged_headers, parse_content_type, peer_address
from tasks.http._policy import FetchPolicy
from tasks.http._politeness import HostGate
from tasks.http._result import FetchResult
from tasks.http._target import Target, redirect_target, target
from tasks.http._transport import Deadline, guarded_transport
from tasks.retry_after import parse_retry_after

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Errors of the libraries below that a request or a body read may raise.
_NETWORK_ERRORS = (httpx.HTTPError, httpcore.TimeoutException, OSError)


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
        self._deadline = Deadline(clock)
        self._gate = HostGate(policy.per_host_concurrency, policy.per_host_delay_seconds, clock, sleep)
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30)
        self._client = httpx.Client(
            transport=guarded_transport(self._guard, self._deadline, limits, verify),
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
        for name, value in (("Accept", accept), ("If-None-Match", etag), ("If-Modified-Since", last_modified)):
            if (safe := header_value(value)) is not None:
                headers[name] = safe
        try:
            self._follow(url, headers, result)
        except FetchError as exc:  # refused, or the name did not resolve: nothing was sent
            result.settle(classify_exception(exc))
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
            hop = target(current)
            seen.add(str(hop.url))
            self._guard.check(hop.host, hop.port)
            with self._gate.slot(hop.host):
                hop_started = self._clock()
                try:
                    with self._deadline.until(hop_started + budget):
                        location = self._hop(hop, headers, result, budget)
                finally:
                    budget -= self._clock() - hop_started
            if location is None:
                return
            next_url = redirect_target(hop, location)
            result.redirects.append(next_url)
            if next_url in seen or len(result.redirects) > self.policy.max_redirects:
                result.final_url = next_url
                result.settle(REDIRECT_LOOP if next_url in seen else TOO_MANY_REDIRECTS)
                return
            current = next_url

    def _hop(self, hop: Target, headers: dict[str, str], result: FetchResult, budget: float) -> str | None:
        """Send one request; settle ``result`` and return None, or return a redirect's Location."""
        policy = self.policy
        if budget <= 0:
            result.settle(DEADLINE_PASSED)
            return None
        timeout = httpx.Timeout(
            connect=min(policy.connect_timeout_seconds, budget),
            read=min(policy.timeout_seconds, budget),
            write=min(policy.timeout_seconds, budget),
            pool=budget,
        )
        result.forget_response()
        request = self._client.build_request("GET", hop.url, headers=headers, timeout=timeout)
        self._count(+1)
        try:
            response = self._client.send(request, stream=True)
        except AddressRefused:  # DNS changed since the check: nothing was sent
            self._count(-1)
            raise
        except _NETWORK_ERRORS as exc:
            result.settle(classify_exception(exc))
            return None
        try:
            return self._read_response(response, result)
        except _NETWORK_ERRORS as exc:
            result.settle(classify_exception(exc))
            return None
        finally:
            response.close()

    def _count(self, step: int) -> None:
        with self._count_lock:
            self._request_count += step

    def _read_response(self, response: httpx.Response, result: FetchResult) -> str | None:
        code = response.status_code
        headers = merged_headers(response)
        result.http_status = code
        result.headers = headers
        result.content_type, result.charset = parse_content_type(headers.get("content-type"))
        result.etag = headers.get("etag")
        result.last_modified = headers.get("last-modified")
        result.retry_after_seconds = parse_retry_after(headers.get("retry-after"))
        result.remote_address = peer_address(response)

        if code in REDIRECT_STATUSES:
            location = headers.get("location", "").strip()
            if location:
                return location
            result.settle(missing_location(code))
        elif code == 304:
            result.settle(NOT_MODIFIED)
        elif 200 <= code < 300:
            try:
                result.body = read_body(response, self.policy.max_bytes)
            except BodyError as exc:
                result.settle(classify_exception(exc))
            else:
                result.settle(OK)
        else:
            sniffed = sniff(response) if code in BOT_WALL_STATUSES else b""
            result.settle(classify_status(code, headers, sniffed, result.retry_after_seconds))
        return None
