"""Evaluate article extraction on generated news pages: quality, then throughput.

Pages are generated here (deterministic, 50-150 KB each: navigation, inline scripts and
state blobs, CSS, reader comments, related links, footers) with known article text, some
paywalled teasers and some empty video shells whose feed entry carries the article.

Quality (fails on a floor): word 4-gram shingle precision / recall / F1 of the text against
the known article; the paywall flag's precision and recall; the method chosen for shells.
Throughput (figures only): pages served on 127.0.0.1, a single-process baseline of
fetch + trafilatura.bare_extraction against fetch threads + ExtractorPool, and
extraction alone in-process vs in the pool; plus worker start-up and restart cost.

    .venv/bin/python scripts/eval_extraction.py [--pages 200] [--workers N] [--rounds 3]
        [--fast] [--no-bench]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import trafilatura  # noqa: E402

from tasks.extract import ExtractionInput, ExtractorPool, extract_article  # noqa: E402

F1_FLOOR = 0.90
PAYWALL_RECALL_FLOOR = 0.95
PAYWALL_PRECISION_FLOOR = 0.95
SHELL_FEED_FLOOR = 0.95

SUBJECTS = ["The foreign secretary", "A senior US official", "The committee chair", "Campaigners",
            "The ambassador", "Treasury officials", "Opposition MPs", "The trade envoy",
            "Election regulators", "A Commons committee", "State department officials", "Donors"]
VERBS = ["said on Tuesday that", "warned that", "told reporters that", "argued in a letter that",
         "confirmed that", "rejected claims that", "suggested that", "insisted that"]
OBJECTS = ["the negotiations on steel tariffs would resume next month",
           "foreign funding of campaign groups must be disclosed within thirty days",
           "the intelligence-sharing agreement would be reviewed after the elections",
           "a register of overseas lobbyists was long overdue",
           "the special relationship had survived worse disagreements",
           "donations routed through shell companies were hard to trace",
           "new rules on online political advertising would take effect in the spring",
           "the visit would focus on defence procurement and technology",
           "several consultancies had failed to register their clients",
           "the embassy had not been consulted before the announcement"]
TAILS = ["according to people familiar with the talks.", "in a statement released late on Monday.",
         "despite pressure from backbenchers.", "although details remain unclear.",
         "a claim the government disputes.", "ahead of a vote expected next week.", ""]
COMMENT_LINES = ["Typical politicians, all talk and no action", "Where is the evidence for any of this",
                 "Great reporting as usual, thanks", "I stopped trusting these people years ago",
                 "Can someone explain what the quota actually means", "First!",
                 "This is exactly what I said would happen last year", "Why is nobody talking about pensions"]
LINK_TITLES = ["Ten things to know about the budget", "Weather warning for the weekend",
               "Local team wins cup final", "House prices fall again", "Review: the new opera season",
               "How to save on energy bills", "Opinion: the case for a four-day week",
               "Live: markets react to rate decision", "Obituary: a pioneering engineer"]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}".strip()


@dataclass(frozen=True)
class GeneratedPage:
    path: str
    html: bytes
    article_text: str          # what a perfect extractor returns
    kind: str                  # "article" | "paywall" | "shell"
    entry_content: str | None  # the feed's full content (shells only)
    entry_summary: str


def generate_pages(count: int, seed: int = 7) -> list[GeneratedPage]:
    rng = random.Random(seed)
    pages = []
    for index in range(count):
        roll = rng.random()
        kind = "paywall" if roll < 0.1 else "shell" if roll < 0.15 else "article"
        pages.append(_generate_page(rng, index, kind))
    return pages


def _generate_page(rng: random.Random, index: int, kind: str) -> GeneratedPage:
    headline = sentence(rng).rstrip(".").capitalize()[:90]
    paragraphs = [" ".join(sentence(rng) for _ in range(rng.randint(3, 6)))
                  for _ in range(rng.randint(6, 14))]
    shown = paragraphs[:2] if kind == "paywall" else [] if kind == "shell" else paragraphs
    layout = rng.randint(0, 2)
    container, body_class = [("article", "story-body"), ("div", "entry-content"),
                             ("section", "article__content")][layout]
    nav = "".join(f'<li><a href="/section/{i}">{rng.choice(LINK_TITLES)[:14]}</a></li>' for i in range(30))
    state = json.dumps({"articles": [{"id": i, "title": rng.choice(LINK_TITLES),
                                      "teaser": sentence(rng)} for i in range(rng.randint(150, 500))]})
    css = "".join(f".c{i}{{margin:{i % 9}px;color:#{i % 999:03d}}}" for i in range(rng.randint(300, 1200)))
    comments = "".join(
        f'<div class="comment"><span class="user">user{rng.randint(1, 9999)}</span>'
        f'<p>{rng.choice(COMMENT_LINES)}. {rng.choice(COMMENT_LINES)}?</p></div>'
        for _ in range(rng.randint(5, 40))
    )
    related = "".join(f'<li><a href="/story/{rng.randint(1, 99999)}">{rng.choice(LINK_TITLES)}</a></li>'
                      for _ in range(rng.randint(10, 60)))
    free = "false" if kind == "paywall" else "true"
    wall = ('<div class="paywall" id="piano-offer"><h2>Subscribe to continue reading</h2>'
            '<p>Get unlimited access from £1 a week.</p></div>') if kind == "paywall" else ""
    shell = '<div id="player" data-id="v1">Loading video…</div>' if kind == "shell" else ""
    # Many free articles carry an empty paywall-vendor container too: must not flag them.
    if kind == "article" and rng.random() < 0.3:
        shell = '<div id="piano-inline" class="tp-container-inner"></div>'

    body_html = "".join(f"<p>{p}</p>" for p in shown)
    html = f"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">
<title>{headline} | Example Herald</title>
<meta property="og:site_name" content="Example Herald">
<link rel="canonical" href="/news/{index}">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{headline}",
"datePublished": "2025-0{1 + index % 9}-1{index % 10}T0{index % 10}:00:00Z", "isAccessibleForFree": {free}}}</script>
<style>{css}</style><script>window.__STATE__ = {state};</script>
<script>(function(){{var a=document.createElement('script');a.src='/ads.js';document.head.appendChild(a);}})();</script>
</head><body class="layout-{layout}"><header><a class="logo" href="/">Example Herald</a>
<nav><ul>{nav}</ul></nav></header><main>
<{container} class="{body_class}"><h1>{headline}</h1><p class="byline">By Staff Reporter</p>
{shell}{body_html}{wall}</{container}>
<aside class="related"><h3>Related</h3><ul>{related}</ul></aside>
<section class="comments" id="comments"><h3>Comments</h3>{comments}</section>
</main><footer><ul><li><a href="/about">About</a></li><li><a href="/privacy">Privacy</a></li></ul>
<p>&copy; Example Herald</p></footer></body></html>"""
    article_text = "\n".join([headline, *paragraphs])
    return GeneratedPage(
        path=f"/news/{index}",
        html=html.encode(),
        article_text="\n".join([headline, *shown]) if kind == "paywall" else article_text,
        kind=kind,
        entry_content="".join(f"<p>{p}</p>" for p in paragraphs) if kind == "shell" else None,
        entry_summary=paragraphs[0][:180] + "…",
    )


