"""Pure rendering: escaping, header safety, Slack limits, stable IDs (no database, no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import SMTP, default

from hypothesis import given
from hypothesis import strategies as st

from tasks.notify.render import build_email, message_id, render_email, subject_of
from tasks.notify.slack_blocks import render_slack
from tasks.notify.text import one_line, safe_link, slack_escape, slack_link
from tasks.notify.views import MessageView, SourceView, StoryView
from tasks.retry_after import parse_retry_after as retry_after_seconds

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def story(n: int = 0, title: str = "Minister meets envoy", **extra: object) -> StoryView:
    fields: dict[str, object] = {
        "story_id": n, "title": title, "topics": ("uk-us-relations",), "score": 3.0,
        "snippet": "The minister met the envoy.", "terms": ("minister",),
        "sources": (SourceView(title=title, url=f"https://news.example.org/{n}", outlet="Example News",
                               feeds=("Example Wire",)),),
        "source_count": 1,
    }
    fields.update(extra)
    return StoryView(**fields)  # type: ignore[arg-type]


def view(*stories: StoryView, kind: str = "alert") -> MessageView:
    return MessageView(kind=kind, subscriber="desk", key="alert:1", stories=stories or (story(),),
                       period_start=NOW - timedelta(days=1), period_end=NOW, every="daily")


def test_one_line_removes_every_line_break_and_control_character() -> None:
    assert one_line("a\r\nBcc: x\u2028y\x00z\x85w\tv") == "a Bcc: x y z w v"
    assert one_line("x" * 300, 10) == "xxxxxxxxx…"


@given(st.text())
def test_one_line_never_contains_anything_that_could_end_a_header(text: str) -> None:
    cleaned = one_line(text)
    assert not any(ch in cleaned for ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00")


@given(st.text())
def test_slack_escape_leaves_no_markup_or_mentions(text: str) -> None:
    escaped = slack_escape(text)
    assert "<" not in escaped and ">" not in escaped
    lowered = escaped.lower()
    assert "@channel" not in lowered and "@here" not in lowered and "@everyone" not in lowered


def test_slack_escape_follows_slacks_rules() -> None:
    assert slack_escape("A & B <!here> @channel") == "A &amp; B &lt;!here&gt; @\u2060channel"


def test_links_only_for_http_and_never_broken_out_of() -> None:
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("data:text/html,x") is None
    assert safe_link("https://example.org/a b") is None
    assert safe_link("https://example.org/a?b=1&c=2") == "https://example.org/a?b=1&c=2"
    link = slack_link("https://example.org/x|y>z", "Title | with <b>")
    assert link == "<https://example.org/x%7Cy%3Ez|Title ¦ with &lt;b&gt;>"
    assert slack_link("javascript:alert(1)", "Click") == "Click"


def test_message_id_is_stable_and_distinct_per_subscriber_and_key() -> None:
    assert message_id("alert:1", "desk") == message_id("alert:1", "desk")
    assert message_id("alert:1", "desk") != message_id("alert:2", "desk")
    assert message_id("alert:1", "desk") != message_id("alert:1", "other")
    assert message_id("alert:1", "desk").endswith("@newswatch>")


def test_email_is_multipart_with_escaped_html_and_one_line_subject() -> None:
    hostile = story(title="<script>x</script>\r\nBcc: evil@example.net")
    rendered = render_email(view(hostile))
    message = build_email(view(hostile), rendered, sender="newswatch <alerts@example.org>",
                          recipients=["a@example.org", "b@example.org"], date=NOW)
    parsed = message_from_bytes(message.as_bytes(policy=SMTP), policy=default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Bcc"] is None
    assert parsed["To"] == "a@example.org, b@example.org"
    assert parsed["Subject"] == "[newswatch] uk-us-relations: <script>x</script> Bcc: evil@example.net"
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_update_subject_counts_new_sources_and_threads() -> None:
    new = SourceView(title="Follow-up", url="https://b.example.org/", outlet="B", is_new=True)
    old = SourceView(title="First", url="https://a.example.org/", outlet="A")
    grown = story(sources=(new, old), source_count=2, status="updated")
    update = MessageView(kind="update", subscriber="desk", key="alert:1:update:1",
                         stories=(grown,), thread_key="alert:1")
    assert subject_of(update) == "[newswatch] Update: Minister meets envoy (+1 source)"
    message = build_email(update, render_email(update), sender="alerts@example.org",
                          recipients=["a@example.org"], date=NOW)
    assert message["In-Reply-To"] == message_id("alert:1", "desk")


def test_slack_digest_stays_within_block_kit_limits() -> None:
    long_snippet = "word " * 2000
    stories = [story(n, title=f"Story {n}", snippet=long_snippet) for n in range(40)]
    payload = render_slack(view(*stories, kind="digest"))
    assert len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    shown = sum(1 for block in payload["blocks"] if block["type"] == "section" and "Story " in block["text"]["text"])
    assert 10 <= shown < 40
    assert f"and {40 - shown} more stories" in json.dumps(payload)
    assert payload["text"].startswith("Daily digest")


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Sat, 28 Nov 2026 09:02:00 GMT", NOW) == 120.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_notify_package_and_delivery_storage_never_import_prefect() -> None:
    import subprocess
    import sys

    code = ("import sys, tasks.notify, tasks.notify.preview, storage.deliveries; "
            "print('prefect' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert result.stdout.strip() == "False", result.stderr
