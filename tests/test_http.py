"""The fetcher against real HTTP servers on 127.0.0.1: outcomes, bounds, the SSRF guard, politeness."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from config.settings import FetchConfig
from tasks.http import (
    BOT_PROTECTION,
    Fetcher,
    FetchPolicy,
    parse_content_type,
    parse_retry_after,
)
from tests.support.httpserver import (
    LocalSite,
    RecordedRequest,
    Reply,
    gzip_bomb,
    tls_contexts,
    zero_stream,
)


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as started:
        yield started


def policy_for(*sites: LocalSite, **overrides: object) -> FetchPolicy:
    """Fast limits, and only the given servers allowed."""
    settings: dict[str, object] = {
        "timeout_seconds": 2.0,
        "connect_timeout_seconds": 1.0,
        "per_host_delay_seconds": 0.0,
        "per_host_concurrency": 4,
        "allow_private_networks": [site.allow_rule for site in sites],
    }
    settings.update(overrides)
    return FetchPolicy(**settings)  # type: ignore[arg-type]


def fetch_one(site: LocalSite, path: str, **overrides: object):
    with Fetcher(policy_for(site, **overrides)) as fetcher:
        return fetcher.fetch(site.url(path))


# --- ok and conditional GET ---------------------------------------------------------------


def test_ok_fetch_returns_body_type_and_sends_our_headers(site: LocalSite) -> None:
    site.route(
        "/feed.xml",
        body=b"<rss>hello</rss>",
        content_type='application/RSS+xml; charset="ISO-8859-1"',
        headers={"ETag": '"abc"', "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"},
    )
    with Fetcher(policy_for(site, user_agent="newswatch-test/1")) as fetcher:
        result = fetcher.fetch(site.url("/feed.xml"), accept="application/rss+xml")
        assert fetcher.request_count == 1

    assert (result.outcome, result.status, result.http_status) == ("ok", "ok", 200)
    assert result.body == b"<rss>hello</rss>"
    assert (result.content_type, result.charset) == ("application/rss+xml", "iso-8859-1")
    assert result.etag == '"abc"'
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.headers["etag"] == '"abc"'
    assert result.final_url == result.url == site.url("/feed.xml")
    assert result.redirects == [] and not result.is_failure and result.failure_weight == 0
    assert result.remote_address == "127.0.0.1"
    [request] = site.requests
    assert request.method == "GET"
    assert request.header("user-agent") == "newswatch-test/1"
    assert request.header("accept") == "application/rss+xml"
    assert "gzip" in request.header("accept-encoding")
    assert request.header("if-none-match") is None and request.header("if-modified-since") is None


def _conditional(request: RecordedRequest) -> Reply:
    validators = {"ETag": '"v7"', "Last-Modified": "Tue, 07 Jan 2025 07:00:00 GMT"}
    if (
        request.header("if-none-match") == '"v7"'
        or request.header("if-modified-since") == validators["Last-Modified"]
    ):
        return Reply(304, headers={"ETag": '"v7"'})
    return Reply(200, b"<rss/>", headers=validators, content_type="application/rss+xml")


def test_etag_and_last_modified_round_trip_to_not_modified(site: LocalSite) -> None:
    site.route("/feed", handler=_conditional)
    with Fetcher(policy_for(site)) as fetcher:
        first = fetcher.fetch(site.url("/feed"))
        by_etag = fetcher.fetch(site.url("/feed"), etag=first.etag)
        by_date = fetcher.fetch(site.url("/feed"), last_modified=first.last_modified)

    assert first.outcome == "ok" and first.etag == '"v7"'
    for result in (by_etag, by_date):
        assert (result.outcome, result.status, result.http_status) == (
            "not_modified",
            "not modified",
            304,
        )
        assert result.body is None and not result.is_failure
    sent = site.requests
    assert sent[1].header("if-none-match") == '"v7"' and sent[1].header("if-modified-since") is None
    assert sent[2].header("if-modified-since") == "Tue, 07 Jan 2025 07:00:00 GMT"


def test_validators_with_line_breaks_are_not_sent(site: LocalSite) -> None:
    site.route("/feed", body=b"x")
    with Fetcher(policy_for(site)) as fetcher:
        result = fetcher.fetch(site.url("/feed"), etag='"a"\r\nX-Evil: 1')
    assert result.outcome == "ok"
    assert site.requests[0].header("if-none-match") is None
    assert site.requests[0].header("x-evil") is None


# --- size caps and decoding ------------------------------------------------------------------


def test_body_over_the_cap_is_rejected(site: LocalSite) -> None:
    site.route("/declared", body=b"x" * 5000)
    site.route("/undeclared", stream=zero_stream(5000))
    for path in ("/declared", "/undeclared"):
        result = fetch_one(site, path, max_bytes=1000)
        assert (result.outcome, result.status) == ("rejected", "too large (over 1000 bytes)")
        assert result.body is None and result.http_status == 200


def test_body_exactly_at_the_cap_is_ok(site: LocalSite) -> None:
    site.route("/exact", stream=zero_stream(1000))
    result = fetch_one(site, "/exact", max_bytes=1000)
    assert result.outcome == "ok" and result.body == bytes(1000)


def test_fifty_megabytes_stop_at_the_default_cap_with_bounded_memory(site: LocalSite) -> None:
    site.route("/huge", stream=zero_stream(50 * 1024 * 1024))  # no Content-Length
    policy = FetchPolicy()
    tracemalloc.start()
    try:
        result = fetch_one(site, "/huge")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.outcome, result.status) == ("rejected", "too large (over 15728640 bytes)")
    assert peak < 1.5 * policy.max_bytes, f"peak {peak} bytes"


def test_gzip_bomb_stops_at_the_cap_quickly_with_bounded_memory(site: LocalSite) -> None:
    bomb = gzip_bomb(10 * 1024 * 1024)
    assert len(bomb) < 64 * 1024  # really a bomb: 10 MB in about 10 KB
    site.route("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    cap = 1024 * 1024
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = fetch_one(site, "/bomb", max_bytes=cap)
        took = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.outcome, result.status) == ("rejected", f"too large (over {cap} bytes)")
    assert took < 1.0
    assert peak < 2 * cap, f"peak {peak} bytes while decoding a bomb capped at {cap}"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda data: zlib.compress(data, wbits=16 + zlib.MAX_WBITS)),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw, as IIS sends
        ("identity", lambda data: data),
        ("GZIP, identity", lambda data: zlib.compress(data, wbits=16 + zlib.MAX_WBITS)),
    ],
)
def test_compressed_bodies_are_decoded(site: LocalSite, encoding, encode) -> None:
    text = b"<html>" + b"news " * 2000 + b"</html>"
    site.route("/page", body=encode(text), headers={"Content-Encoding": encoding})
    result = fetch_one(site, "/page")
    assert result.outcome == "ok" and result.body == text


def test_unknown_content_encoding_is_a_permanent_failure(site: LocalSite) -> None:
    site.route("/br", body=b"\x8b\x00\x80", headers={"Content-Encoding": "br"})
    result = fetch_one(site, "/br")
    assert (result.outcome, result.status) == ("permanent", "unsupported content encoding br")


def test_corrupt_gzip_is_a_soft_permanent_failure(site: LocalSite) -> None:
    site.route("/bad", body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    result = fetch_one(site, "/bad")
    assert (result.outcome, result.status, result.soft_failure) == (
        "permanent",
        "invalid compressed body",
        True,
    )


# --- time bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bytes_per_second", [10, 1])
def test_slow_drip_stops_at_the_overall_deadline(site: LocalSite, bytes_per_second: int) -> None:
    # At 10 B/s each byte arrives well within the read timeout: only the deadline stops it.
    site.drip("/drip", b"x" * 100, bytes_per_second=bytes_per_second)
    started = time.monotonic()
    result = fetch_one(site, "/drip", timeout_seconds=0.6)
    took = time.monotonic() - started
    assert (result.outcome, result.status, result.soft_failure) == ("transient", "timeout", True)
    assert 0.55 <= took < 0.9
    assert result.body is None


def test_server_that_never_answers_times_out(site: LocalSite) -> None:
    site.slow("/silent", delay=5)
    started = time.monotonic()
    result = fetch_one(site, "/silent", timeout_seconds=0.4)
    assert (result.outcome, result.status) == ("transient", "timeout")
    assert time.monotonic() - started < 0.8


# --- redirects ---------------------------------------------------------------------------------------


def test_redirects_within_the_cap_are_followed(site: LocalSite) -> None:
    site.redirect("/a", "/b", status=301)
    site.redirect("/b", site.url("/c"), status=308)
    site.route("/c", body=b"done")
    result = fetch_one(site, "/a", max_redirects=2)
    assert result.outcome == "ok" and result.body == b"done"
    assert result.final_url == site.url("/c")
    assert result.redirects == [site.url("/b"), site.url("/c")]
    assert site.paths() == ["/a", "/b", "/c"]


def test_redirect_chain_longer_than_the_cap(site: LocalSite) -> None:
    for hop in range(10):
        site.redirect(f"/r{hop}", f"/r{hop + 1}")
    result = fetch_one(site, "/r0", max_redirects=3)
    assert (result.outcome, result.status, result.soft_failure) == (
        "permanent",
        "too many redirects",
        True,
    )
    assert site.paths() == ["/r0", "/r1", "/r2", "/r3"]  # the fourth redirect is not followed


def test_redirect_loop(site: LocalSite) -> None:
    site.redirect("/a", "/b")
    site.redirect("/b", "/a")
    result = fetch_one(site, "/a")
    assert (result.outcome, result.status) == ("permanent", "redirect loop")
    assert site.paths() == ["/a", "/b"]


def test_redirect_to_an_unlisted_loopback_port_is_refused_before_sending(site: LocalSite) -> None:
    with LocalSite() as other:
        other.route("/secret", body=b"internal")
        site.redirect("/feed", other.url("/secret"))
        with Fetcher(policy_for(site)) as fetcher:  # only site is allowed
            result = fetcher.fetch(site.url("/feed"))
            assert fetcher.request_count == 1
        assert other.requests == []
    assert (result.outcome, result.status) == ("rejected", "refused: private address 127.0.0.1")
    assert result.final_url == other.url("/secret")
    assert site.paths() == ["/feed"]


def test_redirect_to_a_non_http_scheme_is_rejected(site: LocalSite) -> None:
    site.redirect("/feed", "ftp://example.com/feed")
    result = fetch_one(site, "/feed")
    assert (result.outcome, result.status) == ("rejected", "unsupported scheme ftp")


def test_redirect_without_location(site: LocalSite) -> None:
    site.route("/feed", status=302)
    result = fetch_one(site, "/feed")
    assert (result.outcome, result.status) == ("permanent", "HTTP 302 without a Location")


# --- SSRF guard on the wire ------------------------------------------------------------------------------


def test_private_networks_refused_by_default_and_nothing_sent(site: LocalSite) -> None:
    site.route("/feed", body=b"x")
    with Fetcher(FetchPolicy(per_host_delay_seconds=0)) as fetcher:
        by_address = fetcher.fetch(site.url("/feed"))
        by_name = fetcher.fetch(f"http://localhost:{site.port}/feed")
        assert fetcher.request_count == 0
    assert site.requests == []
    assert (by_address.outcome, by_address.status) == (
        "rejected",
        "refused: private address 127.0.0.1",
    )
    assert by_name.outcome == "rejected" and by_name.status.startswith("refused: private address ")
    assert by_address.failure_weight == 1.0


def test_allow_true_admits_any_private_address(site: LocalSite) -> None:
    site.route("/feed", body=b"x")
    result = fetch_one(site, "/feed", allow_private_networks=True)
    assert result.outcome == "ok"


def test_a_rule_for_another_port_does_not_admit_this_one(site: LocalSite) -> None:
    site.route("/feed", body=b"x")
    result = fetch_one(site, "/feed", allow_private_networks=[f"127.0.0.1:{site.port + 1}"])
    assert result.outcome == "rejected" and site.requests == []


def test_connects_only_to_the_checked_address_and_keeps_the_host_name(site: LocalSite) -> None:
    """DNS rebinding: the name resolves once; a later, different answer is never used."""
    site.route("/feed", body=b"x")
    answers = ["127.0.0.1", "127.0.0.2", "127.0.0.2"]
    calls: list[str] = []

    def resolve(host, port, *args, **kwargs):
        calls.append(host)
        address = answers[min(len(calls) - 1, len(answers) - 1)]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    url = f"http://feeds.example:{site.port}/feed"
    with Fetcher(policy_for(site), resolve=resolve) as fetcher:
        result = fetcher.fetch(url)
    assert result.outcome == "ok" and result.remote_address == "127.0.0.1"
    assert calls == ["feeds.example"]
    assert site.requests[0].header("host") == f"feeds.example:{site.port}"


def test_rebinding_at_connect_time_is_refused_and_nothing_is_sent(
    site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a pinned answer the connect resolves again, and checks that answer too."""
    monkeypatch.setattr("tasks.http._addresses.PIN_SECONDS", 0.0)
    site.route("/feed", body=b"x")
    answers = iter(["127.0.0.1", "127.0.0.2"])  # allowed at the check, not at the connect

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    with Fetcher(policy_for(site), resolve=resolve) as fetcher:
        result = fetcher.fetch(f"http://rebind.example:{site.port}/feed")
        assert fetcher.request_count == 0
    assert (result.outcome, result.status) == ("rejected", "refused: private address 127.0.0.2")
    assert site.requests == []


