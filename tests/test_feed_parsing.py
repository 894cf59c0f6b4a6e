"""Parsing feed bytes: entries, identity, broken feeds and hostile entries."""

from __future__ import annotations

import pytest

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


# Valid feeds that used to get a wrong answer (each assertion failed before the fix) -----

EMPTY_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Quiet desk</title><link>https://example.org/</link>
<description>Nothing published yet</description></channel></rss>"""


def test_a_valid_empty_feed_served_as_text_plain_is_a_feed_with_a_warning() -> None:
    # Before: "not a feed: no RSS or Atom content", a permanent failure with backoff.
    parsed = parse_feed(EMPTY_RSS, "https://example.org/feed.xml", {"content-type": "text/plain"})
    assert parsed.is_feed and parsed.entries == [] and parsed.title == "Quiet desk"
    assert parsed.warning == "served with a mismatched type or encoding: text/plain is not an XML media type"
    with_one = EMPTY_RSS.replace(b"</channel>", b"<item><title>One</title><link>https://example.org/1</link></item></channel>")
    one = parse_feed(with_one, "https://example.org/feed.xml", {"content-type": "text/plain"})
    assert one.is_feed and len(one.entries) == 1 and one.warning == parsed.warning


def test_a_truncated_feed_without_entries_is_still_not_a_feed() -> None:
    parsed = parse_feed(EMPTY_RSS[:120], "https://example.org/feed.xml", {"content-type": "application/rss+xml"})
    assert not parsed.is_feed and parsed.warning == "not a feed: no RSS or Atom content"


GUIDS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Guids</title>
<item><title>Words</title><guid>Correct Value</guid></item>
<item><title>A word</title><guid isPermaLink="true">right</guid></item>
<item><title>Permalink</title><guid>https://example.org/news/permalink</guid></item>
<item><title>Not a permalink</title><guid isPermaLink="false">https://example.org/news/id-only</guid></item>
<item><title>Relative link</title><link>/news/relative</link><guid>right-2</guid></item>
<item><title>Spaced link</title><link>https://example.org/news/a b</link></item>
<item><title>Spaced relative</title><link>Correct Value</link></item>
</channel></rss>"""


def test_only_absolute_links_or_absolute_permalink_guids_are_fetched() -> None:
    # Before: "Correct Value" became https://example.org/Correct Value (a raw space) and was fetched.
    parsed = parse_feed(GUIDS, "https://example.org/feed.xml")
    assert [(e.title, e.url) for e in parsed.entries] == [
        ("Permalink", "https://example.org/news/permalink"),
        ("Relative link", "https://example.org/news/relative"),
        ("Spaced link", "https://example.org/news/a%20b"),
    ]
    assert all(" " not in e.url for e in parsed.entries)
    skipped = " | ".join(parsed.skipped)
    for title in ("Words", "A word", "Not a permalink", "Spaced relative"):
        assert f"entry '{title}': no usable link" in skipped


def test_plain_text_titles_keep_what_looks_like_a_tag() -> None:
    # Before: "Vector<int> and a < b" was stored as "Vector and a < b".
    rss = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>C++ &amp; you</title>
<item><title>Vector&lt;int&gt; and a &lt; b</title><link>https://example.org/1</link></item>
<item><title>First &lt;b&gt;story&lt;/b&gt; &amp;amp; more</title><link>https://example.org/2</link></item>
<item><title>Use &amp;lt;br&amp;gt; for breaks</title><link>https://example.org/3</link></item>
</channel></rss>"""
    titles = [e.title for e in parse_feed(rss, "https://example.org/feed.xml").entries]
    assert titles == ["Vector<int> and a < b", "First story & more", "Use <br> for breaks"]
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">List&lt;String&gt; news</title>
<entry><title type="text">Map&lt;K, V&gt; &amp;amp; friends</title><id>urn:1</id><link href="https://example.org/a"/></entry>
<entry><title type="html">&lt;em&gt;Big&lt;/em&gt; &amp;amp; bold</title><id>urn:2</id><link href="https://example.org/b"/></entry>
</feed>"""
    parsed = parse_feed(atom, "https://example.org/atom.xml")
    assert parsed.title == "List<String> news"
    assert [e.title for e in parsed.entries] == ["Map<K, V> &amp; friends", "Big & bold"]


JAPANESE_TITLE = "東京で新しい経済対策が発表されました"
JAPANESE_SUMMARY = "政府は本日、物価高に対応する新しい経済対策を発表した。"


def legacy_feed(encoding: str, title: str, summary: str) -> bytes:
    text = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>' + title + "</title>"
        "<link>https://example.jp/</link><item><title>" + title + "</title>"
        "<link>https://example.jp/1</link><description>" + summary + "</description></item></channel></rss>"
    )
    return text.encode(encoding)


@pytest.mark.parametrize(
    ("encoding", "title", "summary"),
    [
        ("euc-jp", JAPANESE_TITLE, JAPANESE_SUMMARY),
        ("shift_jis", JAPANESE_TITLE, JAPANESE_SUMMARY),
        ("gb18030", "北京发布新的经济刺激政策", "政府今天宣布了新的经济刺激计划。"),
        ("euc-kr", "서울에서 새로운 경제 정책 발표", "정부는 오늘 새로운 경제 대책을 발표했다."),
        ("windows-1251", "Правительство объявило новые меры", "Сегодня правительство объявило о новых мерах."),
    ],
    ids=["euc-jp", "shift_jis", "gb18030", "euc-kr", "windows-1251"],
)
@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", None])
def test_undeclared_legacy_encodings_are_detected(
    encoding: str, title: str, summary: str, content_type: str | None
) -> None:
    # Before: read as windows-1252 and stored as mojibake ("Åìµþ¤Ç¿·¤·¤¤…").
    headers = {"content-type": content_type} if content_type else {}
    parsed = parse_feed(legacy_feed(encoding, title, summary), "https://example.jp/feed.xml", headers)
    [entry] = parsed.entries
    assert (parsed.title, entry.title, entry.summary) == (title, title, summary)
    assert parsed.warning is not None and "no encoding declared; read as" in parsed.warning


def test_western_legacy_feeds_still_read_as_windows_1252() -> None:
    for title in ("Café à Paris", "Élection présidentielle : les résultats — «très serrés»",
                  "Bundesregierung beschließt Maßnahmen für Ärzte"):
        parsed = parse_feed(legacy_feed("cp1252", title, title), "https://example.org/feed.xml")
        assert parsed.entries[0].title == title
        assert parsed.warning == "no encoding declared; read as cp1252 (detected)"


def test_declared_encodings_and_utf8_are_read_as_they_say() -> None:
    declared = legacy_feed("euc-jp", JAPANESE_TITLE, JAPANESE_SUMMARY).replace(
        b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="EUC-JP"?>'
    )
    parsed = parse_feed(declared, "https://example.jp/feed.xml")
    assert parsed.entries[0].title == JAPANESE_TITLE and parsed.warning is None
    utf8 = parse_feed(legacy_feed("utf-8", JAPANESE_TITLE, JAPANESE_SUMMARY), "https://example.jp/feed.xml")
    assert utf8.entries[0].title == JAPANESE_TITLE and utf8.warning is None
    by_header = parse_feed(legacy_feed("shift_jis", JAPANESE_TITLE, JAPANESE_SUMMARY), "https://example.jp/feed.xml",
                           {"content-type": "application/rss+xml; charset=shift_jis"})
    assert by_header.entries[0].title == JAPANESE_TITLE and by_header.warning is None
