"""The bundled offline sample and the tiny server that serves it (flows/demo_server.py)."""

from __future__ import annotations

import email.utils
import http.client
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
import yaml

from flows.demo_server import (
    DEFAULT_ROOT,
    SampleError,
    SampleServer,
    content_type_for,
    etag_matches,
    read_expected_pages,
    read_feed_list,
    resolve_sample_path,
)

BROKEN_FEED = "/feeds/westmoor-courier.xml"
TOPICS = {"foreign-campaigning", "uk-us-relations"}


@pytest.fixture(scope="module")
def server() -> Iterator[SampleServer]:
    with SampleServer() as running:
        yield running


@pytest.fixture()
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


def sample_pages() -> list[str]:
    return sorted(
        "/" + p.relative_to(DEFAULT_ROOT).as_posix() for p in DEFAULT_ROOT.rglob("*.html")
    )


def expected_pages() -> list[dict]:
    return yaml.safe_load((DEFAULT_ROOT / "expected.yaml").read_text(encoding="utf-8"))["pages"]


def test_read_expected_pages_reads_expected_yaml(tmp_path: Path) -> None:
    pages = read_expected_pages()
    assert [page.path for page in pages] == [page["path"] for page in expected_pages()]
    georgia = next(page for page in pages if page.story == "party-staff-georgia-runoff")
    assert georgia.topics == ("foreign-campaigning", "uk-us-relations")
    with pytest.raises(SampleError, match="expected outcome"):
        read_expected_pages(tmp_path)


