"""The thin Prefect task wrappers around the pass's stages: one per feed batch or article batch.

No logic lives here. Each takes the pass's runtime (tasks/runtime.py), which the flow
creates and passes quoted: tasks run in the flow's process, in its worker threads, and
share the one runtime. Result persistence and caching stay off (NO_CACHE): the database
is what deduplicates, and task return values are small summaries.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from storage.feeds import FeedToPoll
from tasks import monitor
from tasks.runtime import Runtime
from tasks.summary import StageSummary


@task(name="prepare-pass", cache_policy=NO_CACHE)
def prepare_pass(
    runtime: Runtime, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> list[FeedToPoll]:
    return monitor.prepare_pass(runtime, force=force, shard_index=shard_index, shard_count=shard_count)


@task(name="poll-feeds", cache_policy=NO_CACHE, task_run_name="poll-feeds[{label}]")
def poll_feeds(runtime: Runtime, feeds: list[FeedToPoll], label: str = "") -> StageSummary:
    return monitor.poll_feeds(runtime, feeds)


# A Prefect global concurrency limit (created by `newswatch bootstrap`): article batches in
# flight across the whole cluster, taken only when fetch.cluster_article_batches is set.
# Slots are leases, so a killed worker's slot comes back by itself.
ARTICLE_BATCH_LIMIT = "newswatch-article-batches"


@task(name="process-articles", cache_policy=NO_CACHE)
def process_articles(runtime: Runtime, limit: int) -> StageSummary:
    if not runtime.settings.fetch.cluster_article_batches:
        return monitor.process_articles(runtime, limit=limit)
    from prefect.concurrency.sync import concurrency

    with concurrency(ARTICLE_BATCH_LIMIT, occupy=1, strict=True):
        return monitor.process_articles(runtime, limit=limit)


@task(name="analyse", cache_policy=NO_CACHE)
def analyse(runtime: Runtime, limit: int) -> StageSummary:
    return monitor.analyse_batch(runtime, limit=limit)


@task(name="retention", cache_policy=NO_CACHE)
def apply_retention(runtime: Runtime) -> StageSummary:
    return monitor.apply_retention(runtime)
