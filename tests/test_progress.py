"""Progress of a pass: the counts the stages add to, the estimate of time left, the line shown."""

from __future__ import annotations

from flows.cli.progress import describe
from tasks.progress import PassProgress, current, track


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_estimate_before_any_article_is_done() -> None:
    clock = Clock()
    progress = PassProgress(clock)
    progress.set_feeds_due(10)
    progress.add(feeds_polled=5, articles_found=50)
    clock.now += 3
    snapshot = progress.snapshot()
    assert snapshot.seconds_left is None
    assert "left" not in describe(snapshot)


def test_estimate_counts_articles_the_unpolled_feeds_will_bring() -> None:
    clock = Clock()
    progress = PassProgress(clock)
    progress.set_feeds_due(10)
    progress.add(feeds_polled=5, articles_found=50)  # 10 a feed: 100 expected in all
    clock.now += 1
    progress.add(articles_extracted=1)  # the rate is measured from the first article
    clock.now += 9
    progress.add(articles_extracted=17, articles_failed=2)  # 20 done in 9 s after the first
    snapshot = progress.snapshot()
    assert snapshot.articles_done == 20
    assert snapshot.seconds_left is not None
    assert abs(snapshot.seconds_left - 80 / (20 / 9)) < 1e-6
    line = describe(snapshot)
    assert "feeds 5/10 polled" in line and "18 extracted" in line and "2 not extracted" in line
    assert "about 0:36 left" in line


def test_track_makes_a_fresh_progress_current_for_one_pass() -> None:
    outside = current()
    with track() as progress:
        assert current() is progress is not outside
        current().add(feeds_polled=2)
        assert progress.snapshot().feeds_polled == 2
    assert current() is outside


def test_a_note_stands_in_until_the_feeds_are_known() -> None:
    progress = PassProgress(Clock())
    progress.note = "starting Prefect's API server for this run"
    assert describe(progress.snapshot()).startswith("starting Prefect's API server")
    progress.set_feeds_due(3)
    assert describe(progress.snapshot()).startswith("feeds 0/3 polled")
