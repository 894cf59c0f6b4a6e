"""The thin Prefect task wrappers around the pass's stages: one per feed batch or article batch.

No logic lives here. Result persistence and caching stay off (NO_CACHE): the database
is what deduplicates, and task return values are small summaries.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from config.settings import Settings
from storage.feeds import FeedToPoll
from tasks import monitor
from tasks.summary import StageSummary


@task(name="prepare-pass", cache_policy=NO_CACHE)
def prepare_pass(
    settings: Settings, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> list[FeedToPoll]:
    return monitor.prepare_pass(settings, force=force, shard_index=shard_index, shard_count=shard_count)


@task(name="poll-feeds", cache_policy=NO_CACHE, task_run_name="poll-feeds[{label}]")
def poll_feeds(settings: Settings, feeds: list[FeedToPoll], label: str = "") -> StageSummary:
    return monitor.poll_feeds(settings, feeds)


# A Prefect global concurrency limit (created by `newswatch bootstrap`): article batches in
# flight across the whole cluster, taken only when fetch.cluster_article_batches is set.
# Slots are leases, so a killed worker's slot comes back by itself.
ARTICLE_BATCH_LIMIT = "newswatch-article-batches"


@task(name="process-articles", cache_policy=NO_CACHE)
def process_articles(settings: Settings, limit: int) -> StageSummary:
    if not settings.fetch.cluster_article_batches:
        return monitor.process_articles(settings, limit=limit)
    from prefect.concurrency.sync import concurrency

    with concurrency(ARTICLE_BATCH_LIMIT, occupy=1, strict=True):
        return monitor.process_articles(settings, limit=limit)


@task(name="analyse", cache_policy=NO_CACHE)
def analyse(settings: Settings, limit: int) -> StageSummary:
    return monitor.analyse_batch(settings, limit=limit)


@task(name="retention", cache_policy=NO_CACHE)
def apply_retention(settings: Settings) -> StageSummary:
    return monitor.apply_retention(settings)
