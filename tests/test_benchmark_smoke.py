"""The benchmark machinery at a tiny size, so it cannot rot. No timing is asserted here:
speed is the benchmark's to print (benchmarks/pipeline_bench.py, docs/performance.md)."""

from __future__ import annotations

import os
import re
import time
import urllib.request

import pytest

from benchmarks import pipeline_bench, proctree
from benchmarks.pagegen import BenchSite, SiteShape, article_html, article_path, feed_xml
from tasks.feeds import parse_feed


def _text(html: str) -> str:
    paragraphs = re.findall(r'<p class="para">(.*?)</p>', html)
    return " ".join(paragraphs)


def test_pages_are_realistic_in_size_deterministic_and_distinct() -> None:
    shape = SiteShape(feeds=3, articles_per_feed=4)
    pages = [article_html(shape, feed, item) for feed in range(3) for item in range(4)]
    assert all(50_000 <= len(page.encode()) <= 160_000 for page in pages)
    assert article_html(shape, 1, 2) == pages[6]
    assert article_html(SiteShape(3, 4, seed=8), 1, 2) != pages[6]
    texts = [set(_text(page).split()) for page in pages]
    assert all(len(words) > 100 for words in texts)
    # Different pages share vocabulary but not their sentences.
    first_sentences = {_text(page).split(".")[0] for page in pages}
    assert len(first_sentences) == len(pages)
    for marker in ("<nav", "<script", 'class="comments"', 'class="related"', "<footer"):
        assert all(marker in page for page in pages)


def test_feed_lists_every_article_of_the_feed() -> None:
    shape = SiteShape(feeds=2, articles_per_feed=5)
    body = feed_xml(shape, 1, "http://127.0.0.1:9").encode()
    parsed = parse_feed(body, "http://127.0.0.1:9/feeds/1.xml", {})
    assert parsed.is_feed
    assert sorted(entry.url for entry in parsed.entries) == sorted(
        f"http://127.0.0.1:9{article_path(1, item)}" for item in range(5)
    )


def test_site_serves_pages_answers_conditional_gets_and_counts_requests() -> None:
    with BenchSite(SiteShape(feeds=2, articles_per_feed=2)) as site:
        feed_url = site.feed_urls()[0]
        with urllib.request.urlopen(feed_url) as response:
            etag = response.headers["ETag"]
            assert b"<rss" in response.read()
        request = urllib.request.Request(feed_url, headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(request)
        assert not_modified.value.code == 304
        with urllib.request.urlopen(site.article_urls()[3]) as response:
            assert len(response.read()) >= 50_000
        assert site.stats() == {
            "feed_requests": 2, "feed_304": 1, "feed_bytes": site.stats()["feed_bytes"],
            "article_requests": 1, "article_bytes": site.stats()["article_bytes"],
        }
        site.reset()
        assert site.stats() == {}


def test_memory_sampler_sees_this_process_and_its_children() -> None:
    pid = os.getpid()
    assert pid in proctree.tree(pid)
    assert proctree.rss_kb(pid) > 1000
    assert proctree.cpu_seconds(pid) > 0
    sampler = proctree.MemorySampler(pid, interval=0.05).start()
    time.sleep(0.2)
    peak = sampler.stop()
    assert peak.samples >= 1
    assert peak.rss_mib > 1 and peak.pss_mib > 1
    assert peak.processes >= 1


@pytest.mark.slow
def test_bench_phases_run_a_pass_a_quiet_second_pass_and_the_baseline(tmp_path, capsys) -> None:
    shape = SiteShape(feeds=2, articles_per_feed=2)
    with BenchSite(shape) as site:
        baseline = pipeline_bench.phase_baseline(site.article_urls())
        config = pipeline_bench.write_config(tmp_path, site)
        result = pipeline_bench.phase_pass(str(config), "plain", site.base_url)

    assert baseline["pages"] == baseline["extracted"] == 4
    first, second = result["first"], result["second"]
    assert first["counts"]["articles_extracted"] == 4
    assert first["server"]["article_requests"] == 4
    assert second["counts"].get("articles_extracted", 0) == 0
    assert second["server"].get("article_requests", 0) == 0
    assert second["server"]["feed_304"] == 2
    timeline = first["stages"]
    assert set(timeline) == {"feeds done", "first article", "last article", "analysed"}
    assert 0 <= timeline["first article"] <= timeline["last article"] <= timeline["analysed"] <= first["seconds"]

    figures = {
        "feeds": 2, "articles": 4, "cpus": 2, "site_render_seconds": 0.1,
        "baseline": {**baseline, "peak_pss_mib": 50.0},
        "plain": {**result, "peak": proctree.MemoryPeak(rss_mib=200, pss_mib=150, processes=4).__dict__},
    }
    pipeline_bench.report(figures, tmp_path / "figures.json")
    table = capsys.readouterr().out
    assert "first pass [plain]" in table and "× baseline" in table
    assert "second pass, nothing new [plain]" in table and "0 article requests" in table
    assert (tmp_path / "figures.json").read_text().startswith("{")


def test_real_pages_are_dealt_in_turn_and_each_copy_is_marked() -> None:
    from benchmarks.pagegen import (
        SHARED_PAGES,
        load_real_pages,
        page_html,
        real_page_index,
        real_pages_missing,
    )

    missing = real_pages_missing()
    if missing:
        pytest.skip(missing)
    count = len(load_real_pages(str(SHARED_PAGES)))
    shape = SiteShape(feeds=count, articles_per_feed=2, real_pages=str(SHARED_PAGES))
    first, copy = page_html(shape, 0, 0), page_html(shape, count // 2, count % 2)  # page 0, copy 1
    assert real_page_index(shape, 0, 0) == (0, 0)
    assert real_page_index(shape, count // 2, count % 2) == (0, 1)
    assert first == load_real_pages(str(SHARED_PAGES))[0]  # the first copy is the page as it is
    assert copy != first and copy.count(b"(copy 1)") == 2  # title and first paragraph
    feed = feed_xml(shape, count // 2, "http://127.0.0.1:9").encode()
    assert b"(copy 1)" in feed


def test_tree_sampler_counts_cpu_by_role_and_keeps_finished_processes() -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"])
    sampler = proctree.TreeSampler(os.getpid(), interval=0.05).start()
    child.wait()
    time.sleep(0.1)
    roles = sampler.stop().cpu_by_role()
    assert roles["main"] > 0
    assert roles.get("other", 0) >= 0.2  # the child's CPU, kept after it ended
    assert sampler.peak_pss_mib > 1
