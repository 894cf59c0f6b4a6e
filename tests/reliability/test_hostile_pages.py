"""Hostile article pages, one case each, listed by a feed beside a healthy control feed.

Each asserts: the pass finishes in its bound with bounded memory, the article is recorded
with a clear status and detail (``newswatch articles --format json``), the control feed's
articles are extracted, and each hostile page was requested once at most.
"""

from __future__ import annotations

import pytest

from tests.reliability.harness import Item, Pipeline, article_page, assert_control_healthy, rss
from tests.support.httpserver import LocalSite, Reply, zero_stream

FEED = "/pages/feed.xml"
PAGE = "/pages/hostile.html"
MEMORY_MB = 300


@pytest.fixture
def site():
    with LocalSite() as server:
        yield server


def run_page_case(tmp_path, site, reliability, *, summary=None, bound=30.0, **fetch):
    """A feed listing the hostile page (with ``summary`` as the entry's own text) and a good page."""
    site.route("/pages/good.html", article_page("Good neighbour"), content_type="text/html")
    items = [
        Item("Hostile page", site.url(PAGE), guid="hostile", description=summary),
        Item("Good neighbour", site.url("/pages/good.html"), guid="good"),
    ]
    site.route(FEED, rss(items), content_type="application/rss+xml")
    pipeline = Pipeline(tmp_path, site, feeds=[site.url(FEED)], fetch=fetch)
    outcome = pipeline.run()
    assert outcome.seconds < bound, f"pass took {outcome.seconds:.1f}s (bound {bound}s)"
    growth = reliability.peak_growth_mb()
    assert growth < MEMORY_MB, f"peak memory grew {growth:.0f} MB (bound {MEMORY_MB} MB)"
    assert_control_healthy(outcome, pipeline.control_url, site)
    assert outcome.article(site.url("/pages/good.html"))["status"] == "fetched"
    assert outcome.feed(site.url(FEED))["status"] == "ok"
    assert len(site.requests_for(PAGE)) <= 1, site.requests_for(PAGE)
    return outcome.article(site.url(PAGE))


def describe(article: dict) -> str:
    detail = article["status_detail"] or ""
    return f"article {article['status']!r}" + (f": {detail[:90]}" if detail else "")


def test_huge_page_stops_at_the_cap(tmp_path, site, reliability) -> None:
    site.route(PAGE, content_type="text/html", stream=zero_stream(50 * 2**20), declared_length=50 * 2**20)
    article = run_page_case(tmp_path, site, reliability, max_bytes=5 * 2**20)
    assert article["status"] == "rejected" and "too large" in article["status_detail"], article
    reliability.record(describe(article) + "; a 50 MB page, cap 5 MB")


def test_huge_html_page_is_extracted_within_the_timeout(tmp_path, site, reliability) -> None:
    # 4 MB of real markup (under the cap): extraction must finish or time out, not hang.
    paragraph = b"<div><p>" + b"Harbour news in many words. " * 40 + b"</p></div>"
    body = b"<html><head><title>Huge</title></head><body>" + paragraph * (4 * 2**20 // len(paragraph)) + b"</body></html>"
    site.route(PAGE, body, content_type="text/html")
    article = run_page_case(tmp_path, site, reliability, bound=60.0, extraction_timeout_seconds=20)
    assert article["status"] in ("fetched", "failed"), article
    assert article["status"] == "fetched" or "timed out" in (article["status_detail"] or ""), article
    reliability.record(describe(article) + f"; {len(body) // 2**20} MB of HTML, {len(article['text'] or '')} chars kept")


def test_empty_page_falls_back_to_the_feed_summary(tmp_path, site, reliability) -> None:
    site.route(PAGE, b"", content_type="text/html")
    summary = " ".join(["The feed's own summary carries the story when the page is empty."] * 5)
    article = run_page_case(tmp_path, site, reliability, summary=summary)
    assert article["status"] == "fetched" and article["extraction_method"] == "feed-summary", article
    assert "summary" in article["text"]
    reliability.record(describe(article) + f"; method {article['extraction_method']}")


def test_empty_page_without_a_summary_fails_clearly(tmp_path, site, reliability) -> None:
    site.route(PAGE, b"", content_type="text/html")
    article = run_page_case(tmp_path, site, reliability)
    assert article["status"] == "rejected" and "empty body" in article["status_detail"], article
    reliability.record(describe(article))


def test_binary_page_labelled_html(tmp_path, site, reliability) -> None:
    site.route(PAGE, bytes(range(256)) * 4096, content_type="text/html")
    article = run_page_case(tmp_path, site, reliability)
    assert article["status"] == "rejected" and "binary data" in article["status_detail"], article
    reliability.record(describe(article))


@pytest.mark.parametrize(
    ("kind", "body", "named"),
    [("application/pdf", b"%PDF-1.7\n" + b"\x00" * 2048, "PDF document"),
     ("application/json", b'{"story": "no"}', "application/json"),
     ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 1024, "PNG image")],
)
def test_page_that_is_not_html(tmp_path, site, reliability, kind, body, named) -> None:
    site.route(PAGE, body, content_type=kind)
    article = run_page_case(tmp_path, site, reliability)
    assert article["status"] == "rejected" and "not HTML" in article["status_detail"], article
    assert named in article["status_detail"], article
    reliability.record(describe(article))