# -- quality ------------------------------------------------------------------------------

def shingles(text: str, size: int = 4) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i:i + size]) for i in range(max(0, len(words) - size + 1))}


def precision_recall(extracted: str, truth: str) -> tuple[float, float]:
    got, want = shingles(extracted), shingles(truth)
    if not got or not want:
        return (1.0 if not got and not want else 0.0), (1.0 if not want else 0.0)
    common = len(got & want)
    return common / len(got), common / len(want)


def to_input(page: GeneratedPage, base_url: str, html: bytes | None) -> ExtractionInput:
    return ExtractionInput(
        url=base_url + page.path, html=html, charset="utf-8",
        entry_content=page.entry_content, entry_summary=page.entry_summary,
    )


def evaluate_quality(pages: list[GeneratedPage], fast: bool) -> bool:
    precisions, recalls = [], []
    paywall_true = paywall_flagged = paywall_hit = 0
    shells = shells_from_feed = 0
    for page in pages:
        result = extract_article(to_input(page, "https://herald.example", page.html), fast=fast)
        if page.kind != "shell":
            precision, recall = precision_recall(result.text, page.article_text)
            precisions.append(precision)
            recalls.append(recall)
        flagged = "paywall" in result.flags
        paywall_true += page.kind == "paywall"
        paywall_flagged += flagged
        paywall_hit += flagged and page.kind == "paywall"
        if page.kind == "shell":
            shells += 1
            shells_from_feed += result.method == "feed-content"
    precision, recall = statistics.mean(precisions), statistics.mean(recalls)
    f1 = 2 * precision * recall / (precision + recall)
    paywall_recall = paywall_hit / paywall_true if paywall_true else 1.0
    paywall_precision = paywall_hit / paywall_flagged if paywall_flagged else 1.0
    shell_rate = shells_from_feed / shells if shells else 1.0
    print(f"quality on {len(pages)} pages ({paywall_true} paywalled, {shells} empty shells):")
    print(f"  text   precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  (floor {F1_FLOOR})")
    print(f"  paywall flag  precision {paywall_precision:.3f}  recall {paywall_recall:.3f}")
    print(f"  empty shells extracted from the feed content: {shell_rate:.3f}")
    ok = (f1 >= F1_FLOOR and paywall_recall >= PAYWALL_RECALL_FLOOR
          and paywall_precision >= PAYWALL_PRECISION_FLOOR and shell_rate >= SHELL_FEED_FLOOR)
    print("  quality:", "OK" if ok else "BELOW FLOOR")
    return ok


