"""The ``newswatch`` command line. Command names, options and JSON fields are a contract."""

from __future__ import annotations

import contextlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.common import (
    ConfigOption,
    FormatOption,
    LimitOption,
    TableOrJson,
    TextOrJson,
    database_session,
    fail,
    parse_since,
    print_json,
    print_table,
    quiet_prefect_environment,
    settings_from,
    terminal_safe,
    topic_labels,
    topics_from,
)
from flows.cli.passes import Engine, check_ready, run_pass
from flows.cli.progress import choose_mode
from flows.cli.report import list_alerts, print_alert_table, print_pass_summary
from tasks.runtime import Runtime

app = typer.Typer(
    name="newswatch",
    help="Monitor news feeds for watch topics; one explained alert per story.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and errors: flags read as flags (--all / --no-all, not "--all <bool>"),
    # and a usage error is one "Error: …" line, not a box that wraps it.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")


class ArticleStatus(StrEnum):
    pending = "pending"
    fetched = "fetched"
    failed = "failed"
    rejected = "rejected"


def _check_topic(session: Any, settings: Any, topic: str) -> None:
    """``--topic`` must name a configured topic or one with stored alerts."""
    from sqlalchemy import select

    from storage.models import Alert

    configured = {t.id for t in topics_from(settings).topics}
    known = configured | set(session.scalars(select(Alert.topic_id).distinct()))
    if topic not in known:
        fail(f"--topic {topic!r}: no such topic (known: {', '.join(sorted(known)) or 'none'})")


@app.command()
def run(
    config: ConfigOption = None,
    all_feeds: Annotated[bool, typer.Option("--all/--no-all", help="Poll failing feeds too, ignoring their backoff.")] = False,
    engine: Annotated[Engine, typer.Option(help="prefect (default) or plain: the same stages without Prefect.")] = Engine.prefect,
    output: Annotated[TextOrJson, typer.Option("--format", "-f", help="text or json summary.")] = TextOrJson.text,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress while the pass works (the summary still prints).")] = False,
) -> None:
    """Run one monitoring pass: fetch feeds and articles, match topics, record alerts.

    While it works it shows its progress on stderr: a live line on a terminal, a log line
    every few seconds otherwise, nothing with --quiet."""
    result = run_pass(config, force=all_feeds, engine=engine, progress=choose_mode(quiet))
    if output is TextOrJson.json:
        print_json(result)
    else:
        print_pass_summary(result["counts"], result["problems"])


class AlertsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
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
            _check_topic(session, settings, topic)
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


@app.command()
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


@app.command()
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

        listed = [OpmlFeed(url=f.url, name=f.name, html_url=f.html_url) for f in settings.feeds]
        if not listed:
            typer.echo("newswatch: the config lists no feeds (feeds: or feed_lists:); the OPML below is empty", err=True)
        typer.echo(render_opml(listed), nl=False)
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


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the database schema (run once per release on servers)."""
    from storage.db import DatabaseNotReady, open_database

    settings = settings_from(config, "db upgrade")
    try:
        db = open_database(settings.resolved_database_url, migrate=True)
    except DatabaseNotReady as exc:
        fail(str(exc))
    from storage.db import current_revision

    typer.echo(f"database is at revision {current_revision(db.engine)}")
    db.dispose()


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to keep the demo's config and database.")] = Path("newswatch-demo"),
    engine: Annotated[Engine, typer.Option(help="prefect (default) or plain.")] = Engine.prefect,
) -> None:
    """Run a pass over the bundled offline sample, served on 127.0.0.1, and print the alerts."""
    from flows.demo import DemoError, run_demo

    try:
        run_demo(directory, engine=engine.value)
    except DemoError as exc:
        fail(str(exc))


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the monitor and deliver flows on the config's schedule until stopped (Ctrl-C)."""
    settings = settings_from(config, "serve")
    path = str(config.resolve()) if config else ""
    with Runtime(settings) as runtime:  # each scheduled pass opens a runtime of its own
        check_ready(runtime)
    quiet_prefect_environment()
    from flows.local_server import ServerDidNotStart, local_prefect_server

    schedule = settings.schedule
    log_path = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser() / "newswatch-server.log"
    try:
        with local_prefect_server(schedule.server_host, schedule.server_port, log_path) as api_url:
            from flows.serve import serve_forever

            typer.echo(
                f"Serving newswatch from {path}: monitor every "
                f"{schedule.monitor_cron or f'{schedule.monitor_every_minutes:g} min'}, deliver every "
                f"{schedule.deliver_cron or f'{schedule.deliver_every_minutes:g} min'}.\n"
                f"Prefect API and UI: {api_url.removesuffix('/api')}   Ctrl-C stops."
            )
            with contextlib.suppress(KeyboardInterrupt):
                serve_forever(settings, path)
    except ServerDidNotStart as exc:
        fail(str(exc))
    typer.echo("newswatch serve stopped")


@app.command()
def bootstrap(
    pool: Annotated[
        str, typer.Option(help="The process work pool of the shard workers (POOL-control is created too).")
    ] = "newswatch",
    article_batches: Annotated[
        int, typer.Option(min=1, help="Article batches in flight across the cluster (with fetch.cluster_article_batches).")
    ] = 8,
    notify_slack_webhook: Annotated[
        str | None,
        typer.Option(envvar="NEWSWATCH_NOTIFY_SLACK_WEBHOOK", help="Slack webhook told about failed or crashed runs."),
    ] = None,
) -> None:
    """Prepare a Prefect server: work pool, global concurrency limits, automations."""
    import asyncio

    quiet_prefect_environment()
    from flows.scale import bootstrap as run_bootstrap

    try:
        done = asyncio.run(
            run_bootstrap(pool, notify_slack_webhook=notify_slack_webhook, article_batches=article_batches)
        )
    except Exception as exc:  # no server, refused, …: say so in one line
        fail(f"bootstrap failed: {terminal_safe(exc, 300)}")
    for line in done:
        typer.echo(line)


@app.command()
def prune(config: ConfigOption = None) -> None:
    """Apply retention now: delete old articles no alert needs (retention.keep_articles_days)."""
    settings = settings_from(config, "prune")
    if not settings.retention.keep_articles_days:
        typer.echo("retention.keep_articles_days is not set: everything is kept")
        return
    from tasks.monitor import apply_retention

    with Runtime(settings) as runtime:
        summary = apply_retention(runtime)
    typer.echo(
        f"pruned {summary['articles_pruned']} articles, {summary['stories_pruned']} stories, "
        f"{summary['index_keys_pruned']} story index keys"
    )


def _register_command_groups() -> None:
    """Command groups that live in their own modules."""
    from flows.cli import delivery, feedback, topics, web

    app.add_typer(topics.app, name="topics")
    delivery.register(app)
    feedback.register(app)
    web.register(app)


_register_command_groups()


def main() -> None:
    app()