@pytest.mark.parametrize(
    ("name", "reply", "status", "detail"),
    [
        ("403 bot wall", Reply(403, b"<html>Attention Required! | Cloudflare</html>",
                               headers={"cf-mitigated": "challenge"}, content_type="text/html"),
         "failed", "blocked by bot protection"),
        ("404", Reply(404, b"gone"), "failed", "HTTP 404"),
        ("429 Retry-After", Reply(429, b"", headers={"Retry-After": "600"}), "pending", "rate limited"),
        ("500", Reply(500, b"oops"), "pending", "HTTP 500"),
    ],
)
def test_page_error_statuses(tmp_path, site, reliability, name, reply, status, detail) -> None:
    site.route(PAGE, handler=lambda _request: reply)
    article = run_page_case(tmp_path, site, reliability)
    assert article["status"] == status and detail in (article["status_detail"] or ""), article
    reliability.record(describe(article))


def test_page_connection_reset(tmp_path, site, reliability) -> None:
    site.reset(PAGE, after_bytes=50, body=article_page("Reset"), content_type="text/html")
    article = run_page_case(tmp_path, site, reliability)
    assert article["status"] == "pending" and "connection" in article["status_detail"], article
    reliability.record(describe(article))


def test_page_dripping_one_byte_a_second(tmp_path, site, reliability) -> None:
    site.drip(PAGE, article_page("Slow"), bytes_per_second=1, content_type="text/html")
    article = run_page_case(tmp_path, site, reliability, timeout_seconds=3)
    assert article["status"] == "pending" and "timeout" in article["status_detail"], article
    reliability.record(describe(article))


def test_page_redirect_to_a_port_not_allowed(tmp_path, site, reliability) -> None:
    with LocalSite() as internal:
        internal.route("/secret", b"<html><body>internal</body></html>", content_type="text/html")
        site.redirect(PAGE, internal.url("/secret"))
        article = run_page_case(tmp_path, site, reliability)
        assert internal.requests == [], internal.paths()
    assert article["status"] == "rejected" and "refused" in article["status_detail"], article
    reliability.record(describe(article) + "; the other server's log is empty")


def test_entry_links_to_private_addresses_are_refused(tmp_path, site, reliability) -> None:
    with LocalSite() as internal:
        internal.route("/secret", b"<html><body>internal</body></html>", content_type="text/html")
        site.route("/pages/good.html", article_page("Good neighbour"), content_type="text/html")
        targets = [internal.url("/secret"), "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x"]
        items = [Item(f"Private {i}", url, guid=f"p{i}") for i, url in enumerate(targets)]
        items.append(Item("Good neighbour", site.url("/pages/good.html"), guid="good"))
        site.route(FEED, rss(items), content_type="application/rss+xml")
        pipeline = Pipeline(tmp_path, site, feeds=[site.url(FEED)])
        outcome = pipeline.run()
        assert internal.requests == [], internal.paths()
    assert outcome.seconds < 30
    assert_control_healthy(outcome, pipeline.control_url, site)
    assert outcome.article(site.url("/pages/good.html"))["status"] == "fetched"
    refused = [outcome.article(url) for url in targets]
    for article in refused:
        assert article["status"] == "rejected" and "refused" in article["status_detail"], article
    reliability.record("; ".join(f"{a['url'].split('/')[2]}: {a['status_detail'][:50]}" for a in refused))
