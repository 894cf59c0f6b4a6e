"""``newswatch topics``: list, check, explain, backtest and evaluate watch topics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from flows.cli.common import (
    ConfigOption,
    FormatOption,
    RequiredConfigOption,
    TableOrJson,
    TextFormatOption,
    TextOrJson,
    check_topic,
    command_group,
    fail,
    parse_since,
    print_json,
    read_session,
    settings_from,
    terminal_safe,
    topics_from,
)
from storage.clock import utcnow

if TYPE_CHECKING:
    from tasks.topics import Document, TopicSet
    from tasks.topics.training import TrainingComparison

EXIT_FOUND_PROBLEMS = 1

app = command_group("Watch topics: list, validate, explain a match, dry-run on stored articles, evaluate.")
labels_app = command_group("Labelled articles from the desk's verdicts, for `topics train --labels`.")
app.add_typer(labels_app, name="labels")


def _one_line(value: Any, limit: int) -> str:
    text = " ".join(str(value or "").split())
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _echo_safe(text: str) -> None:
    """Print rendered text line by line with feed text's control characters and escape
    sequences removed: titles and sentences come from the feeds, not from us."""
    for line in text.splitlines():
        typer.echo(terminal_safe(line))


def _topics(config: Path | None) -> TopicSet:
    """The config's topics (its topics: setting), or the shipped ones without a config."""
    return topics_from(settings_from(config))


def _known_topic(topics: TopicSet, topic_id: str) -> None:
    if topic_id not in {t.id for t in topics.topics}:
        known = ", ".join(t.id for t in topics.topics) or "none"
        fail(f"no topic {topic_id!r} (known: {known})")


@app.command("list")
def list_topics(
    config: ConfigOption = None,
    format: FormatOption = TableOrJson.table,
) -> None:
    """List the topics in effect: id, version, name and where each is defined."""
    topics = _topics(config)
    if format is TableOrJson.json:
        print_json([
            {"id": t.id, "name": t.name, "version": t.version, "description": t.description,
             "file": t.file, "min_score": t.min_score, "rules": [r.name for r in t.rules],
             "features": sorted(t.features), "learned": _learned_summary(t)}
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
        learned = _learned_summary(t)
        if learned is not None:
            typer.echo(f"    learned layer v{learned['version']} ({learned['file']}): consulted from score "
                       f"{learned['consult_from']:g}, alerts from probability {learned['threshold']:.2f}")
            typer.echo(f"    trained {learned['created_at'] or '?'} on {learned['trained_on']}")
            for name, figures in learned["figures"].items():
                typer.echo(f"    {name}: {_figures_line(figures)}")


def _learned_summary(topic: Any) -> dict[str, Any] | None:
    layer = topic.learned
    if layer is None:
        return None
    training = layer.training
    labels = ", ".join(training.get("labels") or []) or "labelled articles"
    return {
        "version": layer.version,
        "file": layer.path,
        "created_at": layer.created_at,
        "consult_from": layer.consult_from,
        "threshold": layer.threshold,
        "features": len(layer.features),
        "words": len(layer.words),
        "trained_on": f"{training.get('articles', '?')} articles ({training.get('positives', '?')} relevant) from {labels}",
        "forced": bool(training.get("forced")),
        "figures": training.get("figures") or {},
    }


def _figures_line(figures: dict[str, Any]) -> str:
    def interval(key: str) -> str:
        low, high = figures.get(key) or (None, None)
        return f" [{low:.2f}–{high:.2f}]" if low is not None else ""

    return (f"precision {figures['precision']:.3f}{interval('precision_95')}, "
            f"recall {figures['recall']:.3f}{interval('recall_95')}, F1 {figures['f1']:.3f}")


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="A topic YAML file or a folder of them.")],
) -> None:
    """Validate topic definitions; exit 1 with file, topic and position on the first error."""
    from tasks.topics import TopicDefinitionError, load_topics
    from tasks.topics.matcher import check_group_file

    if not file.exists():
        fail(f"{file}: no such file or folder; give a topic YAML file or a folder of them")
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
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    head = raw[:2048].lstrip().lower()
    if path.suffix.lower() in (".html", ".htm") or head.startswith((b"<!doctype html", b"<html")):
        return _document_from_html(raw, path.resolve().as_uri())
    text = raw.decode("utf-8", errors="replace")
    title, _, body = text.strip().partition("\n")
    return Document(title=title.strip(), body=body.strip(), url=path.resolve().as_uri())


def _document_from_html(html: bytes, url: str, charset: str | None = None) -> Document:
    from tasks.extract import ExtractionInput, extract_article
    from tasks.topics import Document

    extracted = extract_article(ExtractionInput(url=url, html=html, charset=charset))
    if not extracted.text:
        fail(f"{url}: no article text could be extracted")
    return Document(title=extracted.title or "", body=extracted.text, language=extracted.language, url=url)


