"""Cursor pages of /api/alerts and the alerts page while a pass keeps inserting alerts:
nothing shown twice, nothing that was there skipped, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from flows.web import create_app
from storage.db import open_database
from storage.models import Alert
from tests.support.alerts import raise_alert

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def seed(db, settings, count: int) -> None:
    with db.session() as session:
        for index in range(count):
            # Every third pair shares a publication time: the id must break the tie.
            published = NOW - timedelta(hours=index - index % 3)
            raise_alert(session, settings, topic="a-topic", title=f"Story {index}", text=f"body {index}",
                        evidence=f"evidence {index}", now=NOW, published_at=published)


def next_link(response) -> str | None:
    header = response.headers.get("link")
    if header is None:
        return None
    match = LINK.match(header)
    assert match, header
    return match.group(1)


@pytest.fixture
def setup(database_url: str, tmp_path: Path):
    config = tmp_path / "newswatch.yaml"
    config.write_text(f"database_url: {database_url}\n", encoding="utf-8")
    settings = load_settings(config)
    db = open_database(database_url, migrate=True)
    seed(db, settings, 45)
    yield settings, db
    db.dispose()


def test_api_pages_stay_whole_while_alerts_are_inserted(setup) -> None:
    settings, db = setup
    with db.reader() as session:
        before = {a.id for a in session.query(Alert)}
    stop = threading.Event()
    inserted: list[int] = []

    def keep_inserting() -> None:
        writer = open_database(settings.resolved_database_url)
        n = 0
        try:
            while not stop.is_set():
                n += 1
                # Newer than everything, and old stories arriving late (inside the range paged).
                published = NOW + timedelta(minutes=n) if n % 2 else NOW - timedelta(hours=n % 40, minutes=30)
                with writer.session() as session:
                    alert = raise_alert(session, settings, topic="a-topic", title=f"Late {n}", text="late",
                                        evidence="late", now=NOW, published_at=published)
                    inserted.append(alert.id)
                time.sleep(0.005)
        finally:
            writer.dispose()

    thread = threading.Thread(target=keep_inserting)
    seen: list[dict] = []
    with TestClient(create_app(settings, database=db, clock=lambda: NOW)) as client:
        thread.start()
        try:
            url: str | None = "/api/alerts?limit=7&topic=a-topic"
            pages = 0
            while url:
                response = client.get(url)
                assert response.status_code == 200, response.text
                body = response.json()
                assert len(body) <= 7
                seen.extend(body)
                url = next_link(response)
                if url:
                    assert parse_qs(urlsplit(url).query)["topic"] == ["a-topic"]  # filters carried on
                pages += 1
                time.sleep(0.03)  # let the writer insert between pages
        finally:
            stop.set()
            thread.join()
    ids = [a["id"] for a in seen]
    assert len(inserted) >= 3, "the writer hardly inserted anything while paging"
    assert len(ids) == len(set(ids)), "an alert was shown twice"
    assert before <= set(ids), f"alerts skipped: {sorted(before - set(ids))}"
    keys = [(a["published_at"], a["id"]) for a in seen]
    assert keys == sorted(keys, reverse=True)  # one order across pages
    assert pages >= 7


def test_the_last_page_has_no_next_link_and_limit_is_exact(setup) -> None:
    settings, db = setup
    with TestClient(create_app(settings, database=db, clock=lambda: NOW)) as client:
        first = client.get("/api/alerts?limit=44")
        assert len(first.json()) == 44 and next_link(first) is not None
        last = client.get(next_link(first))
        assert len(last.json()) == 1 and next_link(last) is None
        assert next_link(client.get("/api/alerts?limit=45")) is None
        # Each sort order pages on its own cursor; one order's cursor is refused by another.
        by_score = client.get("/api/alerts?limit=10&sort=score")
        cursor = parse_qs(urlsplit(next_link(by_score)).query)["cursor"][0]
        refused = client.get(f"/api/alerts?sort=published&cursor={cursor}")
        assert refused.status_code == 400
        assert refused.json()["error"].startswith("cursor: made for sort=score, not sort=published")


def test_the_alerts_page_pages_like_the_api(setup) -> None:
    settings, db = setup
    with TestClient(create_app(settings, database=db, clock=lambda: NOW)) as client:
        api_ids: list[int] = []
        url: str | None = "/api/alerts?limit=10"
        while url:
            response = client.get(url)
            api_ids += [a["id"] for a in response.json()]
            url = next_link(response)
        story_of = {a["id"]: a["story_id"] for a in client.get("/api/alerts?limit=1000").json()}
        page_stories: list[int] = []
        href: str | None = "/?limit=10"
        while href:
            html = client.get(href.replace("&amp;", "&")).text
            page_stories += [int(i) for i in re.findall(r'<td class="title">\s*<a href="/stories/(\d+)">', html)]
            found = re.search(r'rel="next" href="([^"]+)"', html)
            href = found.group(1) if found else None
        assert "45 alerts" in html
        assert page_stories == [story_of[i] for i in api_ids]
        assert len(api_ids) == 45
