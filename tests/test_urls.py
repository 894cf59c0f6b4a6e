"""canonical_url and story_url_key: examples, then properties (idempotent, never raises)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.urls import canonical_url, is_tracking_param, story_url_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Example.COM", "https://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=rss&id=7&utm_medium=feed&fbclid=x",
            "https://example.com/a?id=7",
        ),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?gclid=1&mc_cid=2&mc_eid=3&ocid=4&cmpid=5", "https://example.com/a"),
        ("https://www.bbc.co.uk/news/x?at_medium=RSS&at_campaign=KARANGA", "https://www.bbc.co.uk/news/x"),
        ("https://example.com/Path/Case?Q=Keep", "https://example.com/Path/Case?Q=Keep"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://[::1]:443/a", "https://[::1]/a"),
        ("https://example.com/a?&&x=1&", "https://example.com/a?x=1"),
        ("https://example.com/a?q=%20b", "https://example.com/a?q=%20b"),
    ],
)
def test_canonical_url_examples(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(
    "raw", ["not a url", "", "   ", "HTTP: ?", "mailto:a@example.com", "ftp://example.com/x", "https://ex.com:abc/x",
            "https://[::1/x", "//example.com/a"],
)
def test_canonical_url_leaves_what_it_cannot_parse_stripped(raw: str) -> None:
    assert canonical_url(raw) == raw.strip()


def test_tracking_parameter_names() -> None:
    assert is_tracking_param("utm_campaign")
    assert is_tracking_param("UTM_Source")
    assert is_tracking_param("fbclid")
    assert not is_tracking_param("id")
    assert not is_tracking_param("page")


@pytest.mark.parametrize(
    "variant",
    [
        "https://example.com/news/trade-deal",
        "http://www.example.com/news/trade-deal/",
        "https://m.example.com/news/trade-deal",
        "https://mobile.example.com/news/trade-deal?utm_source=twitter",
        "https://amp.example.com/news/trade-deal",
        "https://www.example.com/amp/news/trade-deal",
        "https://www.example.com/news/trade-deal/amp/",
        "https://www.example.com/news/trade-deal.amp",
        "https://www.example.com/news/trade-deal?amp",
        "https://www.example.com/news/trade-deal?amp=1",
        "https://www.example.com/news/trade-deal?outputType=amp",
        "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/trade-deal",
        "https://www.example.com/news/trade-deal#comments",
    ],
)
def test_story_url_key_unifies_variants(variant: str) -> None:
    assert story_url_key(variant) == "example.com/news/trade-deal"


def test_story_url_key_keeps_different_articles_apart() -> None:
    assert story_url_key("https://example.com/news/a") != story_url_key("https://example.com/news/b")
    assert story_url_key("https://example.com/a?id=1") != story_url_key("https://example.com/a?id=2")
    assert story_url_key("https://example.com/a") != story_url_key("https://other.com/a")
    # a bare two-label host is not stripped to its TLD
    assert story_url_key("https://m.com/a").startswith("m.com/")


url_like = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}{path}{query}{frag}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "hTTps"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
        st.sampled_from(["", ":80", ":443", ":8080", ":", ":x", ":0080"]),
        st.text(max_size=30),
        st.builds(
            lambda pairs: "?" + "&".join(pairs),
            st.lists(st.sampled_from(["utm_source=a", "b=2", "a=1", "", "fbclid=z", "amp", " ", "q= "])),
        ),
        st.sampled_from(["", "#x", "#"]),
    ),
)


@settings(max_examples=600)
@given(url_like)
def test_canonical_url_is_idempotent_and_never_raises(raw: str) -> None:
    once = canonical_url(raw)
    assert isinstance(once, str)
    assert canonical_url(once) == once


@settings(max_examples=600)
@given(url_like)
def test_story_url_key_is_idempotent_on_canonical_and_never_raises(raw: str) -> None:
    key = story_url_key(raw)
    assert isinstance(key, str)
    assert story_url_key(canonical_url(raw)) == key
    assert story_url_key(key) == key