def _document_from_url(url: str, config: Path | None) -> Document:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        fail(f"--url {url!r}: give an absolute http:// or https:// URL (or save the page and use --file)")
    from tasks.http import Fetcher, FetchPolicy, Outcome

    settings = settings_from(config)
    with Fetcher(FetchPolicy.from_settings(settings.fetch)) as fetcher:
        result = fetcher.fetch(url)
    if result.outcome != Outcome.OK or not result.body:
        fail(f"{url}: could not fetch: {result.status}")
    return _document_from_html(result.body, result.final_url or url, result.charset)


@app.command()
def explain(
    topic: Annotated[str, typer.Argument(help="The topic id.")],
    url: Annotated[str | None, typer.Option(help="Fetch and extract this article.")] = None,
    file: Annotated[Path | None, typer.Option(help="A saved HTML page, or a text file: title on the first line.")] = None,
    alert: Annotated[int | None, typer.Option(min=1, help="A stored alert: each article of its story (needs --config).")] = None,
    article: Annotated[int | None, typer.Option(min=1, help="A stored article (needs --config).")] = None,
    config: ConfigOption = None,
    format: TextFormatOption = TextOrJson.text,
) -> None:
    """Show, term by term, why an article matches a topic or why not."""
    if sum(x is not None for x in (url, file, alert, article)) != 1:
        fail("give exactly one of --url URL, --file FILE, --alert ID or --article ID")
    if alert is not None or article is not None:
        _explain_stored(topic, alert, article, config, format)
        return
    topics = _topics(config)
    _known_topic(topics, topic)
    doc = _document_from_file(file) if file is not None else _document_from_url(str(url), config)
    explanation = topics.explain(doc, topic)
    if format is TextOrJson.json:
        print_json({"title": doc.title, **explanation.to_dict()})
    else:
        _echo_safe(f"article: {_one_line(doc.title, 120) or '(no title)'}")
        _echo_safe(explanation.render())


def _explain_stored(
    topic: str, alert: int | None, article: int | None, config: Path | None, format: TextOrJson
) -> None:
    """``explain --alert/--article``: re-score what the database holds (tasks/topics/stored.py)."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.topics.stored import StoredNotFound, explain_stored_alert, explain_stored_article

    if config is None:
        fail(f"--{'alert' if alert is not None else 'article'} reads the database: give --config FILE")
    settings = settings_from(config)
    topics = topics_from(settings)
    _known_topic(topics, topic)
    try:
        with read_session(settings) as session:
            if alert is not None:
                found: Any = explain_stored_alert(session, topics, topic, alert)
            else:
                found = explain_stored_article(session, topics, topic, int(article or 0))
    except StoredNotFound as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {_one_line(exc, 200)}")
    if format is TextOrJson.json:
        print_json(found.to_dict())
    else:
        _echo_safe(found.render())


@app.command()
def backtest(
    topic: Annotated[str, typer.Argument(help="The topic id.")],
    config: RequiredConfigOption,
    since: Annotated[str, typer.Option(help="Articles published since: 30d, 12h, 2w or an ISO date.")] = "30d",
    format: FormatOption = TableOrJson.table,
) -> None:
    """Dry run over stored articles: list what would have alerted. Creates and sends nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.topics.backtest import backtest as run_backtest

    settings = settings_from(config)
    topics = topics_from(settings)
    _known_topic(topics, topic)
    cutoff = parse_since(since, utcnow())
    try:
        with read_session(settings) as session:
            report = run_backtest(session, topics, topic, cutoff)
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {_one_line(exc, 200)}")
    if format is TableOrJson.json:
        print_json(report.to_dict())
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