def test_a_name_with_any_private_address_is_refused() -> None:
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    with Fetcher(FetchPolicy(), resolve=resolve) as fetcher:
        result = fetcher.fetch("https://mixed.example/feed")
        assert fetcher.request_count == 0
    assert (result.outcome, result.status) == ("rejected", "refused: private address 10.0.0.5")


def test_dns_failure_is_transient_and_sends_nothing() -> None:
    def resolve(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with Fetcher(FetchPolicy(), resolve=resolve) as fetcher:
        result = fetcher.fetch("https://no-such-host.example/feed")
        assert fetcher.request_count == 0
    assert (result.outcome, result.status, result.soft_failure) == ("transient", "DNS error", True)


# --- HTTP failures -----------------------------------------------------------------------------------------


def test_cloudflare_challenge_is_blocked_by_bot_protection(site: LocalSite) -> None:
    site.route(
        "/cf",
        status=403,
        body=b"<html>...</html>",
        headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
    )
    site.route(
        "/moment", status=503, body=b"<title>Just a moment...</title>", content_type="text/html"
    )
    site.route("/plain403", status=403, body=b"Forbidden")
    cf, moment, plain = (fetch_one(site, p) for p in ("/cf", "/moment", "/plain403"))
    assert (cf.outcome, cf.status, cf.http_status, cf.soft_failure) == (
        "permanent",
        BOT_PROTECTION,
        403,
        False,
    )
    assert (moment.outcome, moment.status, moment.http_status) == ("permanent", BOT_PROTECTION, 503)
    assert (plain.outcome, plain.status) == ("permanent", "HTTP 403")


def test_429_with_retry_after_seconds(site: LocalSite) -> None:
    site.route("/feed", status=429, headers={"Retry-After": "120"})
    result = fetch_one(site, "/feed")
    assert (result.outcome, result.status) == ("transient", "rate limited (retry after 120 s)")
    assert result.retry_after_seconds == 120 and result.soft_failure


def test_429_with_retry_after_http_date(site: LocalSite) -> None:
    when = datetime.now(UTC) + timedelta(seconds=90)
    site.route("/feed", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    result = fetch_one(site, "/feed")
    assert result.outcome == "transient" and result.status.startswith("rate limited (retry after ")
    assert 85 <= result.retry_after_seconds <= 91


def test_503_with_retry_after(site: LocalSite) -> None:
    site.route("/feed", status=503, headers={"Retry-After": "30"})
    result = fetch_one(site, "/feed")
    assert (result.outcome, result.status, result.retry_after_seconds) == (
        "transient",
        "HTTP 503 (retry after 30 s)",
        30,
    )


@pytest.mark.parametrize(
    ("code", "outcome", "soft"),
    [
        (500, "transient", True),
        (502, "transient", True),
        (404, "permanent", True),
        (410, "permanent", False),
    ],
)
def test_error_statuses(site: LocalSite, code: int, outcome: str, soft: bool) -> None:
    site.route("/x", status=code, body=b"error page")
    result = fetch_one(site, "/x")
    assert (result.outcome, result.status, result.http_status, result.soft_failure) == (
        outcome,
        f"HTTP {code}",
        code,
        soft,
    )
    assert result.body is None and result.failure_weight == (0.5 if soft else 1.0)


def test_connection_reset_mid_body_is_transient(site: LocalSite) -> None:
    site.reset("/reset", after_bytes=10)
    site.reset("/reset-early", after_bytes=0)
    for path in ("/reset", "/reset-early"):
        result = fetch_one(site, path)
        assert (result.outcome, result.status, result.soft_failure) == (
            "transient",
            "connection error",
            True,
        )
        assert result.body is None


def test_closed_port_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = FetchPolicy(allow_private_networks=[f"127.0.0.1:{port}"], timeout_seconds=1)
    with Fetcher(policy) as fetcher:
        result = fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert (result.outcome, result.status) == ("transient", "connection refused")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("javascript:alert(1)", "unsupported scheme javascript"),
        ("data:text/html,<script>alert(1)</script>", "unsupported scheme data"),
        ("ftp://example.com/feed.xml", "unsupported scheme ftp"),
        ("file:///etc/passwd", "unsupported scheme file"),
        ("", "invalid URL"),
        ("not a url", "invalid URL"),
        ("//example.com/feed", "invalid URL"),
        ("http://", "invalid URL"),
        ("http://exa mple.com/\nx", "invalid URL"),
        ("http://example.com:99999/", "invalid URL"),
    ],
)
def test_bad_urls_are_rejected_without_a_request(url: str, status: str) -> None:
    with Fetcher(FetchPolicy()) as fetcher:
        result = fetcher.fetch(url)
        assert fetcher.request_count == 0
    assert (result.outcome, result.status, result.soft_failure) == ("rejected", status, False)
    assert result.url == url


