"""The ``monitor`` flow: one pass, wired from a few feed- and batch-level tasks."""

from __future__ import annotations

import queue
import time
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, wait

from config.settings import Settings, load_settings
from tasks import prefect_tasks as steps
from tasks.monitor import StageSummary

FEEDS_PER_TASK = 50
ARTICLES_PER_TASK = 100
ARTICLE_LANES = 2  # batch tasks in flight, so downloads and extraction never drain
# Analysis overlaps the article batches, one small batch at a time: it runs in this process
# while the extraction workers use the cores, and a small batch holds SQLite's write lock
# (taken at BEGIN) for a few seconds only, so the article batches' commits never wait long.
ANALYSE_WHILE_FETCHING = 50
ANALYSE_AFTER = 1000


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_monitor(
    settings: Settings, *, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> StageSummary:
    """The pass's wiring; runs inside the flow (and inside tests' flow harness)."""
    started = time.monotonic()
    summary = StageSummary()
    feeds = steps.prepare_pass(settings, force, shard_index, shard_count)
    summary.counts["feeds_due"] = len(feeds)
    polls = [
        steps.poll_feeds.submit(settings, batch, label=f"{i * FEEDS_PER_TASK}-{i * FEEDS_PER_TASK + len(batch)}")
        for i, batch in enumerate(_chunks(feeds, FEEDS_PER_TASK))
    ]
    wait(polls)
    for future in polls:
        summary.add(future.result())

    # Article batches: keep ARTICLE_LANES tasks in flight until a batch finds no work;
    # meanwhile one analyse task at a time works through what they have stored.
    finished: queue.Queue[tuple[str, PrefectFuture[StageSummary]]] = queue.Queue()

    def submit(kind: str) -> None:
        if kind == "articles":
            future = steps.process_articles.submit(settings, ARTICLES_PER_TASK)
        else:
            future = steps.analyse.submit(settings, ANALYSE_WHILE_FETCHING)
        future.add_done_callback(lambda done: finished.put((kind, done)))

    for _ in range(ARTICLE_LANES):
        submit("articles")
    article_tasks, analysing = ARTICLE_LANES, False
    while article_tasks or analysing:
        kind, future = finished.get()
        stage = future.result()
        summary.add(stage)
        if kind == "articles":
            article_tasks -= 1
            if any(k.startswith("pages_") for k in stage.counts):
                submit("articles")
                article_tasks += 1
        else:
            analysing = False
        # Analyse again at once while there was work; else when the next batch has stored some.
        if not analysing and article_tasks and (kind == "articles" or stage.counts["articles_analysed"]):
            submit("analyse")
            analysing = True

    while True:
        stage = steps.analyse(settings, ANALYSE_AFTER)
        summary.add(stage)
        if not stage.counts["articles_analysed"]:
            break
    if settings.retention.keep_articles_days:
        summary.add(steps.apply_retention(settings))
    summary.counts["seconds"] = round(time.monotonic() - started)
    return summary


@flow(name="monitor", log_prints=False, validate_parameters=False)
def monitor(
    config_path: str | None = None, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> dict[str, Any]:
    """One monitoring pass over the configured feeds (or one shard of them).

    Shards split the feeds by a stable hash; articles and analysis are shared work that
    every shard helps with through claims, so N workers finish one pass together.
    """
    settings = load_settings(config_path)
    summary = run_monitor(settings, force=force, shard_index=shard_index, shard_count=shard_count)
    return {"counts": dict(summary.counts), "problems": summary.problems}
