"""extract_article: fallbacks, flags, metadata, decoding, size cap, and the HTML sniff."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.extract import (
    MAX_HTML_BYTES,
    MIN_TEXT_CHARS,
    Extracted,
    ExtractionInput,
    decode_html,
    extract_article,
    html_rejection_reason,
    looks_like_html,
)

PARAGRAPH = (
    "The committee heard evidence from officials about the funding of campaign groups "
    "by overseas donors, and about the rules that govern disclosure of such donations. "
)


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>A title</title>'
        f"{head}</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article><h1>A headline about donations</h1>{body}</article>"
        "<footer>Copyright Example News</footer></body></html>"
    )


ARTICLE = page("".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6)))


# -- the main path and the fallbacks ----------------------------------------------------

def test_a_normal_page_is_extracted_by_trafilatura_with_metadata() -> None:
    result = extract_article(ExtractionInput("https://news.example/a", ARTICLE.encode()))
    assert result.method == "trafilatura"
    assert "overseas donors" in result.text and "Copyright Example News" not in result.text
    assert len(result.text) >= MIN_TEXT_CHARS
    assert result.language == "en"
    assert result.flags == ()
    assert result.error is None


def test_content_hash_is_sha256_of_whitespace_collapsed_text() -> None:
    result = extract_article(ExtractionInput("https://news.example/a", ARTICLE))
    normalised = " ".join(result.text.split())
    assert result.content_hash == hashlib.sha256(normalised.encode()).hexdigest()
    assert "\n" in result.text  # the stored text keeps its paragraphs


def test_short_page_falls_back_to_the_feed_content_then_the_summary() -> None:
    short = page("<p>Watch the video.</p>")
    content = "<p>" + PARAGRAPH * 3 + "</p>"
    summary = PARAGRAPH * 2
    with_content = extract_article(
        ExtractionInput("https://news.example/v", short, entry_content=content, entry_summary=summary)
    )
    assert with_content.method == "feed-content"
    assert with_content.text.startswith("The committee heard evidence")
    only_summary = extract_article(
        ExtractionInput("https://news.example/v", short, entry_summary=summary)
    )
    assert only_summary.method == "feed-summary"
    assert only_summary.text == " ".join(summary.split())


def test_when_everything_is_short_the_longest_text_is_kept_and_flagged() -> None:
    result = extract_article(
        ExtractionInput("https://news.example/v", None, entry_summary="<b>Ministers meet</b> today.")
    )
    assert result.method == "feed-summary"
    assert result.text == "Ministers meet today."
    assert "short" in result.flags


def test_nothing_usable_gives_method_none_with_a_reason() -> None:
    result = extract_article(ExtractionInput("https://news.example/v", None))
    assert result.method == "none"
    assert result.text == ""
    assert result.error
    assert result.content_hash == hashlib.sha256(b"").hexdigest()


def test_a_page_much_shorter_than_the_feed_content_loses_to_it_and_is_flagged() -> None:
    teaser = page(f"<p>{PARAGRAPH}{PARAGRAPH}</p>")
    content = "".join(f"<p>{PARAGRAPH} Part {i}.</p>" for i in range(8))
    result = extract_article(ExtractionInput("https://news.example/t", teaser, entry_content=content))
    assert result.method == "feed-content"
    assert "truncated" in result.flags
    assert "Part 7." in result.text


def test_feed_content_html_becomes_text_with_entities_decoded_and_scripts_dropped() -> None:
    content = (
        "<div><p>Caf&eacute; owners &amp; staff said &ldquo;no&rdquo;.</p><script>track()</script>"
        "<ul><li>first point</li><li>second point</li></ul>" + f"<p>{PARAGRAPH}</p></div>"
    )
    result = extract_article(ExtractionInput("https://news.example/x", None, entry_content=content))
    assert result.method == "feed-content"
    assert result.text.splitlines()[:3] == [
        "Café owners & staff said \u201cno\u201d.", "first point", "second point",
    ]
    assert "track()" not in result.text


def test_a_page_that_is_not_html_is_rejected_with_a_reason_and_the_feed_used() -> None:
    result = extract_article(
        ExtractionInput("https://news.example/r.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
                        entry_summary=PARAGRAPH * 2)
    )
    assert result.method == "feed-summary"
    assert result.error == "not HTML (PDF document)"


# -- flags ------------------------------------------------------------------------------

def test_paywall_markers_in_json_ld_flag_the_page() -> None:
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", '
            '"isAccessibleForFree": false, "headline": "H"}</script>')
    result = extract_article(
        ExtractionInput("https://news.example/p", page(f"<p>{PARAGRAPH * 3}</p>", head=head))
    )
    assert "paywall" in result.flags


def test_paywall_phrase_flags_the_page() -> None:
    body = f"<p>{PARAGRAPH * 2}</p><div class='offer'><h2>Subscribe to continue reading</h2></div>"
    result = extract_article(ExtractionInput("https://news.example/p", page(body)))
    assert "paywall" in result.flags


def test_paywall_class_names_alone_do_not_flag_a_long_free_article() -> None:
    body = "".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(12))
    body += '<div id="piano-inline" class="paywall-placeholder"></div>'
    long_free = extract_article(ExtractionInput("https://news.example/p", page(body)))
    assert len(long_free.text) > 1500
    assert "paywall" not in long_free.flags
    short_body = f"<p>{PARAGRAPH * 2}</p>" + '<div class="paywall-placeholder"></div>'
    short = extract_article(ExtractionInput("https://news.example/p", page(short_body)))
    assert "paywall" in short.flags


def test_no_flags_for_an_article_that_mentions_subscriptions_in_passing() -> None:
    body = "".join(f"<p>{PARAGRAPH} Subscribers to the journal said so.</p>" for i in range(6))
    result = extract_article(ExtractionInput("https://news.example/p", page(body)))
    assert result.flags == ()


@pytest.mark.parametrize("ending", ["…", "...", "[…]", "Read more", "Continue reading »"])
def test_teaser_endings_are_flagged(ending: str) -> None:
    body = f"<p>{PARAGRAPH * 3} {ending}</p>"
    result = extract_article(ExtractionInput("https://news.example/t", page(body)))
    assert "teaser" in result.flags


# -- metadata ---------------------------------------------------------------------------

def test_canonical_url_is_made_absolute_and_preferred_over_og_url() -> None:
    head = ('<link rel="canonical" href="../story/42">'
            '<meta property="og:url" content="https://other.example/og">')
    result = extract_article(
        ExtractionInput("https://news.example/world/x/?utm_source=rss", page(f"<p>{PARAGRAPH * 3}</p>", head))
    )
    assert result.canonical_url == "https://news.example/world/story/42"


def test_og_url_is_used_without_rel_canonical_and_bad_schemes_are_ignored() -> None:
    og = extract_article(ExtractionInput(
        "https://news.example/a", page(f"<p>{PARAGRAPH * 3}</p>", '<meta property="og:url" content="/b">')
    ))
    assert og.canonical_url == "https://news.example/b"
    bad = extract_article(ExtractionInput(
        "https://news.example/a", page(f"<p>{PARAGRAPH * 3}</p>", '<link rel="canonical" href="javascript:x()">')
    ))
    assert bad.canonical_url is None


def test_published_at_is_aware_utc_from_json_ld() -> None:
    head = ('<script type="application/ld+json">{"@graph": [{"@type": "WebSite"}, '
            '{"@type": ["NewsArticle"], "datePublished": "2025-02-03T09:15:00-05:00", '
            '"author": {"name": "Jo Bloggs"}}]}</script>')
    result = extract_article(ExtractionInput("https://news.example/a", page(f"<p>{PARAGRAPH * 3}</p>", head)))
    assert result.published_at == datetime(2025, 2, 3, 14, 15, tzinfo=UTC)
    assert result.author == "Jo Bloggs"


def test_broken_json_ld_is_ignored() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": </script>'
    result = extract_article(ExtractionInput("https://news.example/a", page(f"<p>{PARAGRAPH * 3}</p>", head)))
    assert result.method == "trafilatura"


def test_language_falls_back_to_the_html_lang_attribute_primary_subtag() -> None:
    result = extract_article(
        ExtractionInput("https://news.example/a", page(f"<p>{PARAGRAPH * 3}</p>", lang="pt-BR"))
    )
    assert result.language == "pt"


def test_title_falls_back_to_the_entry_title_without_a_page() -> None:
    result = extract_article(ExtractionInput("https://x.example/a", None, entry_title=" Entry  title "))
    assert result.title == "Entry title"


# -- decoding ---------------------------------------------------------------------------

@pytest.mark.parametrize("header_charset", ["utf-8", None])
def test_latin1_bytes_with_a_wrong_or_missing_charset_decode_right(header_charset) -> None:
    html = page(f"<p>{PARAGRAPH} Le café de Zürich était fermé.</p>" * 2)
    html = html.replace('<meta charset="utf-8">', "").encode("latin-1")
    result = extract_article(ExtractionInput("https://news.example/a", html, charset=header_charset))
    assert "Le café de Zürich était fermé." in result.text
    assert "\ufffd" not in result.text


def test_meta_charset_is_used_when_the_header_has_none() -> None:
    html = page(f"<p>{PARAGRAPH} Привет, мир.</p>" * 2).replace('charset="utf-8"', 'charset="windows-1251"')
    result = extract_article(ExtractionInput("https://news.example/a", html.encode("cp1251")))
    assert "Привет, мир." in result.text


def test_utf16_pages_with_a_byte_order_mark_are_read() -> None:
    html = page(f"<p>{PARAGRAPH * 3} Zürich.</p>").encode("utf-16")
    assert looks_like_html(html, "text/html")
    result = extract_article(ExtractionInput("https://news.example/a", html))
    assert "Zürich." in result.text


def test_valid_utf8_wins_over_a_wrong_latin1_label() -> None:
    text, encoding = decode_html("<p>Zürich café</p>".encode(), "iso-8859-1")
    assert (text, encoding) == ("<p>Zürich café</p>", "utf-8")


def test_an_undeclared_legacy_page_is_detected_not_read_as_windows_1252() -> None:
    # Before: an EUC-JP page without a charset came out as mojibake ("ÆüËÜ¸ì").
    sentence = "政府は本日、物価高に対応する新しい経済対策を発表した。"
    body = f"<html><body><p>{sentence}</p></body></html>".encode("euc-jp")
    text, encoding = decode_html(body, None)
    assert sentence in text and encoding.startswith("euc")
    latin = "<html><body><p>Un café à Paris, déjà complet.</p></body></html>"
    assert decode_html(latin.encode("cp1252"), None) == (latin, "cp1252")


def test_invalid_utf8_does_not_crash() -> None:
    body = ("<html><body><p>" + "naïve déjà vu " * 40 + "</p></body></html>").encode() + b"\xff\xfe\xc3"
    text, encoding = decode_html(body, "utf-8")
    assert encoding == "utf-8" and "naïve" in text
    result = extract_article(ExtractionInput("https://news.example/a", body, charset="no-such-charset"))
    assert isinstance(result, Extracted)
    assert "naïve déjà vu" in result.text


# -- bounds -----------------------------------------------------------------------------

def test_a_huge_page_is_truncated_and_flagged() -> None:
    cap = 16 * 1024
    filler = "".join(f"<div class='junk'><a href='/l{i}'>link {i}</a></div>" for i in range(800))
    html = page(f"<p>{PARAGRAPH * 3}</p>" + filler + "<p>THE END OF THE PAGE</p>")
    assert len(html) > 2 * cap
    for body in (html.encode(), html):
        result = extract_article(ExtractionInput("https://news.example/a", body), max_html_bytes=cap)
        assert "html-truncated" in result.flags
        assert "overseas donors" in result.text
    untouched = extract_article(ExtractionInput("https://news.example/a", html.encode()))
    assert "html-truncated" not in untouched.flags


def test_a_page_over_the_default_cap_is_truncated() -> None:
    html = page(f"<p>{PARAGRAPH * 3}</p>" + "<!-- padding -->" * (MAX_HTML_BYTES // 16 + 10))
    result = extract_article(ExtractionInput("https://news.example/a", html.encode()))
    assert "html-truncated" in result.flags
    assert "overseas donors" in result.text


def test_the_default_html_cap_is_a_few_megabytes() -> None:
    assert 1_000_000 <= MAX_HTML_BYTES <= 20_000_000


def test_extraction_never_raises_on_garbage() -> None:
    for body in [b"<", b"<html>", "<html><body>\x00\x01</body></html>", b"<?xml version='1.0'?><x/>",
                 "<?xml version='1.0' encoding='utf-8'?><html><body><p>x</p></body></html>",
                 b"<html>" + b"<div>" * 5000 + b"deep" + b"</div>" * 5000 + b"</html>"]:
        result = extract_article(ExtractionInput("https://news.example/a", body))
        assert isinstance(result, Extracted)


# -- the HTML sniff -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"%PDF-1.4\n", "text/html"),                      # mislabelled PDF
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
        (b'{"items": [{"title": "x"}]}', "application/json"),
        (b'  [{"title": "<b>x</b>"}]', None),
        (b"", "text/html"),
        (b"   \n\t ", None),
        (b"GIF89a\x01\x00", None),
        (b"<html><body>x</body></html>", "image/jpeg"),
        (b"just some plain text, no markup at all", "text/plain"),
    ],
)
def test_non_html_is_rejected(body: bytes, content_type: str | None) -> None:
    assert looks_like_html(body, content_type) is False
    assert html_rejection_reason(body, content_type).startswith("not HTML")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE html><html><head></head><body></body></html>", "text/html; charset=utf-8"),
        (b"\xef\xbb\xbf<!doctype html><html>", None),
        (b"\n\n  <html lang='en'><body><p>x</p></body></html>", "application/octet-stream"),
        (b"<div class='story'><p>Hello</p></div>", "text/plain"),
        (b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><body/></html>",
         "application/xhtml+xml"),
    ],
)
def test_html_is_accepted(body: bytes, content_type: str | None) -> None:
    assert looks_like_html(body, content_type) is True


def test_paywall_phrases_are_found_in_any_case_and_not_in_ordinary_prose() -> None:
    from tasks.extraction.page import paywall_phrase

    assert paywall_phrase("Home News SUBSCRIBE TO CONTINUE READING today") == "subscribe to continue reading"
    assert paywall_phrase("You have reached your free article limit.") is not None
    assert paywall_phrase("Subscribe to our newsletter. Readers kept reading the limits of power.") is None


def test_importing_the_module_loads_neither_prefect_nor_trafilatura() -> None:
    code = "import sys, tasks.extract; print('prefect' in sys.modules, 'trafilatura' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]