# --- per-host politeness -----------------------------------------------------------------------------------


def _fetch_in_threads(fetcher: Fetcher, urls: list[str]) -> list:
    results: list = [None] * len(urls)

    def run(index: int) -> None:
        results[index] = fetcher.fetch(urls[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_politeness_uses_the_injected_clock_and_sleep(site: LocalSite) -> None:
    site.route("/page", body=b"x")
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    policy = policy_for(site, per_host_delay_seconds=5.0)
    with Fetcher(policy, clock=lambda: now[0], sleep=sleep) as fetcher:
        results = [fetcher.fetch(site.url("/page")) for _ in range(3)]
    assert [r.outcome for r in results] == ["ok"] * 3
    assert slept == [5.0, 5.0]
    assert [r.elapsed_ms for r in results] == [0, 5000, 5000]


def test_per_host_concurrency_never_exceeds_the_limit(site: LocalSite) -> None:
    site.slow("/slow", delay=0.15)
    with Fetcher(policy_for(site, per_host_concurrency=2)) as fetcher:
        results = _fetch_in_threads(fetcher, [site.url("/slow")] * 6)
    assert [r.outcome for r in results] == ["ok"] * 6
    assert site.max_in_flight == 2  # the limit is used, and never exceeded


def test_delay_between_request_starts_to_one_host(site: LocalSite) -> None:
    site.route("/page", body=b"x")
    delay = 0.12
    with Fetcher(policy_for(site, per_host_concurrency=4, per_host_delay_seconds=delay)) as fetcher:
        results = _fetch_in_threads(fetcher, [site.url("/page")] * 4)
    assert [r.outcome for r in results] == ["ok"] * 4
    starts = sorted(r.started_at for r in site.requests)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 3 and min(gaps) >= delay - 0.01, gaps


# --- policy and pure helpers --------------------------------------------------------------------------------


def test_policy_from_settings() -> None:
    config = FetchConfig(
        timeout_seconds=7,
        connect_timeout_seconds=3,
        max_bytes=1234,
        max_redirects=2,
        per_host_concurrency=5,
        per_host_delay_seconds=0.5,
        allow_private_networks=["127.0.0.1:8080", "10.0.0.0/8"],
        user_agent="ua/1",
    )
    policy = FetchPolicy.from_settings(config)
    assert policy == FetchPolicy(7, 3, 1234, 2, 5, 0.5, ["127.0.0.1:8080", "10.0.0.0/8"], "ua/1")
    assert FetchPolicy.from_settings(FetchConfig()).allow_private_networks is False


def test_the_policy_defaults_are_the_configs() -> None:
    """One source of defaults: a bare FetchPolicy (tests, scripts) fetches as the config does."""
    assert FetchPolicy() == FetchPolicy.from_settings(FetchConfig())
    assert FetchPolicy().user_agent.startswith("newswatch/") and "news monitor" in FetchPolicy().user_agent


def test_invalid_allow_rule_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a port number"):
        Fetcher(FetchPolicy(allow_private_networks=["127.0.0.1:http"]))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/html; charset=UTF-8", ("text/html", "utf-8")),
        ('Application/Atom+XML;Charset="windows-1252"', ("application/atom+xml", "windows-1252")),
        ("text/xml", ("text/xml", None)),
        ("", (None, None)),
        (None, (None, None)),
        (";charset=utf-8", (None, "utf-8")),
    ],
)
def test_parse_content_type(header, expected) -> None:
    assert parse_content_type(header) == expected


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Wed, 01 Jan 2025 12:02:00 GMT", now) == 120
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0  # in the past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    assert parse_retry_after(None, now) is None


