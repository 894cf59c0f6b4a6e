"""Running newswatch: ``serve`` on a schedule, ``bootstrap`` a Prefect server, ``demo``,
``prune`` by the retention settings, and ``db upgrade``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import (
    ConfigOption,
    command_group,
    fail,
    quiet_prefect_environment,
    settings_from,
    terminal_safe,
)
from flows.cli.passes import Engine, check_ready
from tasks.runtime import Runtime

app = command_group("Serve, bootstrap, demo, prune.")
db_app = command_group("Database schema.")


@app.command("demo")
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


@app.command("serve")
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


@app.command("bootstrap")
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


@app.command("prune")
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
