"""Synthetic news sites for benchmarks: N feeds × M article pages, served on 127.0.0.1.

Pages look like real news pages to an extractor: 50–150 KB of HTML with a navigation bar,
inline scripts and JSON blobs, an article of 600–1,400 words, reader comments, related links
and a footer. The text is drawn at random from a vocabulary, per page, so near-duplicate
detection and story clustering do not collapse them; about one page in ten carries
sentences the shipped topics fire on, so alerts are recorded too.

Everything is deterministic in (seed, feed, item). ``BenchSite`` runs the server in a child
process (so its CPU and memory are not the pipeline's), pre-renders every page before it
answers, supports conditional GETs (a second pass costs one 304 per feed) and counts the
requests it serves by kind (``/_stats``; ``/_reset`` zeroes the counts).
"""

from __future__ import annotations

import email.utils
import functools
import gzip
import hashlib
import json
import multiprocessing
import random
import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape


def _split(words: str) -> list[str]:
    return words.split()


_WORDS = _split("""
government minister council officials report week year city people public plan policy
budget election vote campaign party leader support members office service health school
police court judge law rules company market prices energy water power transport roads
rail workers union strike pay housing homes families children students teachers hospital
doctors patients nurses care funding money tax spending debt growth economy business jobs
trade exports imports farmers food weather storm flood river coast harbour port ships
fishing bridge tunnel station airport flights travel tourism museum festival music film
theatre artist book library history science research study data survey results figures
experts analysts critics residents neighbours community village county region district
province state national local federal agency department committee inquiry review board
chair chief director manager spokesperson statement interview meeting talks agreement deal
proposal decision ruling appeal hearing evidence witness investigation charge trial
sentence prison release fire crews emergency rescue accident damage repair construction
project contract tender cost delay schedule opening closure protest march rally crowd
voters turnout polls survey ballot count recount result winner seat majority opposition
coalition cabinet parliament assembly senate congress mayor governor president premier
treaty summit visit delegation embassy ambassador border security defence military army
navy exercise training technology internet software network computer phone mobile
broadband coverage signal satellite space launch mission climate emissions carbon solar
wind turbine battery vehicle electric charging grid supply demand shortage surplus
inflation interest rates bank lending mortgage savings pension retirement benefit welfare
insurance claim dispute settlement compensation reform change increase decrease rise fall
record level target goal deadline season match team players coach league cup final score
""")
_NAMES = _split("""Harlow Brenner Okafor Lindqvist Moreau Castellanos Nakamura Petrova Adeyemi
Fitzgerald Rasmussen Delacroix Abernathy Kowalski Santangelo Whitcombe Haldane Ostrowski
Marchetti Vasquez Thorne Ellsworth Kimura Baptiste Dunmore Achebe Lindgren Ferreira
""")
_PLACES = _split("""Millbrook Eastport Kingsford Riverton Ashby Norwell Fairhaven Stonebridge
Westmere Dunmore Glenrock Harrowgate Larkfield Oakhurst Pinecrest Redcliff Saltmarsh
""")
# Sentences the shipped topics fire on (uk-us-relations, foreign-campaigning).
_TOPICAL = [
    "The British Prime Minister met the US President in Washington to discuss the special "
    "relationship, trade talks and tariffs on steel.",
    "Downing Street said the UK and the United States would deepen intelligence sharing "
    "after the ambassador was summoned over the row.",
    "Volunteers from the governing party flew abroad to campaign for their sister party's "
    "candidate, canvassing voters door to door ahead of the foreign election.",
    "The minister travelled overseas to campaign on behalf of a foreign candidate, "
    "addressing rallies before the presidential runoff.",
]
_SECTIONS = ["World", "Politics", "Business", "Science", "Sport", "Culture", "Opinion",
             "Climate", "Technology", "Health", "Education", "Travel", "Local", "Weather"]
_BASE_TIME = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SiteShape:
    """What to serve: ``feeds`` × ``articles_per_feed`` pages, generated (deterministic in
    ``seed``) or, with ``real_pages`` (a folder of ``*.html.gz``), real pages taken in turn
    and marked per copy (``real_page_html``)."""

    feeds: int
    articles_per_feed: int
    seed: int = 7
    real_pages: str | None = None

    @property
    def articles(self) -> int:
        return self.feeds * self.articles_per_feed


def feed_path(feed: int) -> str:
    return f"/feeds/{feed}.xml"


def article_path(feed: int, item: int) -> str:
    return f"/news/{feed}/{item}/story-{feed}-{item}.html"


def _rng(shape: SiteShape, feed: int, item: int) -> random.Random:
    return random.Random(shape.seed * 1_000_003 + feed * 10_007 + item)