@app.command("eval")
def evaluate(
    labels: Annotated[Path | None, typer.Option("--labels", help="JSONL: id, title, text and a 0/1 column per topic (foreign_campaigning …).")] = None,
    config: ConfigOption = None,
    format: Annotated[TableOrJson, typer.Option("--format", "-f", help="table or json (text is the same as table).")] = TableOrJson.table,
    min_precision: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Exit 1 if any topic's precision is below this (0 to 1).")] = None,
    min_recall: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Exit 1 if any topic's recall is below this (0 to 1).")] = None,
    split: Annotated[str | None, typer.Option(help="Use only rows whose split column has this value (e.g. check).")] = None,
    feedback: Annotated[bool, typer.Option("--feedback", help="Precision from the verdicts on record (`newswatch feedback`), not from a file.")] = False,
) -> None:
    """Precision, recall and F1 per topic on a labelled file, with the misclassified ids;
    or, with --feedback, each topic's precision from the desk's verdicts on its alerts.

    The verdicts are the topics' own (rules and learned layer). A layer scored on the
    articles it was trained on looks better than it is: score a split it never saw.
    """
    from tasks.topics.evaluation import LabelsError, read_labels, render_scores
    from tasks.topics.evaluation import evaluate as score

    if feedback == (labels is not None):
        fail("give exactly one of --labels FILE or --feedback (with --config FILE)")
    if feedback:
        if min_recall is not None:
            fail("--min-recall does not apply with --feedback: verdicts on alerts measure precision only"
                 " (use --min-precision)")
        if split is not None:
            fail("--split does not apply with --feedback: verdicts have no split column (it is for --labels FILE)")
        _evaluate_feedback(config, format, min_precision)
        return
    assert labels is not None
    topics = _topics(config)
    try:
        articles = read_labels(labels)
    except LabelsError as exc:
        fail(str(exc))
    if split is not None:
        found = sorted({a.split for a in articles if a.split is not None})
        articles = [a for a in articles if a.split == split]
        if not articles:
            fail(f"{labels}: no rows with split {split!r} (found: {', '.join(found) or 'no split column'})")
    scores = score(topics, articles)
    if not scores:
        fail(f"{labels}: no label column for any topic (expected one of: "
              + ", ".join(t.id.replace("-", "_") for t in topics.topics) + ")")
    below = [
        s.topic_id for s in scores
        if (min_precision is not None and s.precision < min_precision)
        or (min_recall is not None and s.recall < min_recall)
    ]
    if format is TableOrJson.json:
        print_json({"articles": len(articles), "topics": [s.to_dict() for s in scores], "below_floor": below})
    else:
        typer.echo(f"{len(articles)} labelled article(s)")
        typer.echo(render_scores(scores))
        if below:
            typer.echo(f"below the floor: {', '.join(below)}", err=True)
    if below:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)


