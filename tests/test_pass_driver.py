"""drive_pass: which step runs when, against a small simulated world on real thread pools."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tasks.pass_driver import FEEDS_PER_BATCH, PassSteps, chunks, drive_pass
from tasks.summary import StageSummary

pytestmark = pytest.mark.timeout(60)


class World:
    """Feeds name articles; article batches store up to ``batch`` of them; analysis
    analyses stored ones. Counts every step and what each saw."""

    def __init__(self, new_per_feed: int, batch: int = 10, analyse_batch: int = 7, article_seconds: float = 0.0) -> None:
        self.new_per_feed = new_per_feed
        self.batch = batch
        self.article_seconds = article_seconds  # how long an article batch takes (downloads)
        self.analyse_batch = analyse_batch
        self.lock = threading.Lock()
        self.pending = self.stored = self.analysed = 0
        self.calls: list[str] = []
        self.empty_lanes_while_polling = 0
        self.polls_done = 0
        self.total_polls = 0

    def poll(self, feeds: list[int]) -> StageSummary:
        with self.lock:
            self.calls.append("poll")
            self.pending += self.new_per_feed * len(feeds)
            self.polls_done += 1
            return StageSummary(Counter(articles_new=self.new_per_feed * len(feeds)))

    def articles(self) -> StageSummary:
        time.sleep(self.article_seconds)
        with self.lock:
            self.calls.append("articles")
            taken = min(self.batch, self.pending)
            self.pending -= taken
            self.stored += taken
            if not taken and self.polls_done < self.total_polls:
                self.empty_lanes_while_polling += 1
            return StageSummary(Counter(pages_ok=taken) if taken else Counter())

    def analyse(self, limit: int, rest: bool = False) -> StageSummary:
        with self.lock:
            self.calls.append("analyse_rest" if rest else f"analyse{limit}")
            done = min(limit, self.stored - self.analysed)
            self.analysed += done
            return StageSummary(Counter(articles_analysed=done))

    def analyses_while_fetching(self) -> int:
        return self.calls.count(f"analyse{self.analyse_batch}")

    def run(self, feeds: int, **options: float) -> StageSummary:
        self.total_polls = len(chunks(list(range(feeds)), int(options.get("feeds_per_batch", FEEDS_PER_BATCH))))
        with ThreadPoolExecutor(2) as polls, ThreadPoolExecutor(3) as work:
            steps = PassSteps(
                poll=lambda batch, label: polls.submit(self.poll, batch),
                articles=lambda: work.submit(self.articles),
                analyse=lambda: work.submit(self.analyse, self.analyse_batch),
                analyse_rest=lambda: work.submit(self.analyse, 1000, True),
            )
            return drive_pass(list(range(feeds)), steps, **options)


def test_every_article_is_processed_and_analysed() -> None:
    world = World(new_per_feed=3)
    summary = world.run(40, feeds_per_batch=5)
    assert world.pending == 0
    assert world.stored == world.analysed == 120
    assert summary["articles_new"] == 120
    assert summary["pages_ok"] == 120
    assert summary["articles_analysed"] == 120
    assert world.calls.count("poll") == 8
    assert world.calls[-1] == "analyse_rest"  # ends with an analysis that found nothing left


def test_article_batches_start_before_polling_ends_and_analysis_overlaps_them() -> None:
    world = World(new_per_feed=3)
    world.run(40, feeds_per_batch=5)
    last_poll = max(i for i, call in enumerate(world.calls) if call == "poll")
    assert "articles" in world.calls[:last_poll], "articles waited for every feed"
    last_articles = max(i for i, call in enumerate(world.calls) if call == "articles")
    assert "analyse7" in world.calls[:last_articles], "analysis waited for every article"


def test_a_quiet_pass_starts_article_lanes_once_at_the_end_only() -> None:
    world = World(new_per_feed=0)
    world.run(40, feeds_per_batch=5, article_lanes=2)
    assert world.calls.count("articles") == 2  # one look for leftovers (retries) per lane
    assert world.calls.index("articles") > max(i for i, c in enumerate(world.calls) if c == "poll")


def test_leftover_articles_are_processed_when_no_feed_is_due() -> None:
    world = World(new_per_feed=0)
    world.pending = 25  # retries and claims left by earlier passes
    world.run(0)
    assert world.stored == world.analysed == 25


def test_a_failing_step_stops_the_pass_with_its_exception() -> None:
    def broken() -> Future[StageSummary]:
        future: Future[StageSummary] = Future()
        future.set_exception(RuntimeError("database gone"))
        return future

    done: Future[StageSummary] = Future()
    done.set_result(StageSummary())
    steps = PassSteps(poll=lambda batch, label: broken(), articles=lambda: done, analyse=lambda: done,
                      analyse_rest=lambda: done)
    with pytest.raises(RuntimeError, match="database gone"):
        drive_pass([1, 2, 3], steps)


def test_analysis_while_articles_come_starts_at_most_once_an_interval() -> None:
    # Each batch of analysis costs a fixed amount (a task run under Prefect): a pass of
    # 2,000 articles ran 33 small ones when analysis restarted whenever it found work.
    def analyses(every: float) -> tuple[int, float]:
        world = World(new_per_feed=10, batch=10, analyse_batch=1000, article_seconds=0.01)
        started = time.monotonic()
        world.run(40, feeds_per_batch=5, analyse_every_seconds=every, analyse_batch=1000)
        assert world.stored == world.analysed == 400
        return world.analyses_while_fetching(), time.monotonic() - started

    eager, _ = analyses(0.0)
    paced, seconds = analyses(0.1)
    assert paced <= seconds / 0.1 + 2
    assert paced < eager


def test_analysis_that_is_behind_runs_again_at_once() -> None:
    world = World(new_per_feed=10, batch=50, analyse_batch=7, article_seconds=0.2)
    world.stored = 100  # stored by an earlier pass, not yet analysed
    # the clock allows one analysis only: the first, as the lanes start
    world.run(20, feeds_per_batch=5, analyse_every_seconds=60, analyse_batch=7)
    assert world.stored == world.analysed == 300
    assert world.analyses_while_fetching() > 3  # each came back full, so the next followed


def test_an_analysis_that_found_nothing_waits_for_the_next_step() -> None:
    # One long article batch stores everything at its end: analysis looks once, finds
    # nothing, and does not look again on the clock while nothing else finishes.
    world = World(new_per_feed=10, batch=1000, analyse_batch=1000, article_seconds=0.5)
    world.run(5, feeds_per_batch=5, article_lanes=1, analyse_every_seconds=0.01, analyse_batch=1000)
    assert world.stored == world.analysed == 50
    # looks: when the lane starts (nothing yet), after the batch (50), once more (nothing);
    # re-looking on the 0.01 s clock during the second, empty batch would be dozens more
    assert world.analyses_while_fetching() <= 3
