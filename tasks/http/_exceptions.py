"""The fetcher's own exceptions. None of them leaves ``Fetcher.fetch``: each becomes an
outcome in ``_classify.py``, the one place errors are translated.

    FetchError
    ├── RequestRefused           a URL we will not request: bad syntax, another scheme,
    │                            a redirect to nowhere (nothing sent)
    ├── AddressRefused           a host resolved to an address the policy does not allow
    │                            (nothing sent)
    ├── DNSFailure               the host name did not resolve
    └── BodyError                a body that cannot be read within bounds
        ├── BodyTooLarge         over ``max_bytes``, raw or decoded
        ├── UnsupportedEncoding  a Content-Encoding we do not decode (br, stacked codings)
        └── CorruptBody          compressed bytes that do not decompress

Errors of the libraries below (httpx, httpcore, socket, ssl) are not wrapped: the
classifier reads them through the exception chain, where a DNS failure or a timeout
may sit under an httpx error.
"""

from __future__ import annotations


class FetchError(Exception):
    """Something the fetcher turns into an outcome; the message is the status a person reads."""


class RequestRefused(FetchError):
    """A URL we will not request; ``str(exc)`` is the reason ("invalid URL", …)."""


class AddressRefused(FetchError):
    """A destination resolved to an address the policy does not allow. Nothing was sent."""

    def __init__(self, host: str, address: str, port: int, reason: str) -> None:
        super().__init__(f"refused: private address {address}")
        self.host, self.address, self.port, self.reason = host, address, port, reason


class DNSFailure(FetchError):
    """The host name did not resolve."""


class BodyError(FetchError):
    """A response body that cannot be read within bounds."""


class BodyTooLarge(BodyError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"too large (over {limit} bytes)")
        self.limit = limit


class UnsupportedEncoding(BodyError):
    def __init__(self, coding: str) -> None:
        super().__init__(f"unsupported content encoding {coding}")
        self.coding = coding


class CorruptBody(BodyError):
    """Compressed bytes that do not decompress (raised from the ``zlib.error``)."""

    def __init__(self) -> None:
        super().__init__("invalid compressed body")
