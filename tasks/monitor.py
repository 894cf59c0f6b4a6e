"""One monitoring pass, as plain functions: poll feeds, process articles, analyse.

Each stage takes the pass's ``Runtime`` (tasks/runtime.py: its settings, database,
fetcher, extractor pool, topics and analysis process, created and closed by the shell
that runs the pass) and plain values, and returns a summary of counted outcomes.
``tasks.pass_driver`` decides when each runs: the Prefect flow calls them through thin
task wrappers, ``newswatch run --engine plain`` directly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from config.settings import Settings
from storage.articles import (
    ArticleWork,
    EntryRecord,
    ExtractionRecord,
    any_to_analyse,
    claim_articles,
    record_entries,
    release_dead_claims,
    store_result,
)
from storage.clock import utcnow
from storage.feeds import FeedToPoll, FetchRecord, due_feeds, record_fetch, sync_feeds
from storage.models import Article
from storage.outcome import Outcome
from tasks import progress
from tasks.analysis import analyse
from tasks.extract import Extracted, ExtractionInput, extract_article, html_rejection_reason
from tasks.feeds import ParsedFeed, parse_feed
from tasks.http import Fetcher, FetchResult
from tasks.runtime import Runtime
from tasks.summary import StageSummary
from tasks.urls import canonical_url, story_url_key

log = logging.getLogger("newswatch.monitor")

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
STORE_EVERY = 25  # articles per commit while processing…
STORE_AFTER_SECONDS = 3.0  # …or sooner, so a pass killed again and again still advances
MAX_TEXT_CHARS = 200_000  # an article's stored text; longer bodies are cut and flagged


# Feeds -------------------------------------------------------------------------------

def in_shard(url: str, shard_index: int, shard_count: int) -> bool:
    """A stable split of the feeds over ``shard_count`` workers (the same on every machine)."""
    if shard_count <= 1:
        return True
    return int(hashlib.sha1(url.encode("utf-8")).hexdigest()[:8], 16) % shard_count == shard_index


def prepare_pass(
    runtime: Runtime, *, force: bool = False, shard_index: int = 0, shard_count: int = 1
) -> list[FeedToPoll]:
    """Sync the configured feeds into the database and return those due this pass
    (this shard's share of them when the pass is split over several workers)."""
    settings, db = runtime.settings, runtime.database
    now = utcnow()
    with db.session() as session:
        sync_feeds(session, settings.feeds, now)
        released = release_dead_claims(session, process_is_alive)
        if released:
            log.warning("took back %d article claims left by a pass that stopped", released)
    with db.session() as session:
        due = due_feeds(session, now, force=force)
    mine = [feed for feed in due if in_shard(feed.url, shard_index, shard_count)]
    progress.current().set_feeds_due(len(mine))
    return mine


def process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fetch_and_parse(feed: FeedToPoll, fetcher: Fetcher) -> tuple[FetchResult, ParsedFeed | None, str | None]:
    result = fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified, accept=FEED_ACCEPT)
    if result.outcome != Outcome.OK or result.body is None:
        return result, None, None
    body_hash = hashlib.sha256(result.body).hexdigest()
    if feed.body_hash == body_hash:
        return result, None, body_hash  # a stale ETag, the same bytes: nothing to parse
    return result, parse_feed(result.body, result.final_url or feed.url, result.headers), body_hash


