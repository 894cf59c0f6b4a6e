"""What a subscriber reads: built from stored rows (real SQLite), rendered to email and Slack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.settings import SubscriberConfig
from storage.db import Database
from tasks.notify.evidence import quote_of, strongest
from tasks.notify.render import build_email, render_email
from tasks.notify.slack_blocks import render_slack
from tasks.notify.topics import TopicInfo
from tasks.notify.views import MessageView, message_view
from tests.support.messages import (
    OLD_EVIDENCE,
    RICH_EVIDENCE,
    add_story,
    alert_delivery,
    digest_delivery,
    sample_digest,
)
from tests.test_deliver_support import T0, open_test_database

database = pytest.fixture(open_test_database, name="database")
DESK = SubscriberConfig(name="desk", email=["desk@example.org"])
TOPICS = {
    "uk-us-relations": TopicInfo("UK–US relations", 6.0),
    "foreign-campaigning": TopicInfo("Foreign campaigning", 6.0),
}
BASE = "https://news.example.org/newswatch"


def alert_view(database: Database, *, base_url: str | None = BASE, **story: object) -> MessageView:
    with database.session() as session:
        alert = add_story(session, **story)  # type: ignore[arg-type]
        return message_view(session, alert_delivery(alert), DESK, base_url=base_url, topics=TOPICS)


def visible_text(html: str) -> str:
    """The HTML a reader sees: the hidden preheader and the tags removed."""
    body = re.sub(r"<div style=\"display: none;.*?</div>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_strongest_evidence_uses_contribution_then_stored_order() -> None:
    assert strongest(RICH_EVIDENCE) is RICH_EVIDENCE[0]
    assert strongest(list(reversed(RICH_EVIDENCE))) is RICH_EVIDENCE[0]  # by contribution
    assert strongest(OLD_EVIDENCE) is OLD_EVIDENCE[1]  # older rows: by the rule's weight
    assert strongest([{"text": "a"}, {"text": "b"}]) == {"text": "a"}  # else the stored order
    assert strongest([{"text": " "}, "junk"]) is None


def test_found_words_prefer_matched_words_then_words_then_terms() -> None:
    rich = quote_of(RICH_EVIDENCE)
    assert rich is not None and rich.outlet == "Harbour Times"
    assert [t for t, found in rich.pieces if found] == ["Foreign Secretary", "US ambassador", "trade deal"]
    words = quote_of([{"text": "They met the US envoy.", "words": ["met", "US"], "terms": ["x"]}])
    assert words is not None and [t for t, f in words.pieces if f] == ["met", "US"]
    # Query terms: a prefix, an exact word, a phrase across a line break, any case.
    terms = quote_of([{"text": "Meeting the us team, the Prime\nMinister met US staff.",
                       "terms": ["meet*", "=US", "prime minister"]}])
    assert terms is not None
    assert [t for t, f in terms.pieces if f] == ["Meeting", "Prime Minister", "US"]
    assert terms.words == ("Meeting", "Prime Minister", "US")
    assert terms.text == "Meeting the us team, the Prime Minister met US staff."


def test_alert_email_says_when_who_why_and_links_the_story_page(database: Database) -> None:
    view = alert_view(database, title="Foreign Secretary meets US ambassador",
                      outlets=(("Harbour Times", "Harbour Times"), ("Daily Ledger", "Ledger World")))
    rendered = render_email(view)
    story_id = view.stories[0].story_id
    page = f"{BASE}/stories/{story_id}"
    text, seen = rendered.text, visible_text(rendered.html)
    assert rendered.subject == "[newswatch] UK–US relations: Foreign Secretary meets US ambassador"
    for body in (text, seen):
        assert "28 Nov 2026, 06:00 UTC" in body  # published (three hours before T0)
        assert "Harbour Times, Daily Ledger" in body  # the outlets
        assert "strong match: 10.5; alerts from 6" in body  # the score in words
        assert "found: Foreign Secretary, US ambassador, trade deal" in body
        assert "Harbour Times (via Harbour Times)" not in body
        assert "Daily Ledger (via Ledger World)" in body
        assert "alert:" not in body and "Delivery" not in body and "uk-us-relations" not in body
    assert f'<a href="{page}"' in rendered.html and page in text
    assert '<strong style="background: #fff1b8; color: #1a1a1a;">US ambassador</strong>' in rendered.html
    assert "The *Foreign Secretary* met the *US ambassador* in Washington to discuss the *trade deal*." in text
    # The weaker sentence is not the one quoted.
    assert "talks would continue" not in text


def test_without_a_story_page_the_title_link_is_not_repeated_below(database: Database) -> None:
    view = alert_view(database, base_url=None, title="Envoy summoned",
                      outlets=(("Harbour Times", "Harbour Times"), ("Daily Ledger", "Daily Ledger")))
    rendered = render_email(view)
    first, second = (s.url for s in view.stories[0].sources)
    assert rendered.html.count(f'href="{first}"') == 1  # the title only
    assert rendered.html.count(f'href="{second}"') == 1  # the one other source
    assert "Also reported by" in rendered.html and "Also reported by:" in rendered.text
    assert rendered.text.count(first) == 1 and rendered.text.count(second) == 1
    assert "/stories/" not in rendered.html


def test_preheader_leads_the_html_and_says_what_the_inbox_should_show(database: Database) -> None:
    rendered = render_email(alert_view(database, title="Envoy summoned"))
    body = rendered.html.split("<body", 1)[1]
    hidden = re.search(r'<div style="display: none;[^>]*>([^<&]*)', body)
    assert hidden is not None and body.index(hidden.group(0)) < body.index("A new story matched")
    assert hidden.group(1).startswith("28 Nov 2026, 06:00 UTC · Harbour Times — The Foreign Secretary met")
    assert len(hidden.group(1)) <= 140


def test_digest_is_grouped_by_topic_with_contents(database: Database) -> None:
    with database.session() as session:
        alerts = sample_digest(session)
        view = message_view(session, digest_delivery(alerts), DESK, base_url=BASE, topics=TOPICS)
    rendered = render_email(view)
    text = rendered.text
    contents = text.index("In this digest:")
    assert text.index("  - Foreign campaigning (2 stories)", contents) < text.index("  - UK–US relations (2 stories)")
    campaigning, relations = text.index("FOREIGN CAMPAIGNING\n"), text.index("UK–US RELATIONS\n")
    assert campaigning < text.index("Bot networks amplified") < relations
    assert relations < text.index("Embassy staff cuts") and relations < text.index("Foreign Secretary meets")
    assert '<a href="#topic-1"' in rendered.html and 'id="topic-1"' in rendered.html
    assert 'id="topic-2"' in rendered.html and "digest:" not in visible_text(rendered.html)
    # Old evidence without contributions: the rule with the largest weight is quoted.
    assert '"The *Prime Minister* spoke with the *President* about NATO."' in text
    message = build_email(view, rendered, sender="alerts@example.org", recipients=["desk@example.org"], date=T0)
    assert message["X-Newswatch-Delivery"].startswith("digest:desk:")
    assert message["X-Newswatch-Stories"] == " ".join(str(s.story_id) for s in view.stories)


def test_slack_says_what_the_email_says(database: Database) -> None:
    view = alert_view(database, title="Envoy <summoned> & @channel",
                      outlets=(("Harbour Times", "Harbour Times"), ("Daily Ledger", "Ledger World")))
    payload = render_slack(view)
    blob = json.dumps(payload, ensure_ascii=False)
    section = next(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert "UK–US relations · published 28 Nov 2026, 06:00 UTC · Harbour Times, Daily Ledger" in section
    assert "> The *Foreign Secretary* met the *US ambassador*" in section and "— Harbour Times" in section
    assert "Why: strong match: 10.5; alerts from 6" in section
    assert f"<{BASE}/stories/{view.stories[0].story_id}|Envoy &lt;summoned&gt; &amp; @\u2060channel>" in section
    assert "Daily Ledger" in blob and "alert:" not in blob
    with_json = json.loads(blob)
    assert len(with_json["blocks"]) <= 50


def test_slack_digest_lists_topics_and_stays_within_limits(database: Database) -> None:
    with database.session() as session:
        alerts = sample_digest(session)
        alerts += [add_story(session, title=f"Filler story {n}", score=7.0) for n in range(40)]
        view = message_view(session, digest_delivery(alerts, "slack"), DESK, base_url=BASE, topics=TOPICS)
    payload = render_slack(view)
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "In this digest: Foreign campaigning (2) · UK–US relations (42)" in json.dumps(payload, ensure_ascii=False)
    shown = sum(1 for b in blocks if b["type"] == "section" and "Why:" in b["text"]["text"])
    assert f"and {44 - shown} more stories" in blocks[-1]["elements"][0]["text"]


def test_a_broken_topic_folder_leaves_ids_and_bare_scores(tmp_path: Path) -> None:
    from tasks.notify.topics import score_in_words, topic_directory, topic_name
    from tests.test_deliver_support import make_settings

    (tmp_path / "bad.yaml").write_text("id: [not, an, id]\n", encoding="utf-8")
    directory = topic_directory(make_settings(tmp_path, topics=str(tmp_path)))
    assert directory == {}
    assert topic_name(directory, "uk-us-relations") == "uk-us-relations"
    assert score_in_words(directory, "uk-us-relations", 4.25) == "score 4.2"
    shipped = topic_directory(make_settings(tmp_path))
    assert shipped["uk-us-relations"].name == "UK–US relations"


def test_old_evidence_names_its_outlet_from_the_article_that_matched(database: Database) -> None:
    from storage.models import AlertMatch

    with database.session() as session:
        alert = add_story(session, title="Leaders talk", evidence=OLD_EVIDENCE,
                          outlets=(("Harbour Times", "Harbour Times"), ("Daily Ledger", "Daily Ledger")))
        second = max(a.id for a in alert.story.articles)
        session.add(AlertMatch(alert_id=alert.id, article_id=second, score=4.0, topic_version="v1",
                               evidence=OLD_EVIDENCE, matched_at=T0))
        session.flush()
        session.expire(alert)
        view = message_view(session, alert_delivery(alert), DESK, topics=TOPICS)
    quote = view.stories[0].quote
    assert quote is not None and quote.outlet == "Daily Ledger"
    assert '"The *Prime Minister* spoke with the *President* about NATO." — Daily Ledger' in render_email(view).text


def test_the_score_reads_against_the_threshold_the_alert_was_raised_with() -> None:
    from tasks.notify.topics import score_in_words

    # The topic now alerts from 12; the alert fired when it alerted from 6.
    directory = {"uk-us-relations": TopicInfo("UK–US relations", 12.0)}
    assert score_in_words(directory, "uk-us-relations", 10.5, 6.0) == "strong match: 10.5; alerts from 6"
    assert score_in_words(directory, "uk-us-relations", 10.5).startswith("below the threshold")