def _sentence(rng: random.Random, low: int = 9, high: int = 26) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    for _ in range(rng.randint(0, 2)):  # names and places make sentences less alike
        words.insert(rng.randrange(len(words)), rng.choice(_NAMES + _PLACES))
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(".....?")


def article_title(shape: SiteShape, feed: int, item: int) -> str:
    rng = _rng(shape, feed, item)
    return f"{rng.choice(_PLACES)} {_sentence(rng, 5, 9).rstrip('.?')}"


def _published(feed: int, item: int) -> datetime:
    return _BASE_TIME + timedelta(minutes=feed * 7 + item * 13)


def article_html(shape: SiteShape, feed: int, item: int) -> str:
    """One article page of 50–150 KB; the same bytes for the same (seed, feed, item)."""
    rng = _rng(shape, feed, item)
    title = article_title(shape, feed, item)
    rng.random()
    site = f"The {_PLACES[feed % len(_PLACES)]} Courier {feed}"
    author = f"{rng.choice(_NAMES)} {rng.choice(_NAMES)}"
    published = _published(feed, item).isoformat()
    url = article_path(feed, item)
    target = rng.randint(50_000, 150_000)

    paragraphs = []
    topical = rng.random() < 0.1
    for index in range(rng.randint(12, 28)):
        sentences = [_sentence(rng) for _ in range(rng.randint(2, 5))]
        if topical and index in (0, 3):
            sentences.insert(1, rng.choice(_TOPICAL))
        if rng.random() < 0.4:  # an inline link, as reporters add
            sentences[0] = f'<a href="/topic/{rng.choice(_WORDS)}">{sentences[0]}</a>'
        paragraphs.append(f'<div class="paragraph-wrap"><p class="para">{" ".join(sentences)}</p></div>')
        if index % 4 == 3:
            paragraphs.append(
                f'<div class="ad-slot" data-slot="{index}"><div class="ad-inner"><div class="ad-label">'
                f'<span>Advertisement</span></div><div id="ad-{index}" class="ad-frame"></div></div></div>'
            )
        if index % 6 == 5:
            paragraphs.append(
                f'<figure class="inline-image"><img src="/img/{feed}-{item}-{index}.jpg" alt="">'
                f"<figcaption>{_sentence(rng, 5, 10)}</figcaption></figure>"
            )
    nav = _mega_menu(rng)
    head = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {site}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="description" content="{escape(_sentence(rng))}">'
        f'<meta property="og:title" content="{escape(title)}"><meta property="og:type" content="article">'
        f'<meta property="og:site_name" content="{site}"><meta name="author" content="{author}">'
        f'<meta property="article:published_time" content="{published}">'
        f'<link rel="canonical" href="{url}"><link rel="stylesheet" href="/static/site.css">'
        f'<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": title, "datePublished": published, "author": {"@type": "Person", "name": author}})}</script>'
    )
    header = (
        f'<body class="article-page"><header class="site-header"><div class="logo"><a href="/">{site}</a></div>'
        f'<nav class="main-nav" aria-label="sections"><ul>{nav}</ul></nav>'
        f'<div class="subscribe"><a href="/subscribe">Subscribe</a> <a href="/login">Sign in</a></div></header>'
    )
    article = (
        f'<main><article class="story"><h1 class="headline">{escape(title)}</h1>'
        f'<div class="byline">By <span class="author">{author}</span> · <time datetime="{published}">{published[:10]}</time></div>'
        f'<div class="story-body">{"".join(paragraphs)}</div></article>'
    )
    related = "".join(
        f'<li><a href="{article_path(rng.randrange(max(1, shape.feeds)), rng.randrange(max(1, shape.articles_per_feed)))}">'
        f"{_sentence(rng, 5, 10)}</a></li>"
        for _ in range(rng.randint(8, 20))
    )
    comments = "".join(
        f'<li class="comment"><span class="user">{rng.choice(_NAMES).lower()}{rng.randint(1, 999)}</span>'
        f"<p>{_sentence(rng, 6, 20)}</p></li>"
        for _ in range(rng.randint(3, 15))
    )
    aside = (
        f'<aside class="related"><h2>Related stories</h2><ul>{related}</ul></aside>'
        f'<section class="comments" id="comments"><h2>Comments</h2><ol>{comments}</ol></section></main>'
    )
    footer = (
        '<footer class="site-footer"><ul>'
        + "".join(f'<li><a href="/about/{w}">{w.title()}</a></li>' for w in _WORDS[:30])
        + f"</ul><p>© 2026 {site}. All rights reserved.</p></footer>"
    )
    page = head + "</head>" + header + article + aside + footer
    # Card grids, ad slots and script blobs fill the page to its size, as on real sites.
    fill: list[str] = []
    size = len(page)
    while size < target:
        block = _card_section(rng, shape) if len(fill) % 8 == 1 else _script_blob(rng, len(fill))
        fill.append(block)
        size += len(block)
    return page.replace("</footer>", "</footer>" + "".join(fill)) + "</body></html>"