def poll_feeds(runtime: Runtime, feeds: list[FeedToPoll]) -> StageSummary:
    """Fetch and parse ``feeds`` concurrently; record entries and feed state."""
    summary = StageSummary()
    if not feeds:
        return summary
    settings, db, fetcher = runtime.settings, runtime.database, runtime.fetcher
    interval = timedelta(minutes=settings.fetch.poll_interval_minutes)
    max_backoff = timedelta(hours=settings.fetch.max_backoff_hours)
    workers = min(len(feeds), max(4, settings.fetch.per_host_concurrency * 8))
    with ThreadPoolExecutor(workers, thread_name_prefix="feed") as pool:
        futures = {pool.submit(_fetch_and_parse, feed, fetcher): feed for feed in feeds}
        for future in as_completed(futures):
            feed = futures[future]
            try:
                result, parsed, body_hash = future.result()
                record = _record_feed(settings, feed, result, parsed, body_hash)
            except Exception as exc:  # a bug in one feed's handling must not stop the pass
                log.exception("feed %s failed unexpectedly", feed.url)
                record = (FetchRecord(outcome=Outcome.TRANSIENT, status="internal error", detail=repr(exc)), [])
            fetch_record, entries = record
            with db.session() as session:
                counts = record_entries(
                    session, feed.id, entries, utcnow(),
                    baseline=feed.first_fetch and settings.delivery.baseline_on_first_run,
                )
                fetch_record = replace(fetch_record, new_entries=counts.new_sources)
                record_fetch(session, feed.id, fetch_record, utcnow(), interval=interval, max_backoff=max_backoff)
            progress.current().add(feeds_polled=1, articles_found=counts.new_articles)
            summary.counts[f"feeds_{_feed_bucket(fetch_record.outcome)}"] += 1
            summary.counts["entries_seen"] += counts.seen
            summary.counts["entries_new"] += counts.new_sources
            summary.counts["entries_changed"] += counts.changed
            summary.counts["articles_new"] += counts.new_articles
            summary.counts["entries_skipped"] += fetch_record.skipped_entries
            if fetch_record.outcome.is_failure:
                summary.problems.append(f"{feed.url}: {fetch_record.status}")
            elif fetch_record.warning:
                summary.problems.append(f"{feed.url}: {fetch_record.warning}")
    return summary


def _feed_bucket(outcome: Outcome) -> str:
    return outcome if outcome.succeeded else "failed"


def _record_feed(
    settings: Settings, feed: FeedToPoll, result: FetchResult, parsed: ParsedFeed | None, body_hash: str | None
) -> tuple[FetchRecord, list[EntryRecord]]:
    common: dict[str, Any] = {
        "http_status": result.http_status, "duration_ms": result.elapsed_ms,
        "retry_after_seconds": result.retry_after_seconds, "soft_failure": result.soft_failure,
    }
    if result.outcome != Outcome.OK:
        return FetchRecord(outcome=result.outcome, status=result.status, **common), []
    size = len(result.body or b"")
    if parsed is None:  # the body hash matched the last fetch
        return FetchRecord(
            outcome=Outcome.NOT_MODIFIED, status="not modified (same content)", etag=result.etag,
            last_modified=result.last_modified, body_hash=body_hash, bytes=size, **common,
        ), []
    if not parsed.is_feed:
        return FetchRecord(
            outcome=Outcome.PERMANENT, status="not a feed", detail=parsed.warning, bytes=size,
            **{**common, "soft_failure": False},
        ), []
    entries = [
        EntryRecord(
            entry_id=e.entry_id, url=e.url, canonical_url=canonical_url(e.url),
            url_key=story_url_key(e.url), title=e.title, published_at=e.published_at,
            summary=e.summary, content=e.content, entry_hash=e.entry_hash,
        )
        for e in parsed.entries
    ]
    status = "ok" if not parsed.warning else "ok, with warnings"
    return FetchRecord(
        outcome=Outcome.OK, status=status, etag=result.etag, last_modified=result.last_modified,
        body_hash=body_hash, bytes=size, entries=len(entries), skipped_entries=len(parsed.skipped),
        warning="; ".join(filter(None, [parsed.warning, *parsed.skipped[:5]])) or None,
        ttl_minutes=parsed.ttl_minutes, **common,
    ), entries


# Articles ----------------------------------------------------------------------------

def _download(work: ArticleWork, fetcher: Fetcher) -> FetchResult:
    return fetcher.fetch(work.url, accept=PAGE_ACCEPT)


