"""``newswatch topics``: list, check, explain, backtest and evaluate watch topics."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flows.cli.common import TableOrJson, TextOrJson, parse_since, topics_from
from flows.cli.common import fail as _fail

if TYPE_CHECKING:
    from config.settings import Settings
    from tasks.topics import Document, TopicSet

EXIT_FOUND_PROBLEMS = 1

app = typer.Typer(
    help="Watch topics: list, validate, explain a match, dry-run on stored articles, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)






ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="The YAML config file (its topics: setting).", envvar="NEWSWATCH_CONFIG"),
]




def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _one_line(value: Any, limit: int) -> str:
    text = " ".join(str(value or "").split())
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _settings(config: Path | None) -> Settings:
    from config.settings import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))


def _topics(config: Path | None) -> TopicSet:
    """The config's topics (its topics: setting), or the shipped ones without a config."""
    from tasks.topics import TopicDefinitionError, load_topics

    if config is None:
        try:
            return load_topics(None)
        except TopicDefinitionError as exc:
            _fail(str(exc))
    return topics_from(_settings(config))


def _known_topic(topics: TopicSet, topic_id: str) -> None:
    if topic_id not in {t.id for t in topics.topics}:
        known = ", ".join(t.id for t in topics.topics) or "none"
        _fail(f"no topic {topic_id!r} (known: {known})")


@app.command("list")
def list_topics(
    config: ConfigOption = None,
    format: Annotated[TableOrJson, typer.Option("--format", "-f", help="table or json.")] = TableOrJson.table,
) -> None:
    """List the topics in effect: id, version, name and where each is defined."""
    topics = _topics(config)
    if format is TableOrJson.json:
        _print_json([
            {"id": t.id, "name": t.name, "version": t.version, "description": t.description,
             "file": t.file, "min_score": t.min_score, "rules": [r.name for r in t.rules]}
            for t in topics.topics
        ])
        return
    if not topics.topics:
        typer.echo("no topics defined")
        return
    for t in topics.topics:
        typer.echo(f"{t.id}  v{t.version}  {t.name}")
        typer.echo(f"    {_one_line(t.description, 150)}")
        typer.echo(f"    {len(t.rules)} rule(s), {len(t.weighted_terms)} weighted term(s), "
                   f"threshold {t.min_score:g}; from {t.file}")


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="A topic YAML file or a folder of them.")],
) -> None:
    """Validate topic definitions; exit 1 with file, topic and position on the first error."""
    from tasks.topics import TopicDefinitionError, load_topics
    from tasks.topics.matcher import check_group_file

    if not file.exists():
        _fail(f"{file}: no such file or folder; give a topic YAML file or a folder of them")
    try:
        topics = load_topics(str(file), Path.cwd())
        groups = check_group_file(file) if file.is_file() else 0
    except TopicDefinitionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FOUND_PROBLEMS) from None
    for t in topics.topics:
        typer.echo(f"ok  {t.id}  v{t.version}  ({len(t.rules)} rule(s), {len(t.weighted_terms)} weighted term(s))")
    if groups:
        typer.echo(f"ok  {groups} group(s)")
    if not topics.topics and not groups:
        typer.echo("error: no topics or groups found", err=True)
        raise typer.Exit(EXIT_FOUND_PROBLEMS)


def _document_from_file(path: Path) -> Document:
    from tasks.topics import Document

    try:
        raw = path.read_bytes()
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror or exc}")
    head = raw[:2048].lstrip().lower()
    if path.suffix.lower() in (".html", ".htm") or head.startswith((b"<!doctype html", b"<html")):
        return _document_from_html(raw, path.resolve().as_uri())
    text = raw.decode("utf-8", errors="replace")
    title, _, body = text.strip().partition("\n")
    return Document(title=title.strip(), body=body.strip(), url=path.resolve().as_uri())


def _document_from_html(html: bytes, url: str, charset: str | None = None) -> Document:
    from tasks.topics import Document

    try:
        from tasks.extract import ExtractionInput, extract_article
    except ImportError:  # the extractor module is optional here; trafilatura does the job
        import trafilatura

        found = trafilatura.bare_extraction(html.decode(charset or "utf-8", errors="replace"), url=url) or {}
        if not isinstance(found, dict):
            found = found.as_dict()
        return Document(title=found.get("title") or "", body=found.get("text") or "",
                        language=found.get("language"), url=url)
    extracted = extract_article(ExtractionInput(url=url, html=html, charset=charset))
    if not extracted.text:
        _fail(f"{url}: no article text could be extracted")
    return Document(title=extracted.title or "", body=extracted.text, language=extracted.language, url=url)


def _document_from_url(url: str, config: Path | None) -> Document:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        _fail(f"--url {url!r}: give an absolute http:// or https:// URL (or save the page and use --file)")
    try:
        from tasks.http import Fetcher, FetchPolicy
    except ImportError:
        _fail("fetching URLs is not available in this build; save the page and use --file")
    settings = _settings(config)
    with Fetcher(FetchPolicy.from_settings(settings.fetch)) as fetcher:
        result = fetcher.fetch(url)
    if result.outcome != "ok" or not result.body:
        _fail(f"{url}: could not fetch: {result.status}")
    return _document_from_html(result.body, result.final_url or url, result.charset)


