"""Links come from web.base_url, never from a request's Host or X-Forwarded-Host header;
emails and Slack messages link to the story page when base_url is set."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from starlette.testclient import TestClient
from typer.testing import CliRunner

from config.settings import ConfigError, Settings, load_settings
from flows.cli import app as cli
from flows.web import create_app
from storage.db import open_database
from tests.support.slack import WebhookRecorder, slack_webhook
from tests.support.smtp import RecordingHandler, smtp_server
from tests.test_web_app import NOW, Seeded, seed_database

BASE = "https://news.example.org/newswatch"
FORGED = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "http"}
PATHS = ["/", "/topics/uk-us-relations", "/topics/uk-us-relations/atom.xml", "/api/alerts?limit=1",
         "/stories/1", "/api/stories/1", "/alerts.csv", "/feeds", "/topics"]


def settings_with(tmp_path: Path, **web: Any) -> tuple[Settings, Seeded]:
    config = tmp_path / "newswatch.yaml"
    data: dict[str, Any] = {"database_url": f"sqlite:///{tmp_path / 'newswatch.db'}"}
    if web:
        data["web"] = web
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = load_settings(config)
    db = open_database(settings.resolved_database_url, migrate=True)
    ids = seed_database(db)
    db.dispose()
    return settings, ids


@pytest.fixture
def based(tmp_path: Path) -> Iterator[tuple[TestClient, Seeded, Settings]]:
    settings, ids = settings_with(tmp_path, base_url=BASE + "/", trust_proxy_headers=True)
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        yield client, ids, settings


def test_base_url_is_normalised_and_checked(tmp_path: Path) -> None:
    def load(value: str) -> Settings:
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"web": {"base_url": value}}), encoding="utf-8")
        return load_settings(tmp_path / "c.yaml")

    assert load("HTTPS://news.example.org:8443/desk/").web.base_url == "https://news.example.org:8443/desk"
    assert load("http://127.0.0.1:8080").web.base_url == "http://127.0.0.1:8080"
    assert load_settings(None, base_dir=tmp_path).web.base_url is None
    assert load_settings(None, base_dir=tmp_path).web.trust_proxy_headers is False
    for bad in ("news.example.org", "ftp://news.example.org", "https://", "https://x.example/?a=1",
                "https://x.example/#top", "https://user:pw@x.example", "https://x.example:99999"):
        with pytest.raises(ConfigError) as raised:
            load(bad)
        assert "web.base_url" in str(raised.value)


@pytest.mark.parametrize("path", PATHS)
def test_a_forged_host_never_reaches_a_link(based, path: str) -> None:
    client, ids, _ = based
    response = client.get(path.replace("/1", f"/{ids.safe_story}"), headers=FORGED)
    assert response.status_code == 200, path
    assert "attacker" not in response.text and "attacker" not in response.headers.get("link", "")


def test_atom_links_come_from_base_url(based) -> None:
    client, ids, _ = based
    body = client.get("/topics/uk-us-relations/atom.xml", headers=FORGED).content
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
    assert self_link == f"{BASE}/topics/uk-us-relations/atom.xml"
    assert parsed.feed.link == f"{BASE}/topics/uk-us-relations"
    entry = parsed.entries[0]
    assert entry.link == f"{BASE}/stories/{ids.safe_story}"  # the story page …
    assert [link.href for link in entry.links if link.rel == "related"] == [
        "https://capitalwire.example/2026/11/envoys",  # … and the original article
    ]


def test_api_links_and_alert_urls_come_from_base_url(based) -> None:
    client, ids, settings = based
    response = client.get("/api/alerts?limit=1&topic=uk-us-relations&topic=foreign-campaigning", headers=FORGED)
    link = response.headers["link"]
    assert link.startswith(f"<{BASE}/api/alerts?topic=uk-us-relations&topic=foreign-campaigning&limit=1&cursor=")
    assert link.endswith('>; rel="next"')
    alerts = client.get("/api/alerts").json()
    assert {a["story_id"]: a["url"] for a in alerts}[ids.safe_story] == f"{BASE}/stories/{ids.safe_story}"
    # The CLI prints the same url field: the same contract.
    result = CliRunner().invoke(cli, ["alerts", "--config", str(settings.base_dir / "newswatch.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == alerts


def test_pages_link_under_the_base_urls_path(based) -> None:
    client, ids, _ = based
    html = client.get("/").text
    assert f'href="/newswatch/stories/{ids.safe_story}"' in html
    assert 'href="/newswatch/static/style.css"' in html and 'action="/newswatch/"' in html
    assert 'href="/stories/' not in html
    csv_link = client.get("/?q=agreed").text
    assert 'href="/newswatch/alerts.csv?q=agreed"' in csv_link


def test_without_base_url_links_are_relative_whatever_the_headers_say(tmp_path: Path) -> None:
    settings, ids = settings_with(tmp_path)
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        parsed = feedparser.parse(client.get("/topics/uk-us-relations/atom.xml", headers=FORGED).content)
        assert parsed.entries[0].link == f"/stories/{ids.safe_story}"
        link = client.get("/api/alerts?limit=1", headers=FORGED).headers["link"]
        assert link.startswith("</api/alerts?limit=1&cursor=")
        assert client.get("/api/alerts").json()[0]["url"] is None


def test_trusted_proxy_headers_without_base_url(tmp_path: Path) -> None:
    settings, ids = settings_with(tmp_path, trust_proxy_headers=True)
    with TestClient(create_app(settings, clock=lambda: NOW)) as client:
        def entry_link(headers: dict[str, str]) -> str:
            body = client.get("/topics/uk-us-relations/atom.xml", headers=headers).content
            return feedparser.parse(body).entries[0].link

        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "desk.example.org"}
        assert entry_link(proxied) == f"https://desk.example.org/stories/{ids.safe_story}"
        # A proxy that appends: the value it added (the last) counts, not the client's.
        appended = {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "attacker.example, desk.example.org"}
        assert entry_link(appended) == f"https://desk.example.org/stories/{ids.safe_story}"
        for bad_host in ("desk.example.org/evil", "a@b.example", "desk.example.org:1x", "exa mple.org"):
            assert entry_link({"X-Forwarded-Host": bad_host}) == f"/stories/{ids.safe_story}"
        assert entry_link({"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "desk.example.org"}) == (
            f"/stories/{ids.safe_story}"
        )


# Email and Slack ---------------------------------------------------------------------


def deliver_one(tmp_path: Path, base_url: str | None) -> tuple[RecordingHandler, WebhookRecorder, int]:
    from datetime import UTC, datetime, timedelta

    from storage.deliveries import enqueue_for_alert, sync_subscribers
    from tests.test_deliver_support import add_alert

    with smtp_server() as (handler, port), slack_webhook() as hook:
        config = {
            "database_url": "sqlite:///state.db",
            "smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "from": "newswatch <alerts@example.org>"},
            "subscribers": [{"name": "desk", "email": ["desk@example.org"], "slack_webhook": hook.url}],
        }
        if base_url:
            config["web"] = {"base_url": base_url}
        path = tmp_path / "newswatch.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        settings = load_settings(path)
        db = open_database(settings.resolved_database_url)
        now = datetime.now(UTC)
        with db.session() as session:
            sync_subscribers(session, settings, now - timedelta(days=1))
            alert = add_alert(session, now=now)
            enqueue_for_alert(session, alert, "new", now, settings)
            story_id = alert.story_id
        db.dispose()
        result = CliRunner().invoke(cli, ["deliver", "--config", str(path)])
        assert result.exit_code == 0 and "sent 2" in result.output, result.output
        return handler, hook, story_id


def test_email_and_slack_link_to_the_story_page_when_base_url_is_set(tmp_path: Path) -> None:
    handler, hook, story_id = deliver_one(tmp_path, BASE)
    page = f"{BASE}/stories/{story_id}"
    message = handler.messages[0].message
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"Story page (all evidence and every source): {page}" in text
    assert re.search(rf'<a href="{re.escape(page)}"[^>]*>Minister meets envoy</a>', html)  # the title opens the story page
    blocks = json.dumps(hook.payloads[0]["blocks"])
    assert f"<{page}|Minister meets envoy>" in blocks
    assert f"<{page}|All evidence and every source in newswatch>" in blocks


def test_without_base_url_messages_link_to_the_article_only(tmp_path: Path) -> None:
    handler, hook, _ = deliver_one(tmp_path, None)
    message = handler.messages[0].message
    assert "/stories/" not in message.get_body(("plain",)).get_content()
    assert "/stories/" not in json.dumps(hook.payloads[0])
