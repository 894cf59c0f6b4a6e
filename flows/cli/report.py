"""What the CLI prints about a pass and its alerts, shared by ``run``, ``alerts`` and the demo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import typer

from flows.cli.common import print_table, terminal_safe


def print_pass_summary(counts: Mapping[str, int], problems: Sequence[str]) -> None:
    """A pass's counts in five lines, then its first problems."""
    feeds = (
        f"feeds: {counts.get('feeds_ok', 0)} ok, {counts.get('feeds_not_modified', 0)} not modified, "
        f"{counts.get('feeds_failed', 0)} failed (of {counts.get('feeds_due', 0)} polled)"
    )
    articles = (
        f"articles: {counts.get('articles_new', 0)} new, {counts.get('articles_extracted', 0)} extracted, "
        f"{counts.get('articles_failed', 0) + counts.get('articles_rejected', 0)} failed, "
        f"{counts.get('articles_retry', 0)} to retry"
    )
    alerts = f"alerts: {counts.get('alerts_new', 0)} new, {counts.get('alerts_updated', 0)} updated"
    stories = f"stories: {counts.get('stories_new', 0)} new, {counts.get('stories_joined', 0)} grown"
    typer.echo("\n".join([feeds, articles, stories, alerts, f"took {counts.get('seconds', 0)} s"]))
    if problems:
        typer.echo(f"problems ({len(problems)}; `newswatch feeds` shows each feed's state):")
        for line in problems[:10]:
            typer.echo(f"  - {terminal_safe(line, 160)}")
        if len(problems) > 10:
            typer.echo(f"  … and {len(problems) - 10} more")


def print_alert_table(found: Sequence[Any], labels: Any, *, filtered: bool = False) -> None:
    """Alerts as a table: topic names (``labels``: tasks/topics/labels.py), the score in
    words against the threshold, and each alert's strongest evidence."""
    if not found:
        typer.echo("no alerts match" if filtered else "no alerts yet")
        return
    rows = [
        [a.id, labels.name(a.topic_id), labels.explain(a.topic_id, a.score, a.threshold), a.article_count,
         a.published_at.strftime("%Y-%m-%d %H:%M"), a.title, _strongest_evidence(a.evidence)]
        for a in found
    ]
    print_table(
        ["id", "topic", "score", "sources", "published (UTC)", "title", "strongest evidence"], rows,
        [6, 46, 36, 7, 16, 60, 100],
    )


def _strongest_evidence(evidence: Any) -> str:
    """The strongest item (storage.evidence.strongest_item), with its outlet when the story has several."""
    from storage.evidence import strongest_item

    item = strongest_item(evidence)
    if item is None:
        return ""
    text = " ".join(str(item["text"]).split())
    return f"{item['outlet']}: {text}" if item.get("outlet") else text


def list_alerts(session: Any, query: Any, limit: int | None = None) -> list[Any]:
    """The alerts ``query`` finds, at most ``limit`` of them (all when None)."""
    from storage.alert_list import iter_alerts

    found: list[Any] = []
    for batch in iter_alerts(session, query):
        found.extend(batch)
        if limit and len(found) >= limit:
            break
    return found[:limit] if limit else found