@app.command()
def explain(
    topic: Annotated[str, typer.Argument(help="The topic id.")],
    url: Annotated[str | None, typer.Option(help="Fetch and extract this article.")] = None,
    file: Annotated[Path | None, typer.Option(help="A saved HTML page, or a text file: title on the first line.")] = None,
    config: ConfigOption = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text or json.")] = TextOrJson.text,
) -> None:
    """Show, term by term, why an article matches a topic or why not."""
    if (url is None) == (file is None):
        _fail("give exactly one of --url URL or --file FILE")
    topics = _topics(config)
    _known_topic(topics, topic)
    doc = _document_from_file(file) if file is not None else _document_from_url(str(url), config)
    explanation = topics.explain(doc, topic)
    if format is TextOrJson.json:
        _print_json({"title": doc.title, **explanation.to_dict()})
    else:
        typer.echo(f"article: {_one_line(doc.title, 120) or '(no title)'}")
        typer.echo(explanation.render())


@app.command()
def backtest(
    topic: Annotated[str, typer.Argument(help="The topic id.")],
    config: Annotated[Path, typer.Option("--config", "-c", help="The YAML config file (database and topics).", envvar="NEWSWATCH_CONFIG")],
    since: Annotated[str, typer.Option(help="Articles published since: 30d, 12h, 2w or an ISO date.")] = "30d",
    format: Annotated[TableOrJson, typer.Option("--format", "-f", help="table or json.")] = TableOrJson.table,
) -> None:
    """Dry run over stored articles: list what would have alerted. Creates and sends nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.topics.backtest import backtest as run_backtest

    settings = _settings(config)
    topics = topics_from(settings)
    _known_topic(topics, topic)
    cutoff = parse_since(since, datetime.now(UTC))
    try:
        with _read_session(settings) as session:
            report = run_backtest(session, topics, topic, cutoff)
    except SQLAlchemyError as exc:
        _fail(f"cannot read the database: {_one_line(exc, 200)}")
    if format is TableOrJson.json:
        _print_json(report.to_dict())
        return
    typer.echo(
        f"{report.topic_id} v{report.version}: {len(report.hits)} of {report.scanned} stored article(s)"
        f" since {cutoff:%Y-%m-%d %H:%M} UTC would have matched, {report.stories} alert(s) (one per story)"
    )
    for hit in report.hits:
        when = f"{hit.published_at:%Y-%m-%d}" if hit.published_at else "----------"
        evidence = hit.evidence[0]["text"] if hit.evidence else ""
        typer.echo(f"  #{hit.article_id:<6} {when}  score {hit.score:<6g} {_one_line(hit.title, 90)}")
        typer.echo(f"          {_one_line(evidence, 140)}")


def _read_session(settings: Settings):  # type: ignore[no-untyped-def]
    """A session on the configured database, never migrating it (a dry run writes nothing)."""
    from contextlib import contextmanager

    @contextmanager
    def session_scope():  # type: ignore[no-untyped-def]
        try:
            from storage.db import DatabaseNotReady, open_database
        except ImportError:  # before storage/db.py: a plain engine on the same URL
            from sqlalchemy import create_engine
            from sqlalchemy.orm import Session

            engine = create_engine(settings.resolved_database_url)
            try:
                with Session(engine) as session:
                    yield session
                    session.rollback()
            finally:
                engine.dispose()
            return
        try:
            db = open_database(settings.resolved_database_url, migrate=False, create=False)
        except DatabaseNotReady as exc:
            _fail(str(exc))
        try:
            session = db.sessions()
            try:
                yield session
            finally:
                session.rollback()  # a dry run: whatever happened, nothing is kept
                session.close()
        finally:
            db.dispose()

    return session_scope()


@app.command("eval")
def evaluate(
    labels: Annotated[Path, typer.Option("--labels", help="JSONL: id, title, text and a 0/1 column per topic (foreign_campaigning …).")],
    config: ConfigOption = None,
    format: Annotated[TableOrJson, typer.Option("--format", "-f", help="table or json.")] = TableOrJson.table,
    min_precision: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Exit 1 if any topic's precision is below this (0 to 1).")] = None,
    min_recall: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Exit 1 if any topic's recall is below this (0 to 1).")] = None,
) -> None:
    """Precision, recall and F1 per topic on a labelled file, with the misclassified ids."""
    from tasks.topics.evaluation import LabelsError, read_labels, render_scores
    from tasks.topics.evaluation import evaluate as score

    topics = _topics(config)
    try:
        articles = read_labels(labels)
    except LabelsError as exc:
        _fail(str(exc))
    scores = score(topics, articles)
    if not scores:
        _fail(f"{labels}: no label column for any topic (expected one of: "
              + ", ".join(t.id.replace("-", "_") for t in topics.topics) + ")")
    below = [
        s.topic_id for s in scores
        if (min_precision is not None and s.precision < min_precision)
        or (min_recall is not None and s.recall < min_recall)
    ]
    if format is TableOrJson.json:
        _print_json({"articles": len(articles), "topics": [s.to_dict() for s in scores], "below_floor": below})
    else:
        typer.echo(f"{len(articles)} labelled article(s)")
        typer.echo(render_scores(scores))
        if below:
            typer.echo(f"below the floor: {', '.join(below)}", err=True)
    if below:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)
