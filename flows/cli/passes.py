"""One monitoring pass from the command line: ``newswatch run`` and the demo start it here."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.common import (
    ConfigOption,
    TextOrJson,
    command_group,
    fail,
    print_json,
    quiet_prefect_environment,
    settings_from,
    topics_from,
)
from flows.cli.progress import ProgressMode, choose_mode, show_progress
from flows.cli.report import print_pass_summary
from tasks.runtime import Runtime

app = command_group("One monitoring pass.")


class Engine(StrEnum):
    prefect = "prefect"
    plain = "plain"


@app.command("run")
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


def run_pass(
    config: Path | None, *, force: bool, engine: Engine, progress: ProgressMode = ProgressMode.quiet
) -> dict[str, Any]:
    """Run one pass (through Prefect unless ``engine`` is plain); returns the summary.
    ``progress`` says how to show the pass while it works (on stderr)."""
    settings = settings_from(config, "run")
    from storage.db import DatabaseNotReady
    from tasks.topics import TopicDefinitionError

    api = None
    runtime = Runtime(settings)  # the pass's parts; closed below, before the interpreter's exit
    try:
        if engine is Engine.prefect:
            # Before anything else: a Prefect API server of the run's own (when there is
            # no server to use) boots while this process imports and opens the database.
            quiet_prefect_environment()
            from flows.prefect_api import choose_api

            schedule = settings.schedule
            api = choose_api(schedule.server_host, schedule.server_port, keep_seconds=schedule.keep_server_minutes * 60)
        check_ready(runtime)
        if api is not None and api.starts_kept_server and progress is not ProgressMode.quiet:
            typer.echo(
                f"newswatch: Prefect's API server for runs stays up {settings.schedule.keep_server_minutes:g} min "
                "after its last use, so the next run starts at once (`newswatch api-server stop` stops it; "
                "schedule.keep_server_minutes: 0 keeps none)", err=True,
            )
        if not settings.feeds:
            typer.echo(f"newswatch: {config} lists no feeds; nothing to fetch (add a feeds: list of url and name)", err=True)
        with show_progress(progress) as counts:
            if api is None:
                from tasks.pass_driver import run_pass_plain

                summary = run_pass_plain(runtime, force=force)
                return {"counts": dict(summary.counts), "problems": summary.problems}
            if api.server is not None and api.server.process is not None:  # started by this run
                counts.note = "starting Prefect's API server for this run"
                if settings.feeds:  # the extraction workers start on the core that waits for it
                    runtime.extractor_pool  # noqa: B018 (opening it is the point)
            result = _run_flow(api, runtime, config, force=force)
            api.run_succeeded = True
            return result
    except (DatabaseNotReady, TopicDefinitionError) as exc:
        fail(str(exc))
    finally:
        runtime.close()
        if api is not None:
            api.close()  # a run that failed does not keep the server it started


def _run_flow(api: Any, runtime: Runtime, config: Path | None, *, force: bool) -> dict[str, Any]:
    """The monitor flow, recorded by ``api``, on ``runtime``; returns once that API has
    recorded it all."""
    from flows.monitor import handing_over, monitor  # imports prefect
    from flows.prefect_api import ApiDidNotStart, settle

    api = settle(api)
    try:
        with api.active(), handing_over(runtime):
            state = monitor(config_path=str(config) if config else None, force=force, return_state=True)
            result = state.result()
            api.wait_until_recorded(state.state_details.flow_run_id, result.get("task_runs", 0))
    except ApiDidNotStart as exc:
        fail(str(exc), code=1)
    return {**result, "prefect_api": api.describe()}


def check_ready(runtime: Runtime) -> None:
    """Fail early, with one line, on a database or topic problem (before Prefect starts)."""
    topics_from(runtime.settings)  # a topic mistake is one line, before anything is created
    runtime.database  # noqa: B018 (opening them is the check)
    runtime.topics  # noqa: B018