# --- malformed responses, HTTPS and IPv6 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"HELLO THERE\r\n\r\n", "invalid HTTP response"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "invalid HTTP response"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200_000 + b"\r\n\r\n", "invalid HTTP response"),
        (b"", "connection error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", "connection error"),
    ],
)
def test_malformed_responses_are_transient(site: LocalSite, raw: bytes, status: str) -> None:
    site.route("/x", raw=raw)
    result = fetch_one(site, "/x")
    assert (result.outcome, result.status, result.body) == ("transient", status, None)


def test_https_connects_to_the_checked_address_and_verifies_the_host_name() -> None:
    pytest.importorskip("cryptography")
    server_tls, client_tls = tls_contexts("feeds.example")
    with LocalSite(tls=server_tls) as secure:
        secure.route("/feed", body=b"<rss/>")

        def resolve(host, port, *args, **kwargs):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        url = f"https://feeds.example:{secure.port}/feed"
        with Fetcher(policy_for(secure), resolve=resolve, verify=client_tls) as fetcher:
            trusted = fetcher.fetch(url)
        with Fetcher(policy_for(secure), resolve=resolve) as fetcher:  # the public CAs only
            untrusted = fetcher.fetch(url)
        # The certificate names feeds.example, not the address we connect to.
        with Fetcher(policy_for(secure), verify=client_tls) as fetcher:
            by_address = fetcher.fetch(secure.url("/feed"))
    assert (trusted.outcome, trusted.body, trusted.remote_address) == ("ok", b"<rss/>", "127.0.0.1")
    assert secure.tls_server_names[0] == "feeds.example"
    assert secure.requests[0].header("host") == f"feeds.example:{secure.port}"
    for failed in (untrusted, by_address):
        assert (failed.outcome, failed.status, failed.soft_failure) == (
            "transient",
            "TLS error",
            True,
        )
    assert len(secure.requests) == 1


