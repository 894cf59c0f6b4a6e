"""End to end, without Prefect: the bundled sample served on 127.0.0.1, a real database.

A pass stores every article once with its provenance, raises alerts for the stories the
sample's expected.yaml names, and a second pass fetches no article again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from config.settings import Settings, load_settings
from flows.demo import write_demo_config
from flows.demo_server import DEFAULT_ROOT, SampleServer
from storage.db import open_database
from storage.models import Alert, Article, ArticleSource, Feed
from storage.serialize import alert_json
from tasks.pass_driver import run_pass_plain
from tasks.runtime import Runtime
from tasks.summary import StageSummary

EXPECTED = yaml.safe_load((DEFAULT_ROOT / "expected.yaml").read_text())["pages"]


@pytest.fixture
def sample():
    with SampleServer() as server:
        yield server


def configure(tmp_path: Path, server: SampleServer, database_url: str) -> Settings:
    path = write_demo_config(tmp_path, server)
    data = yaml.safe_load(path.read_text())
    data["database_url"] = database_url
    path.write_text(yaml.safe_dump(data))
    open_database(database_url, migrate=True).dispose()
    return load_settings(path)


def run_pass(settings: Settings, *, force: bool = False) -> StageSummary:
    """One plain pass on a runtime of its own, closed when the pass is over."""
    with Runtime(settings) as runtime:
        return run_pass_plain(runtime, force=force)


def article_paths(server: SampleServer) -> list[str]:
    return [p for p in server.request_log if not p.startswith("/feeds/")]


def test_a_pass_stores_articles_with_provenance_and_alerts_per_story(tmp_path, sample, database_url) -> None:
    settings = configure(tmp_path, sample, database_url)
    summary = run_pass(settings)

    assert summary["feeds_ok"] == 3 and summary["feeds_failed"] == 1  # the broken feed is recorded…
    assert summary["articles_extracted"] == len(EXPECTED)  # …and everything else processed
    db = open_database(settings.resolved_database_url)
    with db.session() as session:
        assert session.scalar(select(func.count(Article.id))) == len(EXPECTED)
        broken = session.scalars(select(Feed).where(Feed.url.like("%westmoor%"))).one()
        assert broken.status == "not a feed" and broken.failures == 1.0

        # An article carried by two feeds (one link with tracking parameters) is one row.
        shared = session.scalars(
            select(Article).join(ArticleSource).group_by(Article.id).having(func.count(ArticleSource.id) > 1)
        ).all()
        assert shared, "the sample lists some articles in two feeds"
        assert all("utm_" not in a.canonical_url for a in shared)

        # The teaser page falls back to the feed's full content.
        teaser = next(p for p in EXPECTED if p["kind"] == "teaser")
        article = session.scalars(select(Article).where(Article.canonical_url.endswith(teaser["path"]))).one()
        assert article.extraction_method == "feed-content"

        alerts = {(a.topic_id, a.story_id): a for a in session.scalars(select(Alert))}
        payload = [alert_json(session, a) for a in alerts.values()]
    db.dispose()
    for alert in payload:
        assert alert["evidence"] and all(e["text"] for e in alert["evidence"])
        for source in alert["sources"]:
            for key in ("article_url", "canonical_url", "feed_url", "entry_id", "title", "fetched_at", "content_hash", "extraction_method"):
                assert source[key], f"alert {alert['id']} source lacks {key}"
    # One alert per (topic, story): the syndicated copy and the retelling joined their story.
    raised = {(a["topic"], s["canonical_url"].split(sample.base_url)[-1]) for a in payload for s in a["sources"]}
    for page in EXPECTED:
        for topic in page["topics"]:
            assert (topic, page["path"]) in raised, f"{page['path']} should alert for {topic}"
    negatives = {p["path"] for p in EXPECTED if not p["topics"]}
    assert not {path for _, path in raised} & negatives, "a hard negative raised an alert"
    stories = {}
    for page in EXPECTED:
        stories.setdefault(page["story"], set()).add(page["path"])
    for alert in payload:
        paths = {s["canonical_url"].split(sample.base_url)[-1] for s in alert["sources"]}
        groups = {story for story, members in stories.items() if paths & members}
        assert len(groups) == 1, f"alert {alert['id']} mixes stories {groups}"


def test_a_second_pass_fetches_no_article_again(tmp_path, sample, database_url) -> None:
    settings = configure(tmp_path, sample, database_url)
    run_pass(settings)
    fetched_once = sorted(article_paths(sample))
    assert len(set(fetched_once)) == len(fetched_once) == len(EXPECTED)
    db = open_database(settings.resolved_database_url)
    with db.session() as session:
        alerts_before = session.scalar(select(func.count(Alert.id)))
    sample.request_log.clear()

    summary = run_pass(settings)

    assert article_paths(sample) == []
    assert summary["articles_new"] == 0 and summary["alerts_new"] == 0 and summary["alerts_updated"] == 0
    assert summary["feeds_not_modified"] == 3
    with db.session() as session:
        assert session.scalar(select(func.count(Alert.id))) == alerts_before
        assert session.scalar(select(func.count(Article.id))) == len(EXPECTED)
    db.dispose()


def snapshot(database_url: str) -> dict[str, object]:
    """The stored state that must not depend on whether a pass was interrupted."""
    db = open_database(database_url)
    try:
        with db.session() as session:
            articles = sorted(
                (a.canonical_url, a.status, a.content_hash, a.extraction_method, a.version)
                for a in session.scalars(select(Article))
            )
            sources = sorted((s.feed.url, s.entry_id) for s in session.scalars(select(ArticleSource)))
            alerts = sorted(
                (a.topic_id, tuple(sorted(x.canonical_url for x in a.story.articles)))
                for a in session.scalars(select(Alert))
            )
    finally:
        db.dispose()
    return {"articles": articles, "sources": sources, "alerts": alerts}


def test_a_pass_killed_midway_and_run_again_ends_in_the_same_state(tmp_path, database_url) -> None:
    # The pages are slow, so a kill lands in the middle of the article stage.
    with SampleServer(delay_seconds=0.3) as slow:
        settings = configure(tmp_path / "killed", slow, database_url)
        config_path = tmp_path / "killed" / "newswatch.yaml"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--engine", "plain", "--config", str(config_path)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(article_paths(slow)) < 4:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        db = open_database(settings.resolved_database_url)
        with db.session() as session:
            done = session.scalar(select(func.count(Article.id)).where(Article.status == "fetched"))
            claimed = session.scalar(select(func.count(Article.id)).where(Article.claim_token.is_not(None)))
        db.dispose()
        assert done < len(EXPECTED) and claimed > 0, "the kill should land mid-pass, with claims held"
        run_pass(load_settings(config_path))
        interrupted = snapshot(settings.resolved_database_url)

    with SampleServer() as server:
        reference = configure(tmp_path / "reference", server, f"sqlite:///{tmp_path / 'reference.db'}")
        run_pass(reference)
        uninterrupted = snapshot(reference.resolved_database_url)

    def relative(state: dict) -> dict:
        # The two servers ran on different ports: compare paths, not hosts.
        text = repr(state)
        for base in (slow.base_url, server.base_url):
            text = text.replace(base, "")
        return text

    assert relative(interrupted) == relative(uninterrupted)
