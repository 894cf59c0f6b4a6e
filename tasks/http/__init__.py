"""The fetcher for feeds and article pages: every request bounded, every outcome classified.

One :class:`Fetcher` per pass (thread-safe, one ``httpx.Client``). ``Fetcher.fetch(url)`` never
raises for network or HTTP problems; it returns a :class:`FetchResult` whose ``outcome`` is an
:class:`~storage.outcome.Outcome` (ok, not_modified, transient, permanent, rejected) and whose
``status`` is words for a person ("HTTP 404", "timeout", "refused: private address 10.0.0.1", …).

What bounds a fetch:

* an overall deadline (``timeout_seconds``) enforced on every socket operation, so a server
  dripping one byte a second cannot hold us past it; plus connect and per-read timeouts;
* ``max_bytes`` on the raw *and* the decoded body (we decompress ourselves in bounded steps,
  so a gzip bomb stops at the cap without inflating in memory);
* redirects followed by hand, each hop checked (scheme, cap, loops, address);
* an SSRF guard: a host is resolved once, every address checked, and the connection made to a
  checked address, so DNS rebinding cannot slip a private address in between the check and
  the connect;
* per-host politeness: at most ``per_host_concurrency`` requests in flight and at least
  ``per_host_delay_seconds`` between request starts to the same host.

One concept per private module; what other modules use is imported from here:

* ``_policy.py``: :class:`FetchPolicy`, the limits (defaults: the config's ``fetch:`` section)
* ``_result.py``: :class:`FetchResult`, what happened to one fetch
* ``_exceptions.py``: the fetcher's exception tree (drawn at its top)
* ``_classify.py``: the one place errors and HTTP statuses become outcomes (bot walls too)
* ``_addresses.py``: the SSRF guard: public addresses, allow rules, resolve-check-pin
* ``_transport.py``: httpx's transport over a backend that connects only to checked
  addresses, under the fetch's deadline
* ``_politeness.py``: per-host concurrency and delay
* ``_decoder.py``: reading a body within bounds (bounded decompression)
* ``_target.py``, ``_headers.py``: the URL to request, the headers sent and read
* ``_fetcher.py``: :class:`Fetcher`, the redirect loop and one hop

This package is pure (no prefect import).
"""

from storage.outcome import Outcome
from tasks.http._addresses import (
    AddressGuard,
    is_public_address,
    non_public_reason,
    parse_allow_rules,
)
from tasks.http._classify import BOT_PROTECTION
from tasks.http._exceptions import AddressRefused, DNSFailure, FetchError
from tasks.http._fetcher import Fetcher
from tasks.http._headers import parse_content_type
from tasks.http._policy import FetchPolicy
from tasks.http._result import FetchResult
from tasks.retry_after import parse_retry_after

__all__ = [
    "BOT_PROTECTION",
    "AddressGuard",
    "AddressRefused",
    "DNSFailure",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "Outcome",
    "is_public_address",
    "non_public_reason",
    "parse_allow_rules",
    "parse_content_type",
    "parse_retry_after",
]
