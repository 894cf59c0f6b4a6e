"""Hostile feeds, one case each: served on 127.0.0.1 beside a healthy control feed.

Each case asserts that the pass finishes within its bound, memory stays bounded, the
failure is recorded on the feed with a clear status (as ``newswatch feeds --format json``
shows it), the control feed and its articles are processed normally, and nothing was
fetched that should not have been.
"""

from __future__ import annotations

import pytest

from tests.reliability.harness import (
    CONTROL_FEED,
    CONTROL_PAGES,
    Item,
    Pipeline,
    assert_control_healthy,
    requested_paths,
    rss,
    serve_articles,
)
from tests.support.httpserver import LocalSite, Reply, gzip_bomb, zero_stream

FEED = "/hostile/feed.xml"
RSS_TYPE = "application/rss+xml"
MEMORY_MB = 300  # peak resident growth of the process tree (incl. 2 extractor workers) for one pass


@pytest.fixture
def site():
    with LocalSite() as server:
        yield server


def run_case(tmp_path, site, reliability, *, feeds=(FEED,), bound=20.0, memory=MEMORY_MB, **fetch):
    pipeline = Pipeline(tmp_path, site, feeds=[site.url(f) for f in feeds], fetch=fetch)
    outcome = pipeline.run()
    assert outcome.seconds < bound, f"pass took {outcome.seconds:.1f}s (bound {bound}s)"
    growth = reliability.peak_growth_mb()
    assert growth < memory, f"peak memory grew {growth:.0f} MB (bound {memory} MB)"
    assert_control_healthy(outcome, pipeline.control_url, site)
    return outcome


def expected_paths(*extra: str) -> set[str]:
    return {CONTROL_FEED, *CONTROL_PAGES, *extra}


def describe(feed: dict) -> str:
    detail = feed.get("last_error") or feed.get("warning") or ""
    return f"feed {feed['status']!r} ({feed['outcome']})" + (f": {detail[:80]}" if detail else "")


