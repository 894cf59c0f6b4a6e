"""Building blocks for the reliability cases: feeds and pages written on the spot, a config
pointing a pass at a :class:`LocalSite` (plus a healthy control feed), the pass itself, and
the state a user would see (``newswatch feeds|articles --format json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from tasks.pass_driver import run_pass_plain
from tasks.runtime import Runtime
from tasks.summary import StageSummary
from tests.support.httpserver import LocalSite

CONTROL_FEED = "/control/feed.xml"
CONTROL_PAGES = ("/control/a.html", "/control/b.html")

_SENTENCES = (
    "The harbour authority published its annual report on shipping volumes this week.",
    "Officials said container traffic rose for the third quarter in a row despite storms.",
    "Dock workers described long shifts as new cranes were brought into service.",
    "The council will debate a proposal to widen the northern channel next spring.",
    "Local businesses welcomed the news but warned that road access remains poor.",
    "An independent review found that the pilot scheme cut waiting times by a fifth.",
)


def article_page(title: str, *, paragraphs: int = 4, seed: int = 0) -> bytes:
    """A plain news page with enough body text for extraction to succeed."""
    body = []
    for index in range(paragraphs):
        picked = [_SENTENCES[(seed + index + k) % len(_SENTENCES)] for k in range(3)]
        body.append(f"<p>{escape(title)}: paragraph {index + 1}. {' '.join(picked)}</p>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><article><h1>{escape(title)}</h1>"
        + "".join(body)
        + "</article></body></html>"
    ).encode("utf-8")


@dataclass
class Item:
    title: str | None
    link: str | None
    guid: str | None = None
    description: str | None = None
    raw_title: bool = False  # put the title in as given (already XML), not escaped


def rss(items: Iterable[Item], *, title: str = "Test feed", encoding: str | None = "utf-8") -> bytes:
    parts = []
    for item in items:
        fields = []
        if item.title is not None:
            text = item.title if item.raw_title else escape(item.title)
            fields.append(f"<title>{text}</title>")
        if item.link is not None:
            fields.append(f"<link>{escape(item.link)}</link>")
        if item.guid is not None:
            fields.append(f"<guid isPermaLink='false'>{escape(item.guid)}</guid>")
        if item.description is not None:
            fields.append(f"<description>{escape(item.description)}</description>")
        parts.append("<item>" + "".join(fields) + "</item>")
    declaration = f"<?xml version='1.0' encoding='{encoding}'?>" if encoding else "<?xml version='1.0'?>"
    text = (
        f"{declaration}<rss version='2.0'><channel><title>{escape(title)}</title>"
        "<link>http://example.invalid/</link><description>test</description>"
        + "".join(parts)
        + "</channel></rss>"
    )
    return text.encode(encoding or "utf-8")


def serve_articles(site: LocalSite, prefix: str, count: int, *, title: str = "Story") -> list[Item]:
    """Route ``count`` healthy article pages under ``prefix``; return feed items for them."""
    items = []
    for index in range(count):
        path = f"{prefix}/{index}.html"
        name = f"{title} {index}"
        site.route(path, article_page(name, seed=index), content_type="text/html; charset=utf-8")
        items.append(Item(name, site.url(path), guid=f"{prefix}-{index}"))
    return items


@dataclass
class Pass:
    """One pass's result: the stage summary, how long it took, and what a user would see."""

    summary: StageSummary
    seconds: float
    feeds: list[dict[str, Any]]
    articles: list[dict[str, Any]]

    def feed(self, url: str) -> dict[str, Any]:
        return next(f for f in self.feeds if f["url"] == url)

    def articles_of(self, feed_url: str) -> list[dict[str, Any]]:
        return [a for a in self.articles if any(s["feed_url"] == feed_url for s in a["sources"])]

    def article(self, url: str) -> dict[str, Any]:
        return next(a for a in self.articles if a["url"] == url)


@dataclass
class Pipeline:
    """A config for one case: feeds on ``site`` (and a healthy control feed), SQLite in tmp."""

    tmp_path: Path
    site: LocalSite
    feeds: list[str] = field(default_factory=list)
    fetch: dict[str, Any] = field(default_factory=dict)
    allow: Sequence[str] | None = None  # allow_private_networks; default: only ``site``
    database_url: str | None = None

    def __post_init__(self) -> None:
        items = []
        for index, path in enumerate(CONTROL_PAGES):
            name = f"Control story {index}"
            self.site.route(path, article_page(name, seed=index + 10), content_type="text/html")
            items.append(Item(name, self.site.url(path), guid=f"control-{index}"))
        self.site.route(CONTROL_FEED, rss(items, title="Control"), content_type="application/rss+xml")
        self.control_url = self.site.url(CONTROL_FEED)

    @property
    def config_path(self) -> Path:
        return self.tmp_path / "newswatch.yaml"

    def write_config(self, **extra: Any) -> Path:
        fetch = {
            "allow_private_networks": list(self.allow if self.allow is not None else [self.site.allow_rule]),
            "per_host_delay_seconds": 0,
            "per_host_concurrency": 4,
            "timeout_seconds": 5,
            "connect_timeout_seconds": 2,
            "extraction_workers": 2,
            "extraction_timeout_seconds": 15,
            **self.fetch,
        }
        config = {
            "database_url": self.database_url or f"sqlite:///{self.tmp_path / 'newswatch.db'}",
            "feeds": [{"url": url} for url in [self.control_url, *self.feeds]],
            "fetch": fetch,
            **extra,
        }
        self.tmp_path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return self.config_path

    def run(self, **extra: Any) -> Pass:
        from config.settings import load_settings

        path = self.write_config(**extra)
        settings = load_settings(path)
        started = time.monotonic()
        with Runtime(settings) as runtime:
            summary = run_pass_plain(runtime, force=True)
        seconds = time.monotonic() - started
        return Pass(summary, seconds, cli_json("feeds", path), cli_json("articles", path))


def cli_json(command: str, config: Path) -> list[dict[str, Any]]:
    """``newswatch <command> --config … --format json``, parsed (in process)."""
    from flows.cli import app

    result = CliRunner().invoke(app, [command, "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, f"newswatch {command} failed: {result.output}"
    return json.loads(result.stdout)


def assert_control_healthy(outcome: Pass, control_url: str, site: LocalSite) -> None:
    """The healthy feed beside the hostile one: polled ok, both pages fetched and extracted."""
    feed = outcome.feed(control_url)
    assert feed["status"] == "ok", f"control feed: {feed['status']} {feed['last_error']}"
    articles = outcome.articles_of(control_url)
    assert sorted(a["status"] for a in articles) == ["fetched", "fetched"], articles
    for path in CONTROL_PAGES:
        assert len(site.requests_for(path)) == 1, f"{path} fetched {len(site.requests_for(path))} times"


def requested_paths(site: LocalSite) -> set[str]:
    return {path.split("?", 1)[0] for path in site.paths()}
