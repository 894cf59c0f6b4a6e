"""The order of a pass's stages, overlapped so both cores stay busy.

A pass polls feeds, fetches and extracts the articles they name, and analyses what was
stored. Run one after the other, each stage leaves a core idle: polling is the main
process's work (feed parsing) while the extraction workers wait, and analysis is too.
``drive_pass`` instead starts article batches as soon as the first feeds are recorded,
keeps ``article_lanes`` batches in flight (one batch's drain, when its last pages
extract while nothing downloads, is hidden by the other), and analyses stored articles
in small batches meanwhile.

The driver only decides what runs when. ``PassSteps`` says how a step runs: the Prefect
flow submits tasks, ``run_pass_plain`` submits to thread pools; both hand back futures
with ``add_done_callback`` and ``result``.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tasks import monitor
from tasks.runtime import Runtime
from tasks.summary import StageSummary

T = TypeVar("T")

FEEDS_PER_BATCH = 50
ARTICLES_PER_BATCH = 200
# Analysis while articles are still coming runs in small batches, so each keeps SQLite's
# write lock (for its lookups and writes) briefly and the article batches' commits never
# wait long; at the end one large batch sweeps up the rest.
ANALYSE_WHILE_FETCHING = 200
ANALYSE_AFTER = 1000
# While articles come, an analysis batch starts at most this often, unless the last one came
# back full (analysis is behind). Started again at once whenever it found work, a pass of
# 2,000 articles ran 33 batches of ≈ 60; each batch has a fixed cost (a task run under
# Prefect, ≈ 40-50 CPU ms with its server's share; the analysis process's own set-up). The
# interval bounds the tail too: what is stored after the last batch started waits for the
# final sweep, while the extraction workers have nothing left to do.
ANALYSE_EVERY_SECONDS = 3.0
FEED_BATCHES_IN_FLIGHT = 2  # so feed batches finish one by one and article work starts early
ARTICLE_LANES = 2


class StepFuture(Protocol):
    """What the driver needs of a submitted step (concurrent.futures and Prefect futures)."""

    def add_done_callback(self, fn: Callable[[Any], object]) -> None: ...

    def result(self) -> StageSummary: ...


@dataclass(frozen=True)
class PassSteps:
    """How to start each step; each call returns at once with a future."""

    poll: Callable[[list[Any], str], StepFuture]  # (feeds, label)
    articles: Callable[[], StepFuture]  # one batch of articles
    analyse: Callable[[], StepFuture]  # a small batch, while articles are still coming
    analyse_rest: Callable[[], StepFuture]  # a large batch, once they are all stored


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def found_pages(stage: StageSummary) -> bool:
    """Whether an article batch had work (pages fetched or failed, any outcome)."""
    return any(key.startswith("pages_") and value for key, value in stage.counts.items())


def drive_pass(
    feeds: Sequence[Any],
    steps: PassSteps,
    *,
    feeds_per_batch: int = FEEDS_PER_BATCH,
    feed_batches_in_flight: int = FEED_BATCHES_IN_FLIGHT,
    article_lanes: int = ARTICLE_LANES,
    analyse_every_seconds: float = ANALYSE_EVERY_SECONDS,
    analyse_batch: int = ANALYSE_WHILE_FETCHING,
) -> StageSummary:
    """Poll ``feeds``, process every claimable article and analyse all that was stored.

    Article lanes run while feed batches remain or while the last batch found work; a
    lane that comes back empty while feeds are still being polled starts again when the
    next feed batch is recorded. One analysis batch runs at a time, and all articles
    stored by the end are analysed before this returns. A step that raises stops the
    pass with its exception (the steps themselves record per-item failures and never
    raise for bad input).
    """
    summary = StageSummary()
    finished: queue.Queue[tuple[str, StepFuture]] = queue.Queue()

    def start(kind: str, future: StepFuture) -> None:
        future.add_done_callback(lambda done: finished.put((kind, done)))

    feed_batches = chunks(feeds, feeds_per_batch)
    next_batch = 0
    polls = lanes = 0
    analysing = False
    last_analysis = float("-inf")  # the first may start at once
    # Whether articles may have been stored since analysis last looked: false after a
    # batch that found nothing, until the next step finishes (as one that stores might).
    may_have_work = False

    def analyse() -> None:
        nonlocal analysing, last_analysis
        start("analyse", steps.analyse())
        analysing, last_analysis = True, time.monotonic()

    def analysis_due_in() -> float | None:
        """Seconds until analysis may start again while articles come; None: not now."""
        if analysing or not lanes or not may_have_work:
            return None
        return max(0.0, last_analysis + analyse_every_seconds - time.monotonic())

    def poll_next() -> None:
        nonlocal next_batch, polls
        first = next_batch * feeds_per_batch
        batch = feed_batches[next_batch]
        start("poll", steps.poll(batch, f"{first}-{first + len(batch)}"))
        next_batch += 1
        polls += 1

    def fill_lanes() -> None:
        nonlocal lanes
        while lanes < article_lanes:
            start("articles", steps.articles())
            lanes += 1

    while next_batch < len(feed_batches) and polls < feed_batches_in_flight:
        poll_next()
    if not feed_batches:  # nothing due: articles left by earlier passes may still wait
        fill_lanes()

    while polls or lanes or analysing:
        try:
            kind, future = finished.get(timeout=analysis_due_in())
        except queue.Empty:  # analysis is due and no step has finished meanwhile
            analyse()
            continue
        stage = future.result()
        summary.add(stage)
        if kind == "poll":
            polls -= 1
            if next_batch < len(feed_batches):
                poll_next()
            # Lanes start when a batch brought articles, and once more when polling ends
            # (retries and leftovers of earlier passes), so a quiet pass costs no more.
            if stage["articles_new"] or stage["entries_changed"] or not polls:
                fill_lanes()
        elif kind == "articles":
            lanes -= 1
            if found_pages(stage):
                fill_lanes()
        else:
            analysing = False
            if lanes and stage["articles_analysed"] >= analyse_batch:  # behind: again at once
                analyse()
        may_have_work = kind != "analyse" or bool(stage["articles_analysed"])
        if analysis_due_in() == 0.0:
            analyse()

    while True:
        stage = steps.analyse_rest().result()
        summary.add(stage)
        if not stage["articles_analysed"]:
            return summary


def run_pass_plain(runtime: Runtime, *, force: bool = False) -> StageSummary:
    """One pass without Prefect: the flow's steps and order, on thread pools. The caller
    owns ``runtime`` (and closes it)."""
    # A duration, so the monotonic clock, not the wall clock (storage/clock.py).
    started = time.monotonic()
    summary = StageSummary()
    feeds = monitor.prepare_pass(runtime, force=force)
    summary.counts["feeds_due"] = len(feeds)
    # Feed batches and article work get their own threads, so a queue of feed batches
    # never holds up an article lane.
    with ThreadPoolExecutor(FEED_BATCHES_IN_FLIGHT, thread_name_prefix="feed-batch") as feed_pool, \
            ThreadPoolExecutor(ARTICLE_LANES + 1, thread_name_prefix="article-batch") as article_pool:
        steps = PassSteps(
            poll=lambda batch, label: feed_pool.submit(monitor.poll_feeds, runtime, batch),
            articles=lambda: article_pool.submit(monitor.process_articles, runtime, limit=ARTICLES_PER_BATCH),
            analyse=lambda: article_pool.submit(monitor.analyse_batch, runtime, limit=ANALYSE_WHILE_FETCHING),
            analyse_rest=lambda: article_pool.submit(monitor.analyse_batch, runtime, limit=ANALYSE_AFTER),
        )
        summary.add(drive_pass(feeds, steps))
    summary.add(monitor.apply_retention(runtime))
    summary.counts["seconds"] = round(time.monotonic() - started)
    return summary
