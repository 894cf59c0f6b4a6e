"""``newswatch alerts``, ``articles`` and ``feeds``: what the database holds, as a table,
JSON (its fields are a contract: tests/test_cli_contract.py), CSV or OPML."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from flows.cli.common import (
    ConfigOption,
    FormatOption,
    LimitOption,
    TableOrJson,
    check_topic,
    command_group,
    database_session,
    fail,
    parse_since,
    print_json,
    print_table,
    settings_from,
    topic_labels,
)
from flows.cli.report import list_alerts, print_alert_table

app = command_group("Alerts, articles and feeds as stored.")


class ArticleStatus(StrEnum):
    pending = "pending"
    fetched = "fetched"
    failed = "failed"
    rejected = "rejected"


class AlertsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command("alerts")
def alerts(
    config: ConfigOption = None,
    format: Annotated[AlertsFormat, typer.Option("--format", "-f", help="table, json or csv.")] = AlertsFormat.table,
    topic: Annotated[str | None, typer.Option(help="Only this topic id.")] = None,
    since: Annotated[str | None, typer.Option(help="Only stories published since: 30d, 12h or a date.")] = None,
    limit: LimitOption = None,
    search: Annotated[
        str | None, typer.Option("--search", help='Full-text search: words, "a phrase", tarif*, -word.')
    ] = None,
) -> None:
    """List alerts with their evidence and sources, newest published first."""
    from storage.alert_list import AlertQuery
    from storage.clock import utcnow
    from storage.search import SearchError, parse_search

    settings = settings_from(config, "alerts")
    try:
        searched = parse_search(search, "--search") if search is not None else None
    except SearchError as exc:
        fail(str(exc))
    query = AlertQuery(
        topics=(topic,) if topic else (), since=parse_since(since, utcnow()), search=searched,
    )
    with database_session(settings, read_only=True) as session:
        if topic is not None:
            check_topic(session, settings, topic)
        found = list_alerts(session, query, limit)
        labels = topic_labels(settings)
        if format is AlertsFormat.json:
            from storage.serialize import alerts_json

            print_json(alerts_json(session, found, base_url=settings.web.base_url, labels=labels))
            return
        if format is AlertsFormat.csv:
            _print_alerts_csv(session, settings, found)
            return
        print_alert_table(found, labels, filtered=bool(searched or topic or since))


def _print_alerts_csv(session: Any, settings: Any, found: list[Any]) -> None:
    """The same CSV as the web app's /alerts.csv (storage/export.py)."""
    import sys

    from storage.alert_list import story_facts
    from storage.export import csv_lines, csv_row
    from tasks.topics import TopicDefinitionError, load_topics

    try:
        names = {t.id: t.name for t in load_topics(settings.topics, settings.base_dir).topics}
    except TopicDefinitionError:
        names = {}  # the ids stand in for names; the alerts are what was asked for
    facts = story_facts(session, [a.story_id for a in found])
    rows = (csv_row(a, facts.get(a.story_id), names, settings.web.base_url) for a in found)
    for line in csv_lines(rows):
        sys.stdout.write(line)


@app.command("articles")
def articles(
    config: ConfigOption = None,
    format: FormatOption = TableOrJson.table,
    status: Annotated[ArticleStatus | None, typer.Option(help="Only articles in this state.")] = None,
    limit: LimitOption = None,
) -> None:
    """List stored articles with their provenance."""
    from sqlalchemy import select

    from storage.models import Article
    from storage.serialize import article_json

    settings = settings_from(config, "articles")
    with database_session(settings, read_only=True) as session:
        query = select(Article).order_by(Article.id.desc())
        if status:
            query = query.where(Article.status == status.value)
        if limit:
            query = query.limit(limit)
        found = list(session.scalars(query))
        if format is TableOrJson.json:
            print_json([article_json(a) for a in found])
            return
        rows = [
            [a.id, a.status, a.extraction_method or "", len(a.text or ""), a.title or "", a.status_detail or "", a.canonical_url]
            for a in found
        ]
        print_table(["id", "status", "method", "chars", "title", "detail", "url"], rows, [6, 8, 12, 7, 60, 40, 80])


class FeedsFormat(StrEnum):
    table = "table"
    json = "json"
    opml = "opml"


@app.command("feeds")
def feeds(
    config: ConfigOption = None,
    format: Annotated[
        FeedsFormat, typer.Option("--format", "-f", help="table, json, or opml (the configured feeds as OPML 2.0).")
    ] = FeedsFormat.table,
) -> None:
    """Each feed's state: status, last fetch, failures, next poll (or the feed list as OPML)."""
    from storage.serialize import feeds_json

    settings = settings_from(config, "feeds")
    if format is FeedsFormat.opml:
        from config.opml import OpmlFeed, render_opml
        from storage.clock import utcnow

        listed = [OpmlFeed(url=f.url, name=f.name, html_url=f.html_url) for f in settings.feeds]
        if not listed:
            typer.echo("newswatch: the config lists no feeds (feeds: or feed_lists:); the OPML below is empty", err=True)
        typer.echo(render_opml(listed, now=utcnow()), nl=False)
        return
    with database_session(settings, read_only=True) as session:
        found = feeds_json(session)
    if format is FeedsFormat.json:
        print_json(found)
        return
    if not found:
        typer.echo("no feeds polled yet: run `newswatch run` first")
        return
    rows = [
        [f["id"], f["status"], f["last_http_status"] or "", f["failures"], (f["last_fetched_at"] or "")[:16], (f["next_poll_at"] or "")[:16], f["articles"], f["name"] or "", f["url"], f["warning"] or ""]
        for f in found
    ]
    print_table(["id", "status", "http", "failures", "last fetch", "next poll", "articles", "name", "url", "warning"], rows, [5, 40, 4, 8, 16, 16, 8, 30, 80, 100])
