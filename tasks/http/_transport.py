"""httpx's transport over a network backend that connects only to checked addresses, and
holds every socket operation to the current fetch's deadline.

The deadline is what stops a server dripping one byte a second: httpx's timeouts bound
each read, not the whole fetch, so every read, write, connect and TLS handshake here gets
at most the time the fetch has left.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import httpcore
import httpx

from tasks.http._addresses import AddressGuard
from tasks.http._exceptions import DNSFailure


class Deadline:
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
        remaining: float = when - self._clock()
        if remaining <= 0:
            raise expired("deadline for the whole fetch passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
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

    def __init__(self, guard: AddressGuard, deadline: Deadline) -> None:
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
    ) -> NoReturn:
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def guarded_transport(
    guard: AddressGuard,
    deadline: Deadline,
    limits: httpx.Limits,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.HTTPTransport:
    """httpx's own transport (request/response conversion, exception mapping) over our backend.

    httpx 0.28 has no public ``network_backend`` argument, so the pool is rebuilt with it; a test
    (test_connects_only_to_checked_addresses) fails if a future httpx stops using ``_pool``.
    ``ssl_context`` replaces certifi's CAs (tests and private deployments).
    """
    transport = httpx.HTTPTransport(trust_env=False, limits=limits)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context or _public_ca_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(guard, deadline),
    )
    return transport


@functools.cache
def _public_ca_context() -> ssl.SSLContext:
    """certifi's CAs, loaded once per process (loading takes tens of milliseconds)."""
    return httpx.create_ssl_context(trust_env=False)
