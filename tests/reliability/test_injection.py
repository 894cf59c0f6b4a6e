"""Hostile feed text reaches every sink escaped: email HTML, email headers, Slack blocks and
the terminal (``newswatch alerts`` / ``articles`` tables).

A real pass over a page whose title is hostile raises a real alert; then the stored titles
are overwritten with the full hostile string (raw CR/LF and ESC cannot survive HTML or XML
parsing, but a future extractor or source might let them through), and the sinks are read.
"""

from __future__ import annotations

import json
from html import escape

import pytest
from sqlalchemy import update

from config.settings import load_settings
from flows.demo_server import DEFAULT_ROOT
from storage.db import open_database
from storage.models import Alert, Article, ArticleSource
from tasks.notify import deliver_pending
from tests.reliability.harness import Item, Pipeline, cli_json, rss
from tests.support.httpserver import LocalSite
from tests.support.slack import slack_webhook
from tests.support.smtp import smtp_server

PAGE = "/world/oval-office.html"
ORIGINAL = "PM hails ‘working partnership’ with US in Oval Office talks"
HOSTILE = (
    'PM and US <script>alert(1)</script> "><img src=x onerror=alert(2)> '
    "\r\nBcc: attacker@x.example\r\n @channel <!here> <!channel> \x1b[2J\x1b]0;owned\x07 end"
)


@pytest.fixture
def delivered(tmp_path):
    """(email messages, Slack payloads, config path) after a pass and a delivery."""
    with LocalSite() as site, smtp_server() as (mail, port), slack_webhook() as hook:
        page = (DEFAULT_ROOT / "harbour/news/world/pm-hails-working-partnership-oval-office.html").read_text()
        page = page.replace("{{base}}", site.origin).replace(ORIGINAL, escape(HOSTILE.replace("\x1b", "")))
        site.route(PAGE, page, content_type="text/html; charset=utf-8")
        site.route("/feed.xml", rss([Item("PM and US <script>x</script> @channel", site.url(PAGE), guid="g")]),
                   content_type="application/rss+xml")
        pipeline = Pipeline(tmp_path, site, feeds=[site.url("/feed.xml")])
        extra = {
            "smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "from": "nw <a@example.org>"},
            "delivery": {"baseline_on_first_run": False},
            "subscribers": [{"name": "desk", "email": ["desk@example.org"], "slack_webhook": hook.url}],
        }
        outcome = pipeline.run(**extra)
        assert outcome.article(site.url(PAGE))["status"] == "fetched"
        settings = load_settings(pipeline.config_path)
        db = open_database(settings.resolved_database_url)
        with db.session() as session:
            assert session.execute(update(Alert).values(title=HOSTILE)).rowcount >= 1, "no alert raised"
            session.execute(update(Article).values(title=HOSTILE))
            session.execute(update(ArticleSource).values(entry_title=HOSTILE))
        db.dispose()
        summary = deliver_pending(settings)
        assert summary.sent >= 2, summary.describe()
        yield mail.messages, hook.payloads, pipeline.config_path


def test_email_headers_stay_one_line(delivered, reliability) -> None:
    messages, _, _ = delivered
    for received in messages:
        head = received.data.split(b"\r\n\r\n", 1)[0]
        names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]
        assert b"bcc" not in names, head
        assert received.rcpt_tos == ["desk@example.org"], received.rcpt_tos
        assert b"\x1b" not in head and b"\x07" not in head
        subject = str(received.message["Subject"])
        assert "\r" not in subject and "\n" not in subject and "Bcc: attacker" in subject
    reliability.record(f"{len(messages)} emails: no Bcc header, one recipient, Subject one line without ESC")


def test_email_html_is_escaped(delivered, reliability) -> None:
    messages, _, _ = delivered
    for received in messages:
        html = received.message.get_body(("html",)).get_content()
        for raw in ("<script>", "<img src=x", "<!here>"):
            assert raw not in html, f"{raw!r} unescaped in the email HTML"
        assert "&lt;script&gt;" in html
        assert "\x1b" not in html
    reliability.record("email HTML: <script>, <img onerror>, <!here> appear only escaped")


def test_slack_blocks_are_escaped(delivered, reliability) -> None:
    _, payloads, _ = delivered
    assert payloads
    for payload in payloads:
        text = json.dumps(payload, ensure_ascii=False)
        for raw in ("<!here>", "<!channel>", "<script>", "<img", "\x1b", "\\u001b"):
            assert raw not in text, f"{raw!r} reached a Slack payload"
        assert "@channel" not in text.replace("@\u2060channel", ""), "an @channel mention survived"
    reliability.record(f"{len(payloads)} Slack payloads: no <!here>/<!channel>/@channel, no markup, no ESC")


@pytest.mark.parametrize("command", ["alerts", "articles", "feeds"])
def test_terminal_tables_are_safe(delivered, reliability, command) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    _, _, config = delivered
    result = CliRunner().invoke(app, [command, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output
    rows = result.output.splitlines()
    assert not any(line.lstrip().startswith("Bcc:") for line in rows), result.output
    shown = json.dumps(cli_json(command, config))  # the JSON keeps the text, escaped by JSON
    assert "\\u001b" in shown or command == "feeds"
    reliability.record(f"`newswatch {command}` table: no ESC/BEL/CR, hostile title on one line")