def _mega_menu(rng: random.Random) -> str:
    """A section menu with sub-menus of links: hundreds of elements, as news sites have."""
    parts = []
    for section in _SECTIONS:
        links = "".join(
            f'<li class="sub-item"><a class="sub-link" href="/{section.lower()}/{word}">'
            f"<span>{word.title()}</span></a></li>"
            for word in rng.sample(_WORDS, 12)
        )
        parts.append(
            f'<li class="nav-item has-menu"><a href="/section/{section.lower()}">{section}</a>'
            f'<div class="mega"><div class="mega-col"><ul class="sub">{links}</ul></div></div></li>'
        )
    return "".join(parts)


def _card_section(rng: random.Random, shape: SiteShape) -> str:
    """A "more stories" grid: cards of nested divs, an image, a headline and a teaser."""
    cards = []
    for _ in range(rng.randint(6, 12)):
        link = article_path(rng.randrange(shape.feeds), rng.randrange(shape.articles_per_feed))
        cards.append(
            f'<div class="card"><div class="card-media"><a href="{link}"><picture><img loading="lazy" '
            f'src="/img/{rng.randint(1, 99999)}.jpg" alt=""></picture></a></div><div class="card-body">'
            f'<span class="kicker">{rng.choice(_SECTIONS)}</span><h3 class="card-title"><a href="{link}">'
            f'{_sentence(rng, 5, 10)}</a></h3><p class="teaser">{_sentence(rng, 8, 16)}</p>'
            f'<div class="card-meta"><span class="time">{rng.randint(1, 59)} min ago</span></div></div></div>'
        )
    return (
        f'<section class="more-stories"><h2 class="section-title">More {rng.choice(_SECTIONS)}</h2>'
        f'<div class="grid">{"".join(cards)}</div></section>'
    )


def _script_blob(rng: random.Random, index: int) -> str:
    blob = json.dumps({
        "slot": rng.randint(1, 10**6), "keys": [rng.choice(_WORDS) for _ in range(120)],
        "config": {rng.choice(_WORDS): rng.random() for _ in range(40)},
    })
    return f"<script>window.__STATE_{index}__ = {blob};</script>"


# --- real pages ---------------------------------------------------------------------------

SHARED_PAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "pages"
_TITLE = re.compile(rb"(<title[^>]*>)(.*?)(</title>)", re.IGNORECASE | re.DOTALL)
_FIRST_PARAGRAPH_END = re.compile(rb"</p\s*>", re.IGNORECASE)


def real_pages_missing(folder: Path = SHARED_PAGES) -> str | None:
    """Why the real pages cannot be served (None when they can): benchmarks skip with it."""
    if not folder.is_dir() or not any(folder.glob("*.html.gz")):
        return f"no real pages at {folder} (the shared data folder is absent here)"
    return None


@functools.lru_cache(maxsize=4)
def load_real_pages(folder: str) -> tuple[bytes, ...]:
    """The folder's pages, decompressed, in name order (the same order every run)."""
    return tuple(gzip.decompress(path.read_bytes()) for path in sorted(Path(folder).glob("*.html.gz")))


def real_page_index(shape: SiteShape, feed: int, item: int) -> tuple[int, int]:
    """(which real page, which copy of it) serves article ``item`` of ``feed``: pages are
    dealt in turn, so any run of N × len(pages) consecutive articles holds each page N times."""
    count = len(load_real_pages(shape.real_pages or ""))
    number = feed * shape.articles_per_feed + item
    return number % count, number // count


def real_page_html(shape: SiteShape, feed: int, item: int) -> bytes:
    """The real page unchanged for its first copy; later copies carry a marker in the title
    and the first paragraph, so no two copies have the same text or content hash."""
    index, copy = real_page_index(shape, feed, item)
    page = load_real_pages(shape.real_pages or "")[index]
    if copy == 0:
        return page
    marker = f" (copy {copy})".encode()
    page = _TITLE.sub(lambda m: m.group(1) + m.group(2) + marker + m.group(3), page, count=1)
    return _FIRST_PARAGRAPH_END.sub(lambda m: marker + m.group(0), page, count=1)


def real_page_title(shape: SiteShape, feed: int, item: int) -> str:
    index, copy = real_page_index(shape, feed, item)
    found = _TITLE.search(load_real_pages(shape.real_pages or "")[index])
    title = " ".join(found.group(2).decode("utf-8", "replace").split()) if found else f"Page {index}"
    return title + (f" (copy {copy})" if copy else "")


