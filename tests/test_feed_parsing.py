"""Parsing feed bytes: entries, identity, broken feeds and hostile entries."""

from __future__ import annotations

from tasks.feeds import parse_feed, plain_text, usable_link

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Example &amp; Co</title><ttl>30</ttl>
<item><title>First &lt;b&gt;story&lt;/b&gt;</title><link>/news/1?utm_source=rss</link><guid>id-1</guid>
  <pubDate>Tue, 10 Nov 2026 10:00:00 GMT</pubDate><description>&lt;p&gt;Summary one&lt;/p&gt;</description></item>
<item><title>Without link</title><description>no link here</description></item>
<item><title>Script link</title><link>javascript:alert(1)</link></item>
<item><title>Data link</title><link>data:text/html,hi</link></item>
<item><title>Repeat</title><link>https://example.org/news/2</link><guid>id-1</guid></item>
<item><title>No guid</title><link>https://example.org/news/3</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom example</title><id>urn:x</id>
<updated>2026-11-10T10:00:00Z</updated>
<entry><title>Atom entry</title><id>urn:entry:1</id><link rel="alternate" href="https://example.org/a/1"/>
<updated>2026-11-10T09:00:00Z</updated><content type="html">&lt;p&gt;Full body of the entry&lt;/p&gt;</content></entry>
</feed>"""


def test_rss_entries_keep_identity_and_skip_unusable_links() -> None:
    parsed = parse_feed(RSS, "https://example.org/feed.xml")
    assert parsed.is_feed and parsed.title == "Example & Co"
    assert [e.entry_id for e in parsed.entries] == ["id-1", "https://example.org/news/3"]
    first = parsed.entries[0]
    assert first.url == "https://example.org/news/1?utm_source=rss"  # kept as listed
    assert first.title == "First story"
    assert first.summary == "Summary one"
    assert first.published_at is not None and first.published_at.isoformat() == "2026-11-10T10:00:00+00:00"
    assert parsed.ttl_minutes == 30
    reasons = " | ".join(parsed.skipped)
    assert "Without link" in reasons and "Script link" in reasons and "Data link" in reasons
    assert "duplicate id" in reasons


def test_atom_entry_content_is_kept_for_the_fallback() -> None:
    parsed = parse_feed(ATOM, "https://example.org/atom.xml")
    [entry] = parsed.entries
    assert entry.entry_id == "urn:entry:1" and entry.url == "https://example.org/a/1"
    assert entry.content is not None and "Full body of the entry" in entry.content


def test_entry_hash_changes_when_the_entry_is_edited() -> None:
    before = parse_feed(ATOM, "https://example.org/atom.xml").entries[0]
    after = parse_feed(ATOM.replace(b"Atom entry", b"Atom entry, updated"), "https://example.org/atom.xml").entries[0]
    assert before.entry_id == after.entry_id and before.entry_hash != after.entry_hash


def test_truncated_feed_keeps_what_parses_with_a_warning() -> None:
    truncated = RSS[: RSS.index(b"<item><title>Script")]
    parsed = parse_feed(truncated, "https://example.org/feed.xml")
    assert parsed.is_feed
    assert [e.entry_id for e in parsed.entries] == ["id-1"]
    assert parsed.warning and parsed.warning.startswith("malformed feed")


def test_html_page_is_not_a_feed() -> None:
    parsed = parse_feed(b"<!DOCTYPE html><html><body><p>Just a page</p></body></html>", "https://x.org/")
    assert not parsed.is_feed and parsed.warning == "not a feed: an HTML page"


def test_garbage_is_not_a_feed_and_does_not_raise() -> None:
    for body in (b"", b"\x00\xff\xfe garbage", b"{\"json\": true}"):
        assert not parse_feed(body, "https://x.org/").is_feed


def test_huge_titles_are_capped_and_markup_removed() -> None:
    title = "<script>alert(1)</script>" + "A" * 100_000
    body = RSS.replace(b"First &lt;b&gt;story&lt;/b&gt;", title.replace("<", "&lt;").encode())
    entry = parse_feed(body, "https://example.org/feed.xml").entries[0]
    assert entry.title is not None and len(entry.title) <= 1000 and "<script>" not in entry.title


def test_usable_link_and_plain_text_helpers() -> None:
    assert usable_link(" /a ", "https://h.org/feed") == "https://h.org/a"
    assert usable_link("mailto:x@y.org", "https://h.org/") is None
    assert usable_link("https://" + "a" * 3000 + ".org/", "https://h.org/") is None
    assert plain_text("<p>a &amp;  b</p>", 100) == "a & b"
    assert plain_text("", 10) is None
