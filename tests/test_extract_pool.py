"""ExtractorPool: results, streaming, timeouts, hung and crashing workers (real processes).

The injected extract functions are module-level so worker processes can unpickle them.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tasks.extract import Extracted, ExtractionInput, ExtractorPool, extract_article

pytestmark = pytest.mark.timeout(60)  # a hung pool fails fast instead of stalling the suite

SUMMARY = "A summary long enough to stand in for the article when the page is not usable. " * 3
PAGE = (
    "<html lang='en'><body><article><h1>Headline</h1><p>"
    + "Ministers met envoys to discuss trade and campaign finance rules. " * 10
    + "</p></article></body></html>"
).encode()


def item(name: str, html: bytes | None = PAGE) -> ExtractionInput:
    return ExtractionInput(f"https://news.example/{name}", html, entry_summary=SUMMARY)


def sleepy_unless_fast(inp: ExtractionInput) -> Extracted:
    """Sleeps (interruptibly) on URLs containing 'slow'; extracts others normally."""
    if "slow" in inp.url:
        time.sleep(60)
    return extract_article(inp)


def hangs_ignoring_alarm(inp: ExtractionInput) -> Extracted:
    """Hangs like a C-level loop would: SIGALRM cannot interrupt it."""
    if "hang" in inp.url:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(60)
    return extract_article(inp)


def crashes_on_crash_urls(inp: ExtractionInput) -> Extracted:
    """Kills its own process on URLs containing 'crash' (a segfault, an OOM kill)."""
    if "crash" in inp.url:
        os._exit(3)
    time.sleep(0.05)  # keep other items in flight when the crash happens
    return extract_article(inp)


def raises(inp: ExtractionInput) -> Extracted:
    raise ValueError("boom")


def test_pool_results_match_in_process_extraction() -> None:
    inputs = [item(f"a{i}") for i in range(6)]
    with ExtractorPool(workers=2, timeout_seconds=10) as pool:
        results = [future.result() for future in [pool.submit(inp) for inp in inputs]]
    assert results == [extract_article(inp) for inp in inputs]
    assert all(result.method == "trafilatura" for result in results)


def test_map_unordered_yields_every_key_once_with_bounded_in_flight() -> None:
    submitted = []

    def inputs():
        for i in range(20):
            submitted.append(i)
            yield i, item(f"m{i}")

    seen = []
    with ExtractorPool(workers=2, timeout_seconds=10, max_in_flight=3) as pool:
        for key, result in pool.map_unordered(inputs()):
            # never more than max_in_flight ahead of what has been consumed
            assert len(submitted) - len(seen) <= 3
            seen.append(key)
            assert result.method == "trafilatura"
    assert sorted(seen) == list(range(20))


def test_a_slow_extraction_times_out_and_falls_back_to_the_feed() -> None:
    started = time.monotonic()
    with ExtractorPool(workers=2, timeout_seconds=1.0, extract_fn=sleepy_unless_fast) as pool:
        slow = pool.submit(item("slow"))
        fast = [pool.submit(item(f"ok{i}")) for i in range(4)]
        slow_result = slow.result(timeout=10)
        fast_results = [future.result(timeout=10) for future in fast]
    assert time.monotonic() - started < 5
    assert slow_result.error == "extraction timed out after 1 s"
    assert slow_result.method == "feed-summary"
    assert "stand in for the article" in slow_result.text
    assert [result.method for result in fast_results] == ["trafilatura"] * 4
    assert pool.restarts == 0  # the timer handled it inside the worker


def test_a_worker_that_ignores_the_timer_is_killed_and_replaced() -> None:
    started = time.monotonic()
    with ExtractorPool(
        workers=1, timeout_seconds=0.8, kill_grace_seconds=0.7, extract_fn=hangs_ignoring_alarm
    ) as pool:
        hung = pool.submit(item("hang"))
        after = pool.submit(item("after"))
        hung_result = hung.result(timeout=10)
        after_result = after.result(timeout=10)
    assert time.monotonic() - started < 5
    assert hung_result.error == "extraction timed out after 0.8 s (worker killed)"
    assert hung_result.method == "feed-summary"
    assert after_result.method == "trafilatura" and after_result.error is None
    assert pool.restarts == 1


def test_a_crashing_worker_loses_no_other_item() -> None:
    names = [f"crash{i}" if i % 7 == 3 else f"fine{i}" for i in range(24)]
    with ExtractorPool(workers=2, timeout_seconds=10, extract_fn=crashes_on_crash_urls) as pool:
        results = dict(pool.map_unordered((name, item(name)) for name in names))
    assert sorted(results) == sorted(names)
    for name, result in results.items():
        if name.startswith("crash"):
            assert result.error == "extraction worker crashed (exit code 3)"
            assert result.method == "feed-summary"
        else:
            assert (result.method, result.error) == ("trafilatura", None), name
    assert pool.restarts == sum(name.startswith("crash") for name in names)


def slow_half_second(inp: ExtractionInput) -> Extracted:
    time.sleep(0.5)
    return extract_article(inp)


def test_each_worker_holds_its_next_page_while_extracting_one() -> None:
    # The next page is already in the worker's pipe, so it never waits for the parent
    # (whose threads wait on the GIL) between pages; a third stays in the parent's queue.
    with ExtractorPool(workers=1, timeout_seconds=10, extract_fn=slow_half_second) as pool:
        futures = [pool.submit(item(f"p{i}")) for i in range(3)]
        deadline = time.monotonic() + 20
        while not futures[0].running() and time.monotonic() < deadline:
            time.sleep(0.01)  # the worker may still be starting on a busy machine
        time.sleep(0.1)
        held = [future.running() for future in futures]
        results = [future.result(timeout=10) for future in futures]
    assert held == [True, True, False]
    assert [result.method for result in results] == ["trafilatura"] * 3


def test_an_exception_in_the_extractor_becomes_an_error_result() -> None:
    with ExtractorPool(workers=1, timeout_seconds=5, extract_fn=raises) as pool:
        result = pool.submit(item("x")).result(timeout=10)
    assert result.error == "extraction failed: ValueError: boom"
    assert result.method == "feed-summary"


def test_close_finishes_submitted_work_and_refuses_more() -> None:
    pool = ExtractorPool(workers=2, timeout_seconds=10)
    futures = [pool.submit(item(f"c{i}")) for i in range(5)]
    pool.close()
    assert all(future.done() for future in futures)
    assert all(future.result().method == "trafilatura" for future in futures)
    with pytest.raises(RuntimeError):
        pool.submit(item("late"))
    pool.close()  # idempotent


def test_non_html_and_missing_pages_come_back_through_the_pool() -> None:
    with ExtractorPool(workers=1, timeout_seconds=5) as pool:
        pdf = pool.submit(item("pdf", b"%PDF-1.5 binary")).result(timeout=10)
        missing = pool.submit(item("missing", None)).result(timeout=10)
    assert pdf.error == "not HTML (PDF document)"
    assert (missing.method, missing.error) == ("feed-summary", None)


def test_fast_mode_runs_in_the_workers_and_only_for_the_default_extractor() -> None:
    with ExtractorPool(workers=1, timeout_seconds=10, fast=True) as pool:
        result = pool.submit(item("fast")).result(timeout=10)
    assert result == extract_article(item("fast"), fast=True)
    with pytest.raises(ValueError):
        ExtractorPool(workers=1, extract_fn=raises, fast=True)


def test_submissions_from_many_threads_all_come_back() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ExtractorPool(workers=2, timeout_seconds=10) as pool:
        def submit_batch(batch: int) -> list[Extracted]:
            futures = [pool.submit(item(f"t{batch}-{i}")) for i in range(6)]
            return [future.result(timeout=30) for future in futures]

        with ThreadPoolExecutor(max_workers=4) as threads:
            batches = list(threads.map(submit_batch, range(4)))
    assert [len(batch) for batch in batches] == [6, 6, 6, 6]
    assert all(result.method == "trafilatura" for batch in batches for result in batch)


def test_a_worker_killed_while_idle_is_replaced() -> None:
    with ExtractorPool(workers=1, timeout_seconds=10) as pool:
        assert pool.submit(item("before")).result(timeout=10).method == "trafilatura"
        victim = pool._workers[0].process
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=5)
        after = pool.submit(item("after")).result(timeout=10)
    assert (after.method, after.error) == ("trafilatura", None)
    assert pool.restarts == 1


def test_a_future_cancelled_before_it_starts_is_skipped() -> None:
    with ExtractorPool(workers=1, timeout_seconds=5, extract_fn=sleepy_unless_fast) as pool:
        first = pool.submit(item("ok-first"))
        queued = [pool.submit(item(f"ok{i}")) for i in range(5)]
        cancelled = [future.cancel() for future in queued[2:]]
        results = [future.result(timeout=10) for future in [first, *queued[:2]]]
    assert all(result.method == "trafilatura" for result in results)
    assert all(future.cancelled() for future, ok in zip(queued[2:], cancelled, strict=True) if ok)


def test_leaving_on_an_exception_does_not_wait_for_queued_pages() -> None:
    with pytest.raises(KeyboardInterrupt), ExtractorPool(
        workers=1, timeout_seconds=1.0, extract_fn=sleepy_unless_fast
    ) as pool:
        running = pool.submit(item("slow"))
        queued = [pool.submit(item(f"slow{i}")) for i in range(10)]
        deadline = time.monotonic() + 20
        while not running.running() and time.monotonic() < deadline:
            time.sleep(0.02)  # the worker may still be starting on a busy machine
        started = time.monotonic()
        raise KeyboardInterrupt
    assert time.monotonic() - started < 5  # one timeout, not eleven
    assert running.result().error.startswith("extraction timed out")
    errors = {future.result().error for future in queued}
    assert errors <= {"extraction cancelled: the pool was closed", "extraction timed out after 1 s"}
    assert "extraction cancelled: the pool was closed" in errors