# -- throughput ---------------------------------------------------------------------------

def serve_forever(page_count: int, port_queue: Any) -> None:
    """The page server, in its own process as a remote site would be."""
    server, _ = serve(generate_pages(page_count), thread=False)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def serve(pages: list[GeneratedPage], thread: bool = True) -> tuple[ThreadingHTTPServer, str]:
    bodies = {page.path: page.html for page in pages}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if thread:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def start_server_process(page_count: int) -> tuple[multiprocessing.process.BaseProcess, str]:
    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    process = context.Process(target=serve_forever, args=(page_count, port_queue), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{port_queue.get(timeout=60)}"


def baseline_fetch_and_extract(pages: list[GeneratedPage], base_url: str) -> float:
    """One process, one page at a time: GET, then trafilatura.bare_extraction."""
    started = time.perf_counter()
    with httpx.Client() as client:
        for page in pages:
            html = client.get(base_url + page.path).content
            trafilatura.bare_extraction(html, url=base_url + page.path, with_metadata=True,
                                        include_comments=False)
    return len(pages) / (time.perf_counter() - started)


def pooled_fetch_and_extract(pages: list[GeneratedPage], base_url: str, pool: ExtractorPool) -> float:
    """Fetch threads feed the pool; extraction runs in worker processes."""
    started = time.perf_counter()
    with httpx.Client(limits=httpx.Limits(max_connections=8)) as client, \
            ThreadPoolExecutor(max_workers=4) as fetchers:

        def fetched() -> Iterator[tuple[int, ExtractionInput]]:
            queue = iter(enumerate(pages))
            pending = {}
            for _ in range(pool.max_in_flight):
                index, page = next(queue, (None, None))
                if page is not None:
                    pending[fetchers.submit(client.get, base_url + page.path)] = (index, page)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index, page = pending.pop(future)
                    yield index, to_input(page, base_url, future.result().content)
                    nxt_index, nxt = next(queue, (None, None))
                    if nxt is not None:
                        pending[fetchers.submit(client.get, base_url + nxt.path)] = (nxt_index, nxt)

        count = sum(1 for _ in pool.map_unordered(fetched()))
    assert count == len(pages)
    return len(pages) / (time.perf_counter() - started)


def extraction_only(pages: list[GeneratedPage], pool: ExtractorPool | None, fast: bool) -> float:
    inputs = [(i, to_input(page, "https://herald.example", page.html)) for i, page in enumerate(pages)]
    started = time.perf_counter()
    if pool is None:
        for _, inp in inputs:
            extract_article(inp, fast=fast)
    else:
        for _ in pool.map_unordered(inputs):
            pass
    return len(pages) / (time.perf_counter() - started)


def benchmark(pages: list[GeneratedPage], workers: int | None, rounds: int, fast: bool) -> None:
    sizes = [len(page.html) for page in pages]
    print(f"throughput on {len(pages)} pages, {min(sizes) // 1024}-{max(sizes) // 1024} KB "
          f"(median {statistics.median(sizes) // 1024} KB), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, trafilatura fast mode {'on' if fast else 'off'}:")
    started = time.perf_counter()
    pool = ExtractorPool(workers=workers, fast=fast)
    pool.submit(to_input(pages[0], "https://herald.example", None)).result()
    print(f"  pool start-up ({pool.workers} workers, first result): "
          f"{time.perf_counter() - started:.2f} s")
    server, base_url = start_server_process(len(pages))
    try:
        extraction_only(pages[:20], None, fast)  # warm caches in this process too
        ratios, baseline_cpu, pool_parent_cpu, pool_worker_cpu = [], [], [], []
        for round_number in range(1, rounds + 1):
            cpu = process_cpu_seconds()
            baseline = baseline_fetch_and_extract(pages, base_url)
            baseline_cpu.append((process_cpu_seconds() - cpu) / len(pages))
            cpu, workers_cpu = process_cpu_seconds(), workers_cpu_seconds(pool)
            pooled = pooled_fetch_and_extract(pages, base_url, pool)
            pool_parent_cpu.append((process_cpu_seconds() - cpu) / len(pages))
            pool_worker_cpu.append((workers_cpu_seconds(pool) - workers_cpu) / len(pages))
            ratios.append(pooled / baseline)
            print(f"  round {round_number}: fetch+extract  baseline {baseline:6.1f} pages/s   "
                  f"pool {pooled:6.1f} pages/s   ratio {pooled / baseline:.2f}")
        print(f"  median ratio pool / single-process baseline: {statistics.median(ratios):.2f}")
        base_ms = 1000 * statistics.median(baseline_cpu)
        parent_ms = 1000 * statistics.median(pool_parent_cpu)
        worker_ms = 1000 * statistics.median(pool_worker_cpu)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"  CPU per page (independent of machine load): baseline {base_ms:.1f} ms; "
              f"pool {parent_ms:.1f} ms parent + {worker_ms:.1f} ms worker")
        print(f"  projected pool / baseline on {cores} idle cores (CPU-bound, ideal scheduling): "
              f"{min(cores, pool.workers) * base_ms / (parent_ms + worker_ms):.2f}")
        in_process = extraction_only(pages, None, fast)
        pooled_only = extraction_only(pages, pool, fast)
        print(f"  extraction only: in-process extract_article {in_process:6.1f} pages/s   "
              f"pool {pooled_only:6.1f} pages/s   ratio {pooled_only / in_process:.2f}")
        print(f"  worker memory (RSS): {', '.join(worker_rss(pool))}")
        restart = measure_restart(pool)
        print(f"  worker replacement (fresh fork from the fork server + one job): "
              f"{restart * 1000:.0f} ms")
    finally:
        server.kill()
        pool.close()


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def workers_cpu_seconds(pool: ExtractorPool) -> float:
    """CPU time of the pool's live workers, from /proc (Linux)."""
    total = 0.0
    for worker in pool._workers:
        try:
            fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def worker_rss(pool: ExtractorPool) -> list[str]:
    sizes = []
    for worker in pool._workers:
        try:
            status = Path(f"/proc/{worker.process.pid}/status").read_text()
        except OSError:
            continue
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        sizes.append(f"{kib // 1024} MiB")
    return sizes or ["n/a"]


def measure_restart(pool: ExtractorPool) -> float:
    """Time to replace a worker: start a new one the way the pool does after a crash."""
    started = time.perf_counter()
    worker = pool._new_worker()  # the same call the dispatcher makes
    worker.conn.recv()  # "ready"
    worker.conn.send((0, ExtractionInput("https://x.example/", None, entry_summary="warm")))
    worker.conn.recv()
    elapsed = time.perf_counter() - started
    worker.stop()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="trafilatura's fast mode")
    parser.add_argument("--no-bench", action="store_true", help="quality only")
    args = parser.parse_args()
    pages = generate_pages(args.pages)
    ok = evaluate_quality(pages, args.fast)
    if not args.no_bench:
        benchmark(pages, args.workers, args.rounds, args.fast)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