def page_html(shape: SiteShape, feed: int, item: int) -> bytes:
    if shape.real_pages:
        return real_page_html(shape, feed, item)
    return article_html(shape, feed, item).encode()


def feed_xml(shape: SiteShape, feed: int, base_url: str) -> str:
    """An RSS 2.0 feed of the feed's ``articles_per_feed`` items, newest first."""
    items = []
    for item in reversed(range(shape.articles_per_feed)):
        rng = _rng(shape, feed, item)
        link = base_url + article_path(feed, item)
        title = real_page_title(shape, feed, item) if shape.real_pages else article_title(shape, feed, item)
        items.append(
            f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">bench-{shape.seed}-{feed}-{item}</guid>'
            f"<pubDate>{email.utils.format_datetime(_published(feed, item))}</pubDate>"
            f"<description>{escape(_sentence(rng, 20, 40))}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Courier {feed}</title><link>{base_url}/</link><description>Bench feed {feed}</description>"
        + "".join(items) + "</channel></rss>"
    )


def article_urls(shape: SiteShape, base_url: str) -> list[str]:
    return [
        base_url + article_path(feed, item)
        for feed in range(shape.feeds)
        for item in range(shape.articles_per_feed)
    ]


# --- the server --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlsplit(self.path).path
        server = self.server
        if path == "/_stats":
            with server.lock:
                body = json.dumps(dict(server.counts)).encode()
            return self._reply(200, body, "application/json")
        if path == "/_reset":
            with server.lock:
                server.counts.clear()
            return self._reply(200, b"{}", "application/json")
        kind = "feed" if path.startswith("/feeds/") else "article" if path.startswith("/news/") else "other"
        resource = server.resources.get(path)
        with server.lock:
            server.counts[f"{kind}_requests"] += 1
        if resource is None:
            return self._reply(404, b"not found", "text/plain")
        body, content_type, etag = resource
        if kind == "feed" and self.headers.get("If-None-Match") == etag:
            with server.lock:
                server.counts["feed_304"] += 1
            return self._reply(304, b"", None, etag)
        with server.lock:
            server.counts[f"{kind}_bytes"] += len(body)
        self._reply(200, body, content_type, etag)

    def _reply(self, status: int, body: bytes, content_type: str | None, etag: str | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if etag:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Sun, 01 Nov 2026 06:00:00 GMT")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, sock: socket.socket, resources: dict[str, tuple[bytes, str, str]]) -> None:
        super().__init__(sock.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock  # bound and listening in the parent, so the port is known at once
        self.resources = resources
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()


def render_site(shape: SiteShape, base_url: str) -> dict[str, tuple[bytes, str, str]]:
    """Every path → (body, content type, ETag)."""
    resources: dict[str, tuple[bytes, str, str]] = {}
    for feed in range(shape.feeds):
        body = feed_xml(shape, feed, base_url).encode()
        resources[feed_path(feed)] = (body, "application/rss+xml; charset=utf-8", _etag(body))
        for item in range(shape.articles_per_feed):
            page = page_html(shape, feed, item)
            # Real pages keep their own encoding (named in their meta tags).
            content_type = "text/html" if shape.real_pages else "text/html; charset=utf-8"
            resources[article_path(feed, item)] = (page, content_type, _etag(page))
    return resources


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


def _serve(shape: SiteShape, sock: socket.socket, ready: Any) -> None:
    host, port = sock.getsockname()
    server = _Server(sock, render_site(shape, f"http://{host}:{port}"))
    ready.set()
    server.serve_forever(poll_interval=0.2)


class BenchSite:
    """The generated site, served by a child process on 127.0.0.1 until ``close``."""

    def __init__(self, shape: SiteShape) -> None:
        self.shape = shape
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        self.host, self.port = sock.getsockname()
        context = multiprocessing.get_context("fork")  # before any thread: the socket is inherited
        ready = context.Event()
        self._process = context.Process(target=_serve, args=(shape, sock, ready), daemon=True,
                                         name="bench-site")
        self._process.start()
        sock.close()
        if not ready.wait(timeout=600):
            self.close()
            raise RuntimeError("the bench site did not start within 600 s")

    @property
    def pid(self) -> int:
        return self._process.pid or 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def feed_urls(self) -> list[str]:
        return [self.base_url + feed_path(feed) for feed in range(self.shape.feeds)]

    def article_urls(self) -> list[str]:
        return article_urls(self.shape, self.base_url)

    def stats(self) -> dict[str, int]:
        return self._get("/_stats")

    def reset(self) -> None:
        self._get("/_reset")

    def _get(self, path: str) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)

    def __enter__(self) -> BenchSite:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
