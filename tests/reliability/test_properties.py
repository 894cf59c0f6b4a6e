"""Property-based checks the rest of the suite does not already make.

Already covered elsewhere (not repeated here): ``canonical_url`` idempotent and never raising
(tests/test_urls.py), the topic-language parser on arbitrary text and generated queries
(tests/test_topics_parser.py). Here: feed-entry identity through ``parse_feed`` on generated
feeds, and ``parse_feed`` on arbitrary bytes.
"""

from __future__ import annotations

from html import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.feeds import MAX_TITLE_CHARS, parse_feed
from tasks.urls import canonical_url

FEED_URL = "http://news.example/feed.xml"
XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=60,
)
LINKS = st.one_of(
    st.builds(lambda p: f"http://news.example/{p}", st.text("abc/?=&%#.-_~é", max_size=20)),
    st.sampled_from(["javascript:alert(1)", "data:text/html,x", "mailto:a@b", "", "/relative/path", "//cdn.example/x"]),
)
ENTRY = st.fixed_dictionaries(
    {"title": XML_TEXT, "link": LINKS, "guid": st.one_of(st.none(), XML_TEXT), "summary": XML_TEXT}
)


def build(entries: list[dict], atom: bool) -> bytes:
    if atom:
        items = "".join(
            f"<entry><title>{escape(e['title'])}</title><link href=\"{escape(e['link'])}\"/>"
            + (f"<id>{escape(e['guid'])}</id>" if e["guid"] is not None else "")
            + f"<summary>{escape(e['summary'])}</summary></entry>"
            for e in entries
        )
        return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{items}</feed>'.encode()
    items = "".join(
        f"<item><title>{escape(e['title'])}</title><link>{escape(e['link'])}</link>"
        + (f"<guid>{escape(e['guid'])}</guid>" if e["guid"] is not None else "")
        + f"<description>{escape(e['summary'])}</description></item>"
        for e in entries
    )
    return f"<rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENTRY, max_size=8), st.booleans())
def test_entry_identity_is_a_function_of_the_bytes(entries: list[dict], atom: bool) -> None:
    """150 generated RSS/Atom feeds: same bytes give the same ids, URLs, hashes; ids unique,
    links http(s), titles capped, every link canonicalises."""
    body = build(entries, atom)
    first, second = parse_feed(body, FEED_URL), parse_feed(body, FEED_URL)
    identity = [(e.entry_id, e.url, e.entry_hash) for e in first.entries]
    assert identity == [(e.entry_id, e.url, e.entry_hash) for e in second.entries]
    ids = [e.entry_id for e in first.entries]
    assert len(ids) == len(set(ids)), "entry ids must be unique within one fetch"
    for entry in first.entries:
        assert entry.url.startswith(("http://", "https://")), entry.url
        assert len(entry.title or "") <= MAX_TITLE_CHARS
        canonical_url(entry.url)  # every stored link canonicalises without raising
    assert len(first.entries) + len(first.skipped) <= len(entries)


@settings(max_examples=100, deadline=None)
@given(st.lists(ENTRY, min_size=1, max_size=5), st.integers(0, 4))
def test_editing_one_entry_changes_only_its_hash(entries: list[dict], which: int) -> None:
    """100 generated feeds: editing one entry's title changes that entry's hash and no other."""
    which %= len(entries)
    for index, entry in enumerate(entries):
        entry["guid"] = f"guid-{index}"
        entry["link"] = f"http://news.example/{index}"
    before = {e.entry_id: e.entry_hash for e in parse_feed(build(entries, False), FEED_URL).entries}
    entries[which] = {**entries[which], "title": entries[which]["title"] + " (updated)"}
    after = {e.entry_id: e.entry_hash for e in parse_feed(build(entries, False), FEED_URL).entries}
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {f"guid-{which}"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_feed_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    """200 arbitrary byte strings: parse_feed never raises; a non-feed always says why."""
    parsed = parse_feed(body, FEED_URL)
    assert parsed.is_feed or parsed.warning
    for entry in parsed.entries:
        assert entry.url.startswith(("http://", "https://"))


@settings(max_examples=100, deadline=None)
@given(st.lists(ENTRY, max_size=6), st.binary(max_size=40), st.integers(0, 2000))
def test_parse_feed_never_raises_on_damaged_feeds(entries: list[dict], junk: bytes, cut: int) -> None:
    """100 generated feeds cut short and followed by junk: never raises, same result twice."""
    body = build(entries, False)
    damaged = body[: cut % (len(body) + 1)] + junk
    parsed = parse_feed(damaged, FEED_URL)
    assert parsed.is_feed or parsed.warning
    assert parse_feed(damaged, FEED_URL).entries == parsed.entries