def _evaluate_feedback(config: Path | None, format: TableOrJson, min_precision: float | None) -> None:
    """Precision per topic from the verdicts stored in the config's database."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.feedback import topic_feedback
    from tasks.topics.evaluation import feedback_report, render_feedback

    settings = settings_from(config, "topics eval --feedback")
    configured = [t.id for t in topics_from(settings).topics]
    try:
        with read_session(settings) as session:
            report = feedback_report(topic_feedback(session, configured))
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {_one_line(exc, 200)}")
    below = [
        r["topic"] for r in report
        if min_precision is not None and r["precision"] is not None and r["precision"] < min_precision
    ]
    judged = sum(r["judged"] for r in report)
    if format is TableOrJson.json:
        print_json({"source": "feedback", "judged_alerts": judged, "topics": report, "below_floor": below})
    else:
        typer.echo(f"{judged} alert(s) with a verdict on record (precision = relevant / alerts with a verdict)")
        typer.echo(render_feedback(report))
        if below:
            typer.echo(f"below the floor: {', '.join(below)}", err=True)
    if below:
        raise typer.Exit(EXIT_FOUND_PROBLEMS)


@app.command()
def train(
    topic: Annotated[str, typer.Argument(help="The topic id.")],
    labels: Annotated[list[Path], typer.Option("--labels", help="JSONL of labelled articles (repeat for several files).")],
    config: ConfigOption = None,
    split: Annotated[str | None, typer.Option(help="Use only rows whose split column has this value (e.g. tune).")] = None,
    output: Annotated[Path | None, typer.Option(help="Where to write the layer (default: the topic's learned: file, else TOPIC.learned.json beside the topic).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the current layer even if the figures say the new one is worse (recorded in the layer).")] = False,
    words: Annotated[bool | None, typer.Option("--words/--no-words", help="Also weigh words and word pairs (default: as the current layer, else no).")] = None,
    regularisation: Annotated[float | None, typer.Option(min=1e-6, max=1e6, help="C of the logistic model: smaller is simpler (default: as the current layer, else 0.03).")] = None,
    format: TextFormatOption = TextOrJson.text,
) -> None:
    """Train the topic's learned layer from labelled articles, with cross-validated figures.

    Prints the figures before (the rules alone, the current layer as it is, and the current
    layer's settings cross-validated on these labels) and after (the new settings, by the
    same folds), and refuses to replace the layer when the new settings cross-validate
    worse than the current ones unless --force is given. Retraining with the same settings
    on more labels (the desk's verdicts added to the dev set) therefore replaces it.
    """
    from dataclasses import replace

    from tasks.topics.evaluation import LabelsError, read_labels
    from tasks.topics.training import TooFewLabels, compare_training, examples, train_layer

    topics = _topics(config)
    _known_topic(topics, topic)
    chosen = topics.get(topic)
    articles = []
    try:
        for path in labels:
            articles += [a for a in read_labels(path) if split is None or a.split == split]
    except LabelsError as exc:
        fail(str(exc))
    data = examples(chosen, articles)
    try:
        comparison = compare_training(chosen, data, words=words, regularisation=regularisation)
    except TooFewLabels as exc:
        fail(str(exc))
    if format is TextOrJson.text:
        _print_comparison(comparison, chosen.learned.version if chosen.learned else None)
    if comparison.worse and not force:
        _refuse_worse_layer(comparison, format)
    current = chosen.learned
    record = comparison.layer_record(
        [p.name + (f" (split {split})" if split else "") for p in labels],
        forced=comparison.worse and force, replaces=current.version if current is not None else None,
    )
    layer = train_layer(replace(chosen, learned=None), data, comparison.settings, record)
    target = output or _layer_path(chosen)
    try:
        layer.write(target)
    except OSError as exc:
        fail(f"{target}: cannot write the layer: {exc.strerror or exc}")
    if format is TextOrJson.json:
        print_json({**comparison.to_dict(), "replaced": True, "file": str(target), "version": layer.version})
        return
    typer.echo(f"wrote {target} (version {layer.version}, probability threshold {layer.threshold:.2f})")
    if current is None or (current.path and Path(current.path).resolve() != target.resolve()):
        typer.echo(f"to use it, add to the topic {chosen.id!r}:  learned: {target.name}")


def _print_comparison(comparison: TrainingComparison, current_version: str | None) -> None:
    """The figures before and after a training run, one line each."""
    typer.echo(f"{comparison.topic_id}: {comparison.articles} labelled article(s), {comparison.relevant} relevant")
    typer.echo(f"  before  rules alone:            {_figures_line(comparison.rules_alone.to_dict())}")
    if comparison.current_layer is not None and comparison.current_settings is not None:
        base, current = comparison.base, comparison.current_layer
        typer.echo(f"  before  current layer v{current_version} as it stands"
                   f" (may include articles it was trained on): {_figures_line(current.to_dict())}")
        typer.echo(f"  before  current layer's settings, {base.folds}-fold CV x{base.repeats}:"
                   f" {_figures_line(comparison.current_settings.to_dict())}")
    settings = comparison.settings
    typer.echo(f"  after   new layer, {settings.folds}-fold CV x{settings.repeats}:"
               f" {_figures_line(comparison.after.to_dict())}")


def _refuse_worse_layer(comparison: TrainingComparison, format: TextOrJson) -> NoReturn:
    """Keep the current layer: the new settings cross-validate worse on these labels."""
    if format is TextOrJson.json:
        print_json(comparison.to_dict())
    assert comparison.current_settings is not None  # worse means there is a current layer
    typer.echo(
        f"newswatch: not replacing the layer of {comparison.topic_id}: cross-validated F1"
        f" {comparison.after.f1:.3f} is below the {comparison.current_settings.f1:.3f} of the"
        " current layer's settings on these labels (use --force to replace it anyway)",
        err=True,
    )
    raise typer.Exit(EXIT_FOUND_PROBLEMS)


def _layer_path(topic: Any) -> Path:
    if topic.learned is not None and topic.learned.path:
        return Path(topic.learned.path)
    folder = Path(topic.file).parent if topic.file and Path(topic.file).is_file() else Path.cwd()
    return folder / f"{topic.id}.learned.json"


@labels_app.command("export")
def export_labels(
    topic: Annotated[str, typer.Option("--topic", help="The topic id: one topic per file.")],
    config: ConfigOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The JSONL file to write (default: TOPIC.labels.jsonl here).")] = None,
) -> None:
    """Write the articles of the topic's judged alerts as labelled JSONL (the dev set's format):
    title, text and the topic's 0/1 column from the verdict (relevant is 1)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.feedback import judged_articles
    from tasks.topics.evaluation import feedback_label_rows, label_column

    settings = settings_from(config, "topics labels export")
    try:
        with read_session(settings) as session:
            check_topic(session, settings, topic)
            rows = feedback_label_rows(topic, judged_articles(session, topic))
    except SQLAlchemyError as exc:
        fail(f"cannot read the database: {_one_line(exc, 200)}")
    if not rows:
        fail(f"--topic {topic}: no verdicts on record for its alerts; record some with "
              "`newswatch feedback ALERT_ID relevant|not-relevant` first")
    target = output or Path(f"{topic}.labels.jsonl")
    try:
        with target.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        fail(f"{target}: cannot write: {exc.strerror or exc}")
    relevant = sum(row[label_column(topic)] for row in rows)
    typer.echo(f"wrote {len(rows)} labelled article(s) of {topic} to {target}: {relevant} relevant, "
               f"{len(rows) - relevant} not relevant")
