"""The Slack message: the email's content as Block Kit, within Slack's limits.

Limits kept: at most 50 blocks, a section's text at most 3000 characters, a header's at
most 150. A digest lists stories under their topics while blocks remain and says how many
more there are.
"""

from __future__ import annotations

from typing import Any

from tasks.notify.message_parts import intro_of, subject_of, topic_groups
from tasks.notify.text import one_line, slack_escape, slack_link, slack_plain_text
from tasks.notify.views import MessageView

MAX_BLOCKS = 50
SLACK_SECTION_LIMIT = 2900  # a section's text may hold 3000 characters
SLACK_CONTEXT_LIMIT = 1900  # a context element's text may hold 2000
MAX_SOURCES_LISTED = 8


def _cap(text: str, limit: int = SLACK_SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cap(text, SLACK_CONTEXT_LIMIT)}]}


def _quote_mrkdwn(story: dict[str, Any]) -> str:
    # Bold needs a boundary Slack recognises; the found words are whole words already.
    parts = [f"*{slack_escape(p['text'])}*" if p["found"] else slack_escape(p["text"]) for p in story["quote"]]
    by = f" — {slack_escape(story['quote_outlet'])}" if story["quote_outlet"] else ""
    return "> " + "".join(parts).replace("\n", " ") + by


def story_mrkdwn(story: dict[str, Any], digest: bool = False) -> str:
    """Title, date and outlets, the strongest evidence, and why (one section).

    In a digest the story sits under its topic's heading: only its other topics are named.
    """
    title = slack_link(story["link"], story["title"]) if story["link"] else slack_escape(story["title"])
    updated = " _(updated)_" if story["status"] == "updated" else ""
    others = story.get("other_topics") or []
    facts = [("also " + " · ".join(others)) if others else ""] if digest else [" · ".join(story["topics"])]
    if story["published"]:
        facts.append(f"published {story['published']}")
    if story["outlets"]:
        more = f" and {story['more_outlets']} more" if story["more_outlets"] else ""
        facts.append(", ".join(story["outlets"]) + more)
    lines = [f"*{title}*{updated}", slack_escape(" · ".join(f for f in facts if f))]
    if story["quote"]:
        lines.append(_quote_mrkdwn(story))
    found = f" · found: {', '.join(story['words'])}" if story["words"] else ""
    lines.append(slack_escape(f"Why: {story['score_words']}{found}"))
    if story["page"]:
        lines.append(slack_link(story["page"], "All evidence and every source in newswatch"))
    return _cap("\n".join(lines))


def sources_mrkdwn(story: dict[str, Any]) -> str:
    """The other sources, linked by outlet (the title's own link is not repeated)."""
    parts = []
    for source in story["sources"][:MAX_SOURCES_LISTED]:
        mark = "*new* " if source["is_new"] else ""
        label = source["outlet"] + (f": {source['title']}" if source["title"] else "")
        parts.append(f"{mark}{slack_link(source['url'], one_line(label, 140))}")
    more = story["more"] + max(len(story["sources"]) - MAX_SOURCES_LISTED, 0)
    if not parts and not more:
        return ""
    tail = f" · and {more} more" if more else ""
    return f"{story['sources_heading']}: " + " · ".join(parts) + tail


def _header_text(view: MessageView) -> str:
    return slack_plain_text(subject_of(view).removeprefix("[newswatch] "))


def _story_blocks(story: dict[str, Any], digest: bool) -> list[dict[str, Any]]:
    text = story_mrkdwn(story, digest)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    sources = sources_mrkdwn(story)
    if sources:
        blocks.append(_context(sources))
    return blocks


def render_slack(view: MessageView) -> dict[str, Any]:
    """An incoming-webhook payload: Block Kit blocks plus a plain ``text`` fallback."""
    digest = view.kind == "digest"
    groups = topic_groups(view)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header_text(view), "emoji": False}},
        _context(slack_escape(intro_of(view))),
    ]
    if digest:
        contents = " · ".join(f"{g['name']} ({len(g['stories'])})" for g in groups)
        blocks.append(_context(slack_escape(f"In this digest: {contents}")))
    budget = MAX_BLOCKS - 1  # one kept for "… and N more"
    shown = 0
    full = False
    for group in groups:
        if full:
            break
        heading: list[dict[str, Any]] = [{"type": "divider"}]
        if digest:
            heading.append({"type": "section", "text": {"type": "mrkdwn", "text": _cap(f"*{slack_escape(group['name'])}*")}})
        for number, story in enumerate(group["stories"]):
            wanted = (heading if number == 0 else [{"type": "divider"}]) + _story_blocks(story, digest)
            if len(blocks) + len(wanted) > budget:
                full = True
                break
            blocks.extend(wanted)
            shown += 1
    hidden = len(view.stories) - shown
    if hidden > 0:
        blocks.append(_context(f"… and {hidden} more stories (see the email digest)"))
    return {
        "text": slack_escape(_fallback_text(view)),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _fallback_text(view: MessageView) -> str:
    if view.kind == "digest":
        titles = "; ".join(one_line(s.title, 80) for s in view.stories[:5])
        return one_line(f"{subject_of(view).removeprefix('[newswatch] ')}: {titles}", 400)
    return subject_of(view).removeprefix("[newswatch] ")