def _extraction_input(work: ArticleWork, result: FetchResult | None) -> ExtractionInput:
    html = result.body if result is not None and result.outcome == Outcome.OK else None
    return ExtractionInput(
        url=(result.final_url if result is not None else None) or work.url,
        html=html,
        charset=result.charset if result is not None else None,
        entry_title=work.entry_title,
        entry_summary=work.entry_summary,
        entry_content=work.entry_content,
    )


def _retry_later(work: ArticleWork, result: FetchResult, settings: Settings) -> bool:
    """A transient failure with attempts left: the article is fetched again later."""
    return result.outcome == Outcome.TRANSIENT and work.attempts + 1 < settings.fetch.article_max_attempts


def _to_record(
    settings: Settings, work: ArticleWork, result: FetchResult, extracted: Extracted | None, now: datetime
) -> ExtractionRecord:
    """Decide an article's outcome from its fetch and extraction."""
    common: dict[str, Any] = {
        "http_status": result.http_status, "content_type": result.content_type,
        "final_url": result.final_url,
    }
    fetch_problem = None if result.outcome == Outcome.OK else result.status
    if _retry_later(work, result, settings):
        # A server's Retry-After is honoured, within reason (a day at most).
        delay = min(max(result.retry_after_seconds or 0, 60 * 2 ** work.attempts), 86400)
        return ExtractionRecord(
            status="retry", detail=f"{result.status}; will retry", retry_at=now + timedelta(seconds=delay),
            **common,
        )
    if extracted is not None and extracted.text:
        detail = "; ".join(filter(None, [fetch_problem and f"page: {fetch_problem}", extracted.error]))
        text, flags = extracted.text, tuple(extracted.flags)
        if len(text) > MAX_TEXT_CHARS:  # bounds storage and matching time
            text, flags = text[:MAX_TEXT_CHARS], (*flags, "text-truncated")
        return ExtractionRecord(
            status="fetched", detail=detail or None, title=extracted.title or work.entry_title,
            text=text, author=extracted.author, site_name=extracted.site_name,
            language=extracted.language, published_at=extracted.published_at,
            html_canonical_url=extracted.canonical_url, extraction_method=extracted.method,
            extraction_flags=flags, content_hash=extracted.content_hash, **common,
        )
    reason = fetch_problem or (extracted.error if extracted is not None else None) or "no text"
    status = "rejected" if result.outcome == Outcome.REJECTED else "failed"
    return ExtractionRecord(status=status, detail=reason, **common)


