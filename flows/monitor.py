"""The ``monitor`` flow: one pass, wired from a few feed- and batch-level tasks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prefect import flow
from prefect.utilities.annotations import quote

from config.settings import Settings, load_settings
from tasks import prefect_tasks as steps
from tasks.pass_driver import (
    ANALYSE_AFTER,
    ANALYSE_WHILE_FETCHING,
    ARTICLES_PER_BATCH,
    PassSteps,
    drive_pass,
)
from tasks.runtime import Runtime
from tasks.summary import StageSummary

# The Prefect shell's one runtime lookup. A flow's parameters go to the Prefect API as
# JSON, so a runtime its caller already opened (the CLI starts the extraction workers
# while Prefect's API server boots) is handed over here instead; a flow run without one
# (a deployment, `newswatch serve`) opens its own and closes it at the end.
_handed_over: ContextVar[Runtime | None] = ContextVar("newswatch_runtime", default=None)


@contextmanager
def handing_over(runtime: Runtime) -> Iterator[None]:
    """Flows called inside this block run with ``runtime``; its creator still closes it."""
    token = _handed_over.set(runtime)
    try:
        yield
    finally:
        _handed_over.reset(token)


@contextmanager
def _pass_runtime(settings: Settings) -> Iterator[Runtime]:
    handed = _handed_over.get()
    if handed is not None:
        yield handed
        return
    with Runtime(settings) as runtime:
        yield runtime


def run_monitor(
    runtime: Runtime, *, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> tuple[StageSummary, int]:
    """The pass's wiring; runs inside the flow. Returns the summary and the number of task
    runs it started.

    ``drive_pass`` decides what runs when (feed batches, two article lanes, analysis
    overlapping them); here each step is a task, at feed-batch or article-batch size.
    """
    # A duration, so the monotonic clock, not the wall clock (storage/clock.py).
    started = time.monotonic()
    summary = StageSummary()
    # quote(): Prefect would otherwise walk the runtime (and its settings: 500 feeds, ~12 ms
    # of the main process's CPU) on each task call, looking for futures that are not there.
    shared = quote(runtime)
    submitted = 0  # task runs, so a one-shot run can wait until its API recorded them all

    def counted(future: Any) -> Any:
        nonlocal submitted
        submitted += 1
        return future

    feeds = steps.prepare_pass(shared, force, shard_index, shard_count)
    submitted += 1
    summary.counts["feeds_due"] = len(feeds)
    summary.add(drive_pass(feeds, PassSteps(
        poll=lambda batch, label: counted(steps.poll_feeds.submit(shared, quote(batch), label=label)),
        articles=lambda: counted(steps.process_articles.submit(shared, ARTICLES_PER_BATCH)),
        analyse=lambda: counted(steps.analyse.submit(shared, ANALYSE_WHILE_FETCHING)),
        analyse_rest=lambda: counted(steps.analyse.submit(shared, ANALYSE_AFTER)),
    )))
    if runtime.settings.retention.keep_articles_days:
        summary.add(steps.apply_retention(shared))
        submitted += 1
    summary.counts["seconds"] = round(time.monotonic() - started)
    return summary, submitted


@flow(name="monitor", log_prints=False, validate_parameters=False)
def monitor(
    config_path: str | None = None, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> dict[str, Any]:
    """One monitoring pass over the configured feeds (or one shard of them).

    Shards split the feeds by a stable hash; articles and analysis are shared work that
    every shard helps with through claims, so N workers finish one pass together.
    """
    settings = load_settings(config_path)
    with _pass_runtime(settings) as runtime:
        summary, task_runs = run_monitor(runtime, force=force, shard_index=shard_index, shard_count=shard_count)
    return {"counts": dict(summary.counts), "problems": summary.problems, "task_runs": task_runs}