def test_malformed_xml_keeps_the_entries_that_parse(tmp_path, site, reliability) -> None:
    items = serve_articles(site, "/m", 2)
    body = rss(items).replace(b"</channel>", b"<item><title>broken & bad</title></channel>")
    site.route(FEED, body, content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "ok" and "malformed" in (feed["warning"] or ""), feed
    assert sorted(a["status"] for a in outcome.articles_of(site.url(FEED))) == ["fetched", "fetched"]
    reliability.record(describe(feed) + "; its 2 good entries extracted")


def test_truncated_xml(tmp_path, site, reliability) -> None:
    items = serve_articles(site, "/t", 3)
    body = rss(items)
    site.route(FEED, body[: body.index(b"/t/2.html") - 20], content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "ok" and "malformed" in (feed["warning"] or ""), feed
    kept = outcome.articles_of(site.url(FEED))
    assert {a["status"] for a in kept} == {"fetched"} and len(kept) >= 1
    assert "/t/2.html" not in requested_paths(site)
    reliability.record(describe(feed) + f"; {len(kept)} complete entries kept")


def test_html_page_served_as_a_feed(tmp_path, site, reliability) -> None:
    site.route(FEED, b"<!DOCTYPE html><html><body><a href='/x'>news</a></body></html>",
               content_type="text/html")
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "permanent" and feed["status"] == "not a feed", feed
    assert "HTML" in (feed["last_error"] or "") + (feed["warning"] or ""), feed
    assert requested_paths(site) == expected_paths(FEED)
    reliability.record(describe(feed))


def test_ten_thousand_entries_are_read_up_to_the_cap(tmp_path, site, reliability) -> None:
    from tasks.feeds import MAX_ENTRIES

    # Links to one path with distinct queries would be distinct articles; point them all
    # at a page that does not exist so the cost is in parsing and storing, not extraction.
    items = [Item(f"Entry {i}", site.url(f"/big/{i}.html"), guid=f"g{i}") for i in range(10_000)]
    site.route(FEED, rss(items), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability, bound=120.0)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "ok", feed
    stored = outcome.articles_of(site.url(FEED))
    assert len(stored) == MAX_ENTRIES, len(stored)
    assert {a["status"] for a in stored} == {"failed"}  # every page answers 404
    assert all(a["status_detail"] == "HTTP 404" for a in stored)
    reliability.record(
        f"{describe(feed)}; {len(stored)} of 10000 entries stored (cap), {outcome.seconds:.0f}s"
    )


def test_entries_without_links_or_with_script_links_are_skipped(tmp_path, site, reliability) -> None:
    good = serve_articles(site, "/l", 1)
    items = [
        *good,
        Item("No link at all", None, guid="nolink"),
        Item("Script link", "javascript:alert(document.cookie)", guid="js"),
        Item("Data link", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", guid="data"),
        Item("Mail link", "mailto:someone@example.org", guid="mail"),
    ]
    site.route(FEED, rss(items), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "ok" and "no usable link" in (feed["warning"] or ""), feed
    stored = outcome.articles_of(site.url(FEED))
    assert [a["url"] for a in stored] == [good[0].link] and stored[0]["status"] == "fetched"
    assert all(a["url"].startswith("http") for a in outcome.articles)
    assert requested_paths(site) == expected_paths(FEED, "/l/0.html")
    reliability.record(describe(feed) + "; 4 of 5 entries skipped, the linked one extracted")


def test_huge_titles_are_capped(tmp_path, site, reliability) -> None:
    from tasks.feeds import MAX_TITLE_CHARS

    items = serve_articles(site, "/h", 2)
    items[0].title = "Enormous " + "title " * 17_000  # ~100 KB
    items[0].description = "x" * 100_000
    site.route(FEED, rss(items), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    stored = outcome.articles_of(site.url(FEED))
    assert {a["status"] for a in stored} == {"fetched"} and len(stored) == 2
    for article in stored:
        assert all(len(s["entry_title"] or "") <= MAX_TITLE_CHARS for s in article["sources"])
        assert len(article["title"] or "") <= MAX_TITLE_CHARS
    reliability.record(f"100 KB title stored as <= {MAX_TITLE_CHARS} chars; both entries extracted")


def test_script_and_html_in_titles_are_stored_as_text(tmp_path, site, reliability) -> None:
    items = serve_articles(site, "/s", 1)
    items[0].title = "<![CDATA[Budget <script>alert(1)</script> <b>vote</b> <img src=x onerror=alert(2)>]]>"
    items[0].raw_title = True
    site.route(FEED, rss(items), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    (article,) = outcome.articles_of(site.url(FEED))
    entry_title = article["sources"][0]["entry_title"]
    assert "Budget" in entry_title and "vote" in entry_title, entry_title
    for hostile in ("<script", "<img", "onerror", "<b>"):
        assert hostile not in entry_title, entry_title
    reliability.record(f"entry title stored as text: {entry_title!r}")


def test_duplicate_guids_keep_the_first_entry(tmp_path, site, reliability) -> None:
    items = serve_articles(site, "/d", 3)
    for item in items:
        item.guid = "same-guid"
    site.route(FEED, rss(items), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    stored = outcome.articles_of(site.url(FEED))
    assert len(stored) == 1 and stored[0]["status"] == "fetched", stored
    assert "duplicate id" in (feed["warning"] or ""), feed
    assert len([p for p in site.paths() if p.startswith("/d/")]) == 1
    reliability.record(describe(feed) + "; 1 article stored for 3 entries sharing a GUID")


def test_wrong_charset_declaration(tmp_path, site, reliability) -> None:
    items = serve_articles(site, "/c", 1)
    items[0].title = "Café société à Zürich"
    body = rss(items, encoding="iso-8859-1")  # bytes in latin-1…
    site.route(FEED, body, content_type="application/rss+xml; charset=utf-8")  # …labelled utf-8
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    (article,) = outcome.articles_of(site.url(FEED))
    assert feed["outcome"] == "ok" and article["status"] == "fetched", (feed, article)
    title = article["sources"][0]["entry_title"]
    assert title.startswith("Caf") and "Z" in title, title
    reliability.record(describe(feed) + f"; title kept as {title!r}")


def test_missing_charset_and_invalid_utf8(tmp_path, site, reliability) -> None:
    items = serve_articles(site, "/u", 2)
    body = rss(items, encoding=None).replace(b"Story 0", b"Story \xff\xfe 0")
    site.route(FEED, body, content_type="application/rss+xml")
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    stored = outcome.articles_of(site.url(FEED))
    assert {a["status"] for a in stored} == {"fetched"} and len(stored) == 2, (feed, stored)
    reliability.record(describe(feed) + "; both entries extracted")


def test_gzip_bomb(tmp_path, site, reliability) -> None:
    site.route(FEED, gzip_bomb(256 * 2**20), content_type=RSS_TYPE,
               headers={"Content-Encoding": "gzip"})
    outcome = run_case(tmp_path, site, reliability, max_bytes=5 * 2**20)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "rejected" and "too large" in feed["status"], feed
    reliability.record(describe(feed) + "; 256 MB of zeros (260 KB gzipped) stopped at the 5 MB cap")


def test_xml_entity_expansion_is_not_expanded(tmp_path, site, reliability) -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" * 1}' + f'{("&lol" + str(i - 1) + ";") * 9}">'
        for i in range(1, 10)
    )
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">' + entities + "]>"
        "<rss version='2.0'><channel><title>&lol9;</title><item><title>&lol9;</title>"
        f"<link>{site.url('/b/0.html')}</link></item></channel></rss>"
    ).encode()
    site.route("/b/0.html", b"<html><body><p>short</p></body></html>", content_type="text/html")
    site.route(FEED, body, content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability, bound=15)
    feed = outcome.feed(site.url(FEED))
    titles = [s["entry_title"] or "" for a in outcome.articles_of(site.url(FEED)) for s in a["sources"]]
    assert all(len(t) < 10_000 for t in titles), [len(t) for t in titles]
    reliability.record(describe(feed) + f"; {len(titles)} entries, no expansion (titles <= {max(map(len, titles), default=0)} chars)")


def test_entity_amplification_under_expat_limit_stays_bounded(tmp_path, site, reliability) -> None:
    # expat stops "billion laughs" nesting, but allows up to 100x amplification: one 240-char
    # entity referenced 200,000 times (a 0.6 MB body) is 48 MB of entry text, which feedparser
    # receives one callback per reference and keeps in several copies.
    items = serve_articles(site, "/amp", 1)
    items[0].description = "EXPANDS-HERE"
    declaration = '<!DOCTYPE rss [<!ENTITY e "' + "lol " * 60 + '">]>'
    body = rss(items).replace(b"<rss", declaration.encode() + b"<rss", 1)
    body = body.replace(b"EXPANDS-HERE", b"&e;" * 200_000)
    site.route(FEED, body, content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability, bound=30)
    feed = outcome.feed(site.url(FEED))
    reliability.record(describe(feed) + f"; {len(body) // 1024} KB body, pass {outcome.seconds:.0f}s")


def test_fifty_megabyte_body_stops_at_the_cap(tmp_path, site, reliability) -> None:
    site.route(FEED, content_type=RSS_TYPE, stream=zero_stream(50 * 2**20), declared_length=50 * 2**20)
    outcome = run_case(tmp_path, site, reliability, max_bytes=5 * 2**20)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "rejected" and "too large" in feed["status"], feed
    reliability.record(describe(feed))


def test_one_byte_a_second_is_cut_at_the_deadline(tmp_path, site, reliability) -> None:
    site.drip(FEED, rss(serve_articles(site, "/slow", 1)), bytes_per_second=1, content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability, timeout_seconds=3, bound=15)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "transient" and feed["status"] == "timeout", feed
    assert "/slow/0.html" not in requested_paths(site)
    reliability.record(describe(feed) + f"; pass {outcome.seconds:.1f}s with a 3 s deadline")


def test_redirect_loop(tmp_path, site, reliability) -> None:
    site.redirect(FEED, "/loop/b")
    site.redirect("/loop/b", FEED)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] in ("permanent", "rejected") and "redirect" in feed["status"], feed
    assert len(site.requests_for(FEED)) <= 2 and len(site.requests_for("/loop/b")) <= 1
    reliability.record(describe(feed) + f"; {len(site.requests_for(FEED)) + len(site.requests_for('/loop/b'))} requests")


def test_redirect_chain_longer_than_the_cap(tmp_path, site, reliability) -> None:
    for hop in range(10):
        site.redirect("/chain/0" if hop == 0 else f"/chain/{hop}", f"/chain/{hop + 1}")
    site.route("/chain/10", rss([]), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability, feeds=("/chain/0",), max_redirects=3)
    feed = outcome.feed(site.url("/chain/0"))
    assert feed["outcome"] in ("permanent", "rejected") and "redirect" in feed["status"], feed
    asked = sorted(p for p in requested_paths(site) if p.startswith("/chain/"))
    assert asked == ["/chain/0", "/chain/1", "/chain/2", "/chain/3"], asked
    reliability.record(describe(feed) + f"; followed {len(asked) - 1} hops (cap 3), /chain/4.. never asked")


def test_redirect_to_a_loopback_port_not_allowed(tmp_path, site, reliability) -> None:
    with LocalSite() as internal:
        internal.route("/admin/feed.xml", rss([]), content_type=RSS_TYPE)
        site.redirect(FEED, internal.url("/admin/feed.xml"))
        outcome = run_case(tmp_path, site, reliability)
        feed = outcome.feed(site.url(FEED))
        assert feed["outcome"] == "rejected" and feed["status"].startswith("refused"), feed
        assert internal.requests == [], internal.paths()
    reliability.record(describe(feed) + "; the other server's log is empty")


@pytest.mark.parametrize(
    ("name", "reply", "outcome_expected", "status_expected"),
    [
        ("403 bot wall", Reply(403, b"<html><title>Just a moment...</title>cf-chl</html>",
                                headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
                                content_type="text/html"), "permanent", "blocked by bot protection"),
        ("429 Retry-After", Reply(429, b"slow down", headers={"Retry-After": "7200"}),
         "transient", "rate limited"),
        ("500", Reply(500, b"oops"), "transient", "HTTP 500"),
    ],
)
def test_error_statuses(tmp_path, site, reliability, name, reply, outcome_expected, status_expected) -> None:
    site.route(FEED, handler=lambda _request: reply)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == outcome_expected and feed["status"].startswith(status_expected), feed
    if name.startswith("429"):
        from datetime import datetime

        fetched = datetime.fromisoformat(feed["last_fetched_at"].replace("Z", "+00:00"))
        after = datetime.fromisoformat(feed["next_poll_at"].replace("Z", "+00:00"))
        assert (after - fetched).total_seconds() >= 7200 - 5, (fetched, after)
    assert len(site.requests_for(FEED)) == 1
    reliability.record(describe(feed) + f"; next poll {feed['next_poll_at']}")


def test_connection_reset(tmp_path, site, reliability) -> None:
    site.reset(FEED, after_bytes=100, body=rss(serve_articles(site, "/r", 1)), content_type=RSS_TYPE)
    outcome = run_case(tmp_path, site, reliability)
    feed = outcome.feed(site.url(FEED))
    assert feed["outcome"] == "transient" and "connection" in feed["status"], feed
    assert "/r/0.html" not in requested_paths(site)
    reliability.record(describe(feed))