def process_articles(runtime: Runtime, *, limit: int = 100) -> StageSummary:
    """Claim up to ``limit`` pending articles, fetch and extract them, store the results.

    Downloads run in threads and overlap with extraction in worker processes; results
    are committed every few articles, so a crash loses at most the uncommitted ones,
    whose claims expire and are taken again by the next pass.
    """
    summary = StageSummary()
    settings, db = runtime.settings, runtime.database
    with db.session() as session:
        batch = claim_articles(session, utcnow(), limit)
    if not batch:
        return summary
    pool, fetcher = runtime.extractor_pool, runtime.fetcher
    max_downloads = settings.fetch.article_concurrency
    pending_downloads: dict[Future[FetchResult], ArticleWork] = {}
    pending_extractions: dict[Future[Extracted], tuple[ArticleWork, FetchResult]] = {}
    ready: list[tuple[int, ExtractionRecord]] = []
    queue = list(reversed(batch))
    last_store = time.monotonic()  # a duration: the monotonic clock (storage/clock.py)

    def flush() -> None:
        nonlocal last_store
        last_store = time.monotonic()
        if not ready:
            return
        with db.session() as session:
            # One SELECT for the batch: store_result's per-article get() then hits the identity
            # map (which holds objects weakly: keep them referenced while storing).
            loaded = session.scalars(select(Article).where(Article.id.in_([i for i, _ in ready]))).all()
            for article_id, record in ready:
                store_result(session, article_id, record, utcnow())
            del loaded
        ready.clear()

    def finish(work: ArticleWork, result: FetchResult, extracted: Extracted | None) -> None:
        record = _to_record(settings, work, result, extracted, utcnow())
        progress.current().add(**{"articles_extracted" if record.status == "fetched" else "articles_failed": 1})
        if record.status == "fetched":
            summary.counts["articles_extracted"] += 1
            summary.counts[f"method_{record.extraction_method}"] += 1
        else:
            summary.counts[f"articles_{record.status}"] += 1
            if record.status != "retry":
                summary.problems.append(f"{work.url}: {record.detail}")
        ready.append((work.id, record))
        if len(ready) >= STORE_EVERY or time.monotonic() - last_store >= STORE_AFTER_SECONDS:
            flush()

    with ThreadPoolExecutor(max_downloads, thread_name_prefix="article") as downloads:
        while queue or pending_downloads or pending_extractions:
            # Keep the extractor fed without holding many pages in memory.
            while queue and len(pending_downloads) < max_downloads and (
                len(pending_extractions) < pool.workers * 3
            ):
                work = queue.pop()
                pending_downloads[downloads.submit(_download, work, fetcher)] = work
            waiting: list[Future[Any]] = [*pending_downloads, *pending_extractions]
            done, _ = wait(waiting, return_when=FIRST_COMPLETED)
            for future in done:
                if future in pending_downloads:
                    work = pending_downloads.pop(future)
                    result = future.result()
                    summary.counts[f"pages_{result.outcome}"] += 1
                    progress.current().add(articles_fetched=int(result.outcome == Outcome.OK))
                    result = _sniffed(result)
                    if result.outcome == Outcome.OK:
                        pending_extractions[pool.submit(_extraction_input(work, result))] = (work, result)
                    elif _retry_later(work, result, settings):
                        finish(work, result, None)
                    else:  # the page is out of reach: the feed's own text may still do
                        finish(work, result, extract_article(_extraction_input(work, result)))
                else:
                    work, result = pending_extractions.pop(future)
                    finish(work, result, future.result())
        flush()
    return summary


def _sniffed(result: FetchResult) -> FetchResult:
    """A page that came back ok but is not HTML is rejected, with the sniffer's reason."""
    if result.outcome != Outcome.OK:
        return result
    reason = html_rejection_reason(result.body or b"", result.content_type)
    return _not_html(result, reason) if reason else result


def _not_html(result: FetchResult, reason: str) -> FetchResult:
    # The sniffer's reason ("not HTML (empty body)", "not HTML (PDF document)"), not just
    # the label: a server calls binary data and empty bodies text/html too.
    return replace(result, outcome=Outcome.REJECTED, status=reason, body=None)


# Analysis ----------------------------------------------------------------------------

def analyse_batch(runtime: Runtime, *, limit: int = 200) -> StageSummary:
    """``tasks.analysis.analyse``, in the analysis process unless ``fetch.analysis_process``
    is off (tasks/analysis_process.py says why). The pass's steps call this."""
    settings = runtime.settings
    if not settings.fetch.analysis_process:
        stage = analyse(runtime.database, runtime.topics, settings, limit=limit)
    else:
        with runtime.database.reader() as session:
            if not any_to_analyse(session):  # a quiet pass never starts the child
                return StageSummary()
        stage = runtime.analysis_process.analyse(settings, limit)
    progress.current().add(articles_analysed=stage["articles_analysed"])
    return stage


# Retention ---------------------------------------------------------------------------

def apply_retention(runtime: Runtime) -> StageSummary:
    """Delete what ``retention.keep_articles_days`` no longer keeps (nothing when unset)."""
    from storage.retention import prune
    from tasks.stories.assign import prune_story_index

    summary = StageSummary()
    settings = runtime.settings
    days = settings.retention.keep_articles_days
    if not days:
        return summary
    cutoff = utcnow() - timedelta(days=days)
    with runtime.database.session() as session:
        counts = prune(session, cutoff)
        # The story index only ever looks back over the story window.
        window = utcnow() - timedelta(hours=settings.stories.window_hours)
        summary.counts["index_keys_pruned"] = prune_story_index(session, min(cutoff, window))
    summary.counts["articles_pruned"] = counts.articles
    summary.counts["stories_pruned"] = counts.stories
    return summary