def raw_get(server: SampleServer, target: str) -> int:
    """GET a request target exactly as written (httpx would normalise '..' away)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def good_feeds(server: SampleServer) -> list[tuple[str, str]]:
    return [(url, name) for url, name in server.feed_urls() if not url.endswith(BROKEN_FEED)]


# -- serving -----------------------------------------------------------------------------


def test_base_url_and_host_port_name_the_bound_port(server: SampleServer) -> None:
    assert server.port > 0
    assert server.host_port == f"127.0.0.1:{server.port}"
    assert server.base_url == f"http://127.0.0.1:{server.port}"


def test_feed_urls_list_every_feed_of_feeds_yaml_under_the_base_url(server: SampleServer) -> None:
    urls = server.feed_urls()
    assert len(urls) == 4
    assert all(url.startswith(server.base_url + "/feeds/") and name for url, name in urls)
    assert server.url(BROKEN_FEED) in {url for url, _ in urls}


def test_each_feed_is_served_with_its_content_type_and_base_replaced(
    server: SampleServer, client: httpx.Client
) -> None:
    types = {}
    for url, _ in server.feed_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        types[urlsplit(url).path] = response.headers["content-type"]
        assert "{{base}}" not in response.text
        if url.endswith(BROKEN_FEED):
            continue
        assert server.base_url + "/" in response.text
    assert types["/feeds/capitalwire-world.xml"].startswith("application/atom+xml")
    assert types["/feeds/ledger-politics.xml"].startswith("application/rss+xml")
    assert types["/feeds/harbour-times.xml"].startswith("application/rss+xml")


def test_each_page_is_html_with_base_replaced_and_canonical_to_itself(
    server: SampleServer, client: httpx.Client
) -> None:
    pages = sample_pages()
    assert len(pages) == 14
    for path in pages:
        response = client.get(server.url(path))
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "{{base}}" not in response.text
        assert f'<link rel="canonical" href="{server.url(path)}">' in response.text
        assert 'property="og:site_name"' in response.text
        assert 'property="article:published_time"' in response.text
        assert int(response.headers["content-length"]) == len(response.content)


def test_head_answers_headers_without_a_body(server: SampleServer, client: httpx.Client) -> None:
    response = client.head(server.url("/feeds/ledger-politics.xml"))
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 1000


def test_query_strings_do_not_change_what_is_served(
    server: SampleServer, client: httpx.Client
) -> None:
    path = "/ledger/2026/11/21/party-staff-campaign-georgia-senate-runoff.html"
    clean = client.get(server.url(path))
    tracked = client.get(server.url(path + "?utm_source=rss&utm_medium=feed"))
    assert tracked.status_code == 200
    assert tracked.content == clean.content


# -- conditional GET ---------------------------------------------------------------------


def test_if_none_match_with_the_current_etag_gets_304(
    server: SampleServer, client: httpx.Client
) -> None:
    url = server.url("/feeds/harbour-times.xml")
    first = client.get(url)
    etag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = client.get(url, headers={"If-None-Match": '"not-the-etag"'})
    assert stale.status_code == 200
    assert stale.content == first.content


def test_if_modified_since_gets_304_unless_the_file_is_newer(
    server: SampleServer, client: httpx.Client
) -> None:
    url = server.url("/feeds/capitalwire-world.xml")
    last_modified = client.get(url).headers["last-modified"]
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = email.utils.parsedate_to_datetime(last_modified) - timedelta(seconds=1)
    older = email.utils.format_datetime(earlier, usegmt=True)
    assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_a_stale_etag_wins_over_a_fresh_if_modified_since(
    server: SampleServer, client: httpx.Client
) -> None:
    url = server.url("/feeds/ledger-politics.xml")
    future = email.utils.format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": future}
    assert client.get(url, headers=headers).status_code == 200


def test_second_pass_with_validators_costs_one_request_per_feed(client: httpx.Client) -> None:
    with SampleServer() as fresh:
        validators = {}
        for url, _ in fresh.feed_urls():  # first pass: feeds, then every linked page
            response = client.get(url)
            validators[url] = response.headers["etag"]
            for entry in feedparser.parse(response.content).entries:
                if entry.get("link"):
                    assert client.get(entry.link).status_code == 200
        first_pass = len(fresh.requests_made())
        fresh.clear_log()
        for url, etag in validators.items():  # second pass: conditional GETs only
            assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert first_pass > len(validators)
        assert len(fresh.requests_made()) == len(validators)
        assert [status for _, status in fresh.response_log] == [304] * len(validators)


def test_etag_changes_with_the_base_url() -> None:
    # Two servers on two ports serve different bytes, so their validators must differ.
    with SampleServer() as one, SampleServer() as two, httpx.Client() as http:
        path = "/feeds/ledger-politics.xml"
        assert http.get(one.url(path)).headers["etag"] != http.get(two.url(path)).headers["etag"]


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope.html",
        "/feeds/",
        "/feeds",
        "/",
        "/ledger/2026/",
        "/feeds.yaml",
        "/README.md",
        "/expected.yaml",
    ],
)
def test_unknown_paths_directories_and_unserved_files_get_404(
    server: SampleServer, client: httpx.Client, path: str
) -> None:
    response = client.get(server.url(path))
    assert response.status_code == 404
    assert b"<a href" not in response.content  # no directory listing


@pytest.mark.parametrize(
    "target",
    [
        "/../demo_server.py",
        "/../settings.py",
        "/feeds/../../settings.py",
        "/%2e%2e/settings.py",
        "/feeds/%2E%2E/%2E%2E/settings.py",
        "/..%2fsettings.py",
        "/feeds/..%5c..%5csettings.py",
        "//etc/passwd",
        "/feeds/ledger-politics.xml%00.html",
    ],
)
def test_path_traversal_is_refused(server: SampleServer, target: str) -> None:
    assert raw_get(server, target) == 404


@pytest.mark.parametrize(
    "target",
    ["/../secret.html", "/%2e%2e/secret.html", "/inside/../../secret.html", "/..%2fsecret.html"],
)
def test_traversal_to_a_servable_file_outside_the_root_is_refused(
    tmp_path: Path, target: str
) -> None:
    root = tmp_path / "sample"
    root.mkdir()
    (tmp_path / "secret.html").write_text("<p>outside</p>", encoding="utf-8")
    with SampleServer(root=root) as local:
        assert raw_get(local, target) == 404


def test_symlinks_out_of_the_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "sample"
    root.mkdir()
    secret = tmp_path / "secret.html"
    secret.write_text("<p>outside</p>", encoding="utf-8")
    (root / "inside.html").write_text("<p>{{base}}/inside.html</p>", encoding="utf-8")
    (root / "escape.html").symlink_to(secret)
    with SampleServer(root=root) as local, httpx.Client() as http:
        assert http.get(local.url("/escape.html")).status_code == 404
        inside = http.get(local.url("/inside.html"))
        assert inside.text == f"<p>{local.base_url}/inside.html</p>"


def test_resolve_sample_path_accepts_only_served_files_inside_the_root() -> None:
    page = "/ledger/2026/11/16/pm-president-white-house-talks.html"
    assert resolve_sample_path(DEFAULT_ROOT, page) == (DEFAULT_ROOT / page.lstrip("/")).resolve()
    assert resolve_sample_path(DEFAULT_ROOT, page + "?utm_source=rss#top") is not None
    for refused in ["/", "/ledger", "/../flows/demo_server.py", "/feeds.yaml", "/a\x00b.html"]:
        assert resolve_sample_path(DEFAULT_ROOT, refused) is None


def test_etag_matches_follows_weak_comparison() -> None:
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches('W/"abc"', '"abc"')
    assert etag_matches('"x", "abc"', '"abc"')
    assert etag_matches("*", '"abc"')
    assert not etag_matches('"abcd"', '"abc"')


def test_content_type_tells_atom_from_rss(tmp_path: Path) -> None:
    atom = b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>'
    rss = b'<?xml version="1.0"?>\n<rss version="2.0"><channel></channel></rss>'
    assert content_type_for(tmp_path / "a.xml", atom).startswith("application/atom+xml")
    assert content_type_for(tmp_path / "r.xml", rss).startswith("application/rss+xml")
    assert content_type_for(tmp_path / "p.html", b"<html>") == "text/html; charset=utf-8"


# -- lifecycle and logging -----------------------------------------------------------------


def test_request_log_records_targets_and_the_server_stays_quiet(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with SampleServer() as quiet, httpx.Client() as http:
        http.get(quiet.url("/feeds/ledger-politics.xml?x=1"))
        http.get(quiet.url("/missing.html"))
        assert quiet.requests_made() == ["/feeds/ledger-politics.xml?x=1", "/missing.html"]
        assert quiet.response_log == [
            ("/feeds/ledger-politics.xml?x=1", 200),
            ("/missing.html", 404),
        ]
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_stop_releases_the_port_and_is_idempotent() -> None:
    server = SampleServer().start()
    url = server.url("/feeds/ledger-politics.xml")
    assert httpx.get(url).status_code == 200
    server.stop()
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_stop_closes_kept_alive_connections() -> None:
    server = SampleServer().start()
    with httpx.Client(timeout=5) as http:
        url = server.url("/feeds/ledger-politics.xml")
        assert http.get(url).status_code == 200  # the connection stays open for reuse
        server.stop()
        with pytest.raises(httpx.TransportError):
            http.get(url)


def test_feed_urls_needs_a_started_server() -> None:
    with pytest.raises(RuntimeError, match="started"):
        SampleServer().feed_urls()


def test_a_missing_root_or_feed_list_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="not found"):
        SampleServer(root=tmp_path / "absent")
    with pytest.raises(SampleError, match="feeds.yaml"):
        read_feed_list(tmp_path)
    (tmp_path / "feeds.yaml").write_text("feeds: [{name: no path}]", encoding="utf-8")
    with pytest.raises(SampleError, match=r"feeds\[0\] needs a 'path'"):
        read_feed_list(tmp_path)


# -- the sample's content ------------------------------------------------------------------


def test_every_feed_parses_except_the_deliberately_broken_one(
    server: SampleServer, client: httpx.Client
) -> None:
    for url, name in server.feed_urls():
        parsed = feedparser.parse(client.get(url).content)
        if url.endswith(BROKEN_FEED):
            assert parsed.bozo and not parsed.entries, name
        else:
            assert not parsed.bozo, (name, parsed.get("bozo_exception"))
            assert len(parsed.entries) >= 5, name
    versions = {feedparser.parse(client.get(url).content).version for url, _ in good_feeds(server)}
    assert versions == {"rss20", "atom10"}


def test_every_feed_link_resolves_to_a_page_and_every_page_is_linked(
    server: SampleServer, client: httpx.Client
) -> None:
    linked: set[str] = set()
    without_link = []
    for url, _ in good_feeds(server):
        for entry in feedparser.parse(client.get(url).content).entries:
            if not entry.get("link"):
                without_link.append(entry.get("id"))
                continue
            assert entry.link.startswith(server.base_url + "/"), entry.link
            response = client.get(entry.link)
            assert response.status_code == 200, entry.link
            assert response.headers["content-type"].startswith("text/html")
            linked.add(urlsplit(entry.link).path)
    assert without_link == ["ledger-live-politics-2026-11-27"]
    assert linked == set(sample_pages())


def test_one_article_reaches_two_feeds_once_with_tracking_parameters(
    server: SampleServer, client: httpx.Client
) -> None:
    def links(feed_path: str) -> list[str]:
        parsed = feedparser.parse(client.get(server.url(feed_path)).content)
        return [entry.link for entry in parsed.entries if entry.get("link")]

    ledger = set(links("/feeds/ledger-politics.xml"))
    harbour = links("/feeds/harbour-times.xml")
    tracked = [link for link in harbour if "utm_source=rss" in link]
    assert len(tracked) == 2
    assert {link.split("?")[0] for link in tracked} <= ledger  # same article, other feed


def test_teaser_page_is_short_but_its_feed_entry_carries_the_full_text(
    server: SampleServer, client: httpx.Client
) -> None:
    teaser = next(page["path"] for page in expected_pages() if page["kind"] == "teaser")
    page = client.get(server.url(teaser)).text
    assert "Subscribe to continue reading" in page
    parsed = feedparser.parse(client.get(server.url("/feeds/harbour-times.xml")).content)
    entry = next(e for e in parsed.entries if e.link == server.url(teaser))
    full_text = entry.content[0].value
    assert len(full_text) > 1500
    assert "Electoral prosecutors" in full_text and "Electoral prosecutors" not in page


def test_syndicated_copy_shares_the_body_under_another_headline(
    server: SampleServer, client: httpx.Client
) -> None:
    pages = {
        page["kind"]: page["path"]
        for page in expected_pages()
        if page["story"] == "white-house-talks"
    }
    original = client.get(server.url(pages["positive"])).text
    copy = client.get(server.url(pages["syndicated"])).text
    sentence = "not a museum piece but a working partnership"
    assert sentence in original and sentence in copy
    assert "content-sharing agreement" in copy and "content-sharing agreement" not in original
    title = "<title>"
    assert original.split(title)[1].split("|")[0] != copy.split(title)[1].split("|")[0]


def test_expected_outcome_covers_every_page_exactly_once() -> None:
    pages = expected_pages()
    assert sorted(page["path"] for page in pages) == sample_pages()
    for page in pages:
        assert set(page["topics"]) <= TOPICS, page
        assert (page["kind"] == "hard-negative") == (page["topics"] == []), page
    readme = (DEFAULT_ROOT / "README.md").read_text(encoding="utf-8")
    for page in pages:
        assert page["path"] in readme, f"README.md does not describe {page['path']}"
    kinds = [page["kind"] for page in pages]
    assert kinds.count("hard-negative") == 5
    both = [page for page in pages if set(page["topics"]) == TOPICS]
    assert len(both) == 1