def test_ipv6_loopback_is_refused_unless_listed() -> None:
    with LocalSite("::1") as six:
        six.route("/feed", body=b"v6")
        assert six.url("/feed") == f"http://[::1]:{six.port}/feed"
        allowed = fetch_one(six, "/feed")
        refused = fetch_one(six, "/feed", allow_private_networks=[])
    assert (allowed.outcome, allowed.body, allowed.remote_address) == ("ok", b"v6", "::1")
    assert (refused.outcome, refused.status) == ("rejected", "refused: private address ::1")
    assert six.paths() == ["/feed"]


def test_local_site_serves_a_folder(site: LocalSite, tmp_path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "world.xml").write_bytes(b"<rss/>")
    (tmp_path / "page.html").write_bytes(b"<html></html>")
    assert site.files("/static", tmp_path) == ["/static/feeds/world.xml", "/static/page.html"]
    page = fetch_one(site, "/static/page.html")
    feed = fetch_one(site, "/static/feeds/world.xml")
    assert (page.body, page.content_type) == (b"<html></html>", "text/html")
    assert (feed.body, feed.content_type) == (b"<rss/>", "text/xml")


def test_a_failed_redirect_hop_does_not_report_the_redirect_response(site: LocalSite) -> None:
    site.route("/feed", status=302, headers={"Location": "/gone", "ETag": '"redirect"'})
    site.route("/gone", raw=b"")  # hangs up without a response
    result = fetch_one(site, "/feed")
    assert (result.outcome, result.status) == ("transient", "connection error")
    assert result.final_url == site.url("/gone")
    assert result.etag is None and result.headers == {}
