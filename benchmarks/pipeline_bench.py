"""The pipeline against the physical limit: one run, a table of figures, no pass/fail.

    .venv/bin/python benchmarks/pipeline_bench.py --feeds 500 --articles 4

Generates FEEDS × ARTICLES news pages (benchmarks/pagegen.py), serves them from a child
process on 127.0.0.1 without artificial delay, and measures, each in a fresh process:

1. the bare baseline: one Python process GETs the pages and calls
   ``trafilatura.bare_extraction(html, url=…, with_metadata=True)`` on each;
2. a first pass (the plain engine, then the Prefect flow, each on a fresh SQLite database):
   articles/s end to end, CPU use of the process tree, peak memory (RSS and PSS of the
   tree, extraction workers included, Prefect's API server apart);
3. a second pass with nothing new: seconds, requests the server saw, articles fetched;
4. Prefect's share: flow pass time against the plain engine (the same steps on thread pools);
5. the fixed cost of ``newswatch run`` on a config without feeds (fresh and reused PREFECT_HOME);
6. topic matching throughput and story clustering cost (other engineers' benchmarks when
   present: benchmarks/topics_bench.py, benchmarks/stories_bench.py).

Everything is one host, so the bench config sets per_host_delay_seconds 0 and a high
per_host_concurrency: politeness would otherwise be the whole story. docs/performance.md
has the figures of a run and what limits each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import proctree  # noqa: E402
from benchmarks.pagegen import BenchSite, SiteShape  # noqa: E402

PYTHON = sys.executable
NEWSWATCH = str(Path(PYTHON).with_name("newswatch"))
QUIET_PREFECT = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # A loaded machine has taken over 120 s to start the ephemeral API on a new home.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


# --- configs -------------------------------------------------------------------------------


def write_config(directory: Path, site: BenchSite | None, *, name: str = "newswatch.yaml",
                 database_url: str | None = None, per_host_concurrency: int = 32) -> Path:
    """A config over the bench site's feeds (none when ``site`` is None)."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "database_url": database_url or "sqlite:///newswatch.db",
        "feeds": [{"url": url} for url in site.feed_urls()] if site else [],
        "fetch": {
            "allow_private_networks": [site.host_port] if site else False,
            # One host serves every feed and page here: politeness off, or it is all we measure.
            "per_host_delay_seconds": 0,
            "per_host_concurrency": per_host_concurrency,
            "timeout_seconds": 30,
        },
    }
    path = directory / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --- phases run in a child process ----------------------------------------------------------


def _site_get(base_url: str, path: str) -> dict[str, int]:
    with urllib.request.urlopen(base_url + path, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def phase_baseline(urls: list[str]) -> dict[str, Any]:
    """One process, one connection: GET each page, bare_extraction on it."""
    import httpx
    import trafilatura

    for name in ("trafilatura", "htmldate", "courlan"):
        __import__("logging").getLogger(name).setLevel(50)
    extract_ms: list[float] = []
    extracted = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            html = client.get(url).text
            t0 = time.perf_counter()
            document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
            extract_ms.append((time.perf_counter() - t0) * 1000)
            extracted += int(bool(document is not None and document.text))
    seconds = time.perf_counter() - started
    return {
        "pages": len(urls), "extracted": extracted, "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_started,
        "extract_median_ms": statistics.median(extract_ms) if extract_ms else 0.0,
    }


def _timeline(runtime: Any, since: Any) -> dict[str, float]:
    """When, in seconds after ``since``, the pass finished polling feeds, stored its first
    and last article and analysed its last: shows how far the stages overlap."""
    from sqlalchemy import func, select

    from storage.models import Article, FeedFetch

    with runtime.database.session() as session:
        moments = {
            "feeds done": session.scalar(select(func.max(FeedFetch.fetched_at)).where(FeedFetch.fetched_at >= since)),
            "first article": session.scalar(select(func.min(Article.fetched_at)).where(Article.fetched_at >= since)),
            "last article": session.scalar(select(func.max(Article.fetched_at)).where(Article.fetched_at >= since)),
            "analysed": session.scalar(select(func.max(Article.analysed_at)).where(Article.analysed_at >= since)),
        }
    return {name: (moment - since).total_seconds() for name, moment in moments.items() if moment is not None}


def _prefect_api_cpu_seconds() -> float:
    """CPU seconds used so far by the ephemeral Prefect API server this process started."""
    return sum(proctree.cpu_seconds(p) for p in proctree.tree(os.getpid()) if proctree.is_prefect_server(p))


def phase_pass(config: str, engine: str, site_url: str) -> dict[str, Any]:
    """Setup (imports, database, Prefect's API), then a first pass and a second one."""
    t0 = time.perf_counter()
    from config.settings import load_settings
    from storage.clock import utcnow
    from tasks.runtime import Runtime

    settings = load_settings(config)
    runtime = Runtime(settings)  # both passes share it, as one process's passes would
    runtime.database, runtime.topics, runtime.extractor_pool  # noqa: B018 (opened before timing)
    if engine == "prefect":
        os.environ.update({k: v for k, v in QUIET_PREFECT.items() if k not in os.environ})
        from prefect import flow

        from flows.monitor import handing_over, monitor

        @flow(name="bench-warm-up")
        def warm_up() -> int:
            return 1

        warm_up()  # starts the ephemeral API, as the first flow of a one-shot run does

        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        def one_pass() -> tuple[dict[str, int], dict[str, float]]:
            # No heartbeats, as `newswatch run` calls the flow on a server of its own.
            with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), handing_over(runtime):
                return monitor(config_path=config)["counts"], {}
    else:
        from tasks.pass_driver import run_pass_plain

        def one_pass() -> tuple[dict[str, int], dict[str, float]]:
            return dict(run_pass_plain(runtime).counts), {}
    setup = time.perf_counter() - t0

    passes = []
    for _ in range(2):
        _site_get(site_url, "/_reset")
        fetcher = runtime.fetcher
        requests_before = fetcher.request_count
        cpu_before = proctree.tree_cpu_seconds(os.getpid())
        api_cpu_before = _prefect_api_cpu_seconds()
        main_cpu_before = proctree.cpu_seconds(os.getpid())
        started_at = utcnow()
        started = time.perf_counter()
        counts, _ = one_pass()
        seconds = time.perf_counter() - started
        passes.append({
            "seconds": seconds, "counts": counts, "stages": _timeline(runtime, started_at),
            "cpu_seconds": proctree.tree_cpu_seconds(os.getpid()) - cpu_before,
            "main_cpu_seconds": proctree.cpu_seconds(os.getpid()) - main_cpu_before,
            "prefect_api_cpu_seconds": _prefect_api_cpu_seconds() - api_cpu_before,
            "server": _site_get(site_url, "/_stats"),
            "client_requests": fetcher.request_count - requests_before,
        })
    runtime.close()
    return {"setup_seconds": setup, "first": passes[0], "second": passes[1]}


# --- the parent: orchestration and the table -----------------------------------------------


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[dict[str, Any], proctree.MemoryPeak, float]:
    """Run a phase in a fresh process; its JSON result, its memory peak, its wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, str(Path(__file__).resolve()), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})}, cwd=str(REPO), text=True,
    )
    sampler = proctree.MemorySampler(process.pid).start()
    out, err = process.communicate()
    peak = sampler.stop()
    if process.returncode != 0:
        raise PhaseFailed(f"bench phase {' '.join(args[:2])} failed (exit {process.returncode}): "
                          f"{(err.strip().splitlines() or ['no output'])[-1][:300]}")
    return json.loads(out.strip().splitlines()[-1]), peak, time.perf_counter() - started


class PhaseFailed(Exception):
    """A phase's process failed: reported in the table, the other phases still run."""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def time_command(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env={**os.environ, **env}, cwd=str(cwd), capture_output=True,
                              text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, "timed out after 600 s"
    seconds = time.perf_counter() - started
    noise = "traceback" if "Traceback" in done.stderr + done.stdout else ""
    if done.returncode != 0:
        noise = f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    return seconds, noise


def fixed_costs(work: Path) -> list[tuple[str, str, str]]:
    """`newswatch run` with no feeds: what a one-shot run costs before any work."""
    empty = write_config(work / "empty", None)
    rows = []
    home = work / "prefect-home"
    base_env = {**QUIET_PREFECT, "PREFECT_HOME": str(home)}
    seconds, _ = time_command([PYTHON, "-c", "import prefect"], base_env, work)
    rows.append(("import prefect", f"{seconds:.1f} s", "python -c 'import prefect' (warm file cache)"))
    seconds, _ = time_command([NEWSWATCH, "--help"], base_env, work)
    rows.append(("newswatch --help", f"{seconds:.1f} s", "CLI start-up without prefect"))
    seconds, note = time_command([NEWSWATCH, "run", "--config", str(empty), "--engine", "plain"], base_env, empty.parent)
    rows.append(("run, empty config, --engine plain", f"{seconds:.1f} s", note or "imports + database"))
    shutil.rmtree(home, ignore_errors=True)
    seconds, note = time_command([NEWSWATCH, "run", "--config", str(empty)], base_env, empty.parent)
    rows.append(("run, empty config, new PREFECT_HOME", f"{seconds:.1f} s",
                 note or "import prefect + API database created and migrated + flow"))
    seconds, note = time_command([NEWSWATCH, "run", "--config", str(empty)], base_env, empty.parent)
    rows.append(("run, empty config, reused PREFECT_HOME", f"{seconds:.1f} s",
                 note or "import prefect + ephemeral API start + flow"))
    return rows


def other_benchmarks() -> list[tuple[str, str, str]]:
    """The topics and stories benchmarks of other engineers, when they exist."""
    rows = []
    for name, what, extra in [("topics_bench.py", "topic matching", []),
                              ("stories_bench.py", "story clustering", ["--sizes", "100000"])]:
        script = REPO / "benchmarks" / name
        if not script.exists():
            if name == "topics_bench.py":
                rows.append(topic_matching_row())
            else:
                rows.append((what, "not measured", f"benchmarks/{name} does not exist yet"))
            continue
        done = subprocess.run([PYTHON, str(script), *extra], cwd=str(REPO), capture_output=True, text=True, timeout=1800)
        lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
        rows.append((what, f"see below (exit {done.returncode})", f"benchmarks/{name}"))
        rows.extend(("", "", line) for line in lines[-12:])
    return rows


def topic_matching_row(documents: int = 300) -> tuple[str, str, str]:
    """TopicSet.match on generated ~5 KB documents (the shipped topics)."""
    import random

    from benchmarks.pagegen import _TOPICAL, _sentence
    from tasks.topics import Document, load_topics

    topics = load_topics(None)
    rng = random.Random(5)
    docs = []
    for index in range(documents):
        sentences: list[str] = []
        while sum(len(s) + 1 for s in sentences) < 5000:
            sentences.append(_sentence(rng))
        if index % 10 == 0:
            sentences.insert(3, rng.choice(_TOPICAL))
        docs.append(Document(title=_sentence(rng, 5, 9), body=" ".join(sentences), language="en"))
    topics.match(docs[0])
    started = time.perf_counter()
    fired = sum(len(topics.match(doc)) for doc in docs)
    seconds = time.perf_counter() - started
    return ("topic matching", f"{documents / seconds:,.0f} docs/s",
            f"{len(topics.topics)} shipped topics, ~5 KB docs, {seconds / documents * 1000:.2f} ms/doc, {fired} matches")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--articles", type=int, default=4, help="articles per feed")
    parser.add_argument("--engines", default="plain,prefect", help="plain, prefect or both (comma-separated)")
    parser.add_argument("--baseline-pages", type=int, default=1000, help="pages the baseline reads (evenly spread)")
    parser.add_argument("--skip-fixed-cost", action="store_true")
    parser.add_argument("--skip-others", action="store_true", help="skip topics/stories benchmarks")
    parser.add_argument("--per-host-concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase == "baseline":
        print(json.dumps(phase_baseline(Path(args.urls).read_text().split())))
        return 0
    if args.phase == "pass":
        print(json.dumps(phase_pass(args.config, args.engine, args.site)))
        return 0
    if args.feeds < 1 or args.articles < 1:
        parser.error("--feeds and --articles must be at least 1")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or any(e not in ("plain", "prefect") for e in engines):
        parser.error("--engines takes plain, prefect or plain,prefect")
    report(run_bench(args, engines), args.json)
    return 0


def run_bench(args: argparse.Namespace, engines: list[str]) -> dict[str, Any]:
    shape = SiteShape(args.feeds, args.articles)
    figures: dict[str, Any] = {"feeds": shape.feeds, "articles": shape.articles, "cpus": os.cpu_count(),
                               "load_before": os.getloadavg()[0]}
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    try:
        started = time.perf_counter()
        with BenchSite(shape) as site:
            figures["site_render_seconds"] = time.perf_counter() - started
            urls = site.article_urls()
            step = max(1, len(urls) // max(1, args.baseline_pages))
            (work / "urls.txt").write_text("\n".join(urls[::step][: args.baseline_pages]))
            progress(f"site ready ({shape.articles} pages); baseline")
            baseline, baseline_peak, _ = run_child(["--phase", "baseline", "--urls", str(work / "urls.txt")])
            baseline["peak_pss_mib"] = baseline_peak.pss_mib
            figures["baseline"] = baseline
            for engine in engines:
                config = write_config(work / engine, site, per_host_concurrency=args.per_host_concurrency)
                env = {**QUIET_PREFECT, "PREFECT_HOME": str(work / "prefect-home-pass")}
                progress(f"{engine} passes over {shape.articles} articles")
                try:
                    result, peak, _ = run_child(
                        ["--phase", "pass", "--config", str(config), "--engine", engine, "--site", site.base_url], env
                    )
                except PhaseFailed as exc:
                    figures[f"{engine}_failed"] = str(exc)
                    progress(str(exc))
                    continue
                result["peak"] = peak.__dict__
                figures[engine] = result
                progress(f"{engine}: first pass {result['first']['seconds']:.1f} s, second {result['second']['seconds']:.1f} s")
                if args.json:
                    args.json.write_text(json.dumps(figures, indent=2, default=str))
        if not args.skip_fixed_cost:
            progress("fixed cost of newswatch run")
            figures["fixed_cost"] = fixed_costs(work)
        if not args.skip_others:
            figures["others"] = other_benchmarks()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["load_after"] = os.getloadavg()[0]
    return figures


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def report(figures: dict[str, Any], json_path: Path | None) -> None:
    rows: list[tuple[str, str, str]] = []
    base = figures["baseline"]
    base_rate = _rate(base["pages"], base["seconds"])
    # CPU-time figures hold when other work shares the machine; wall-clock ones do not.
    base_cpu_rate = _rate(base["pages"], base["cpu_seconds"])
    rows.append(("bench site", f"{figures['feeds']} feeds × {figures['articles'] // figures['feeds']} articles",
                 f"{figures['articles']} pages rendered in {figures['site_render_seconds']:.1f} s; {figures['cpus']} CPUs"))
    if "load_before" in figures:
        rows.append(("machine load (1-min average)", f"{figures['load_before']:.1f} → {figures.get('load_after', 0):.1f}",
                     "other work on the machine makes wall-clock figures slower; CPU-time ones hold"))
    rows.append(("baseline (GET + bare_extraction)", f"{base_rate:.1f} articles/s",
                 f"{base['pages']} pages in {base['seconds']:.1f} s, one process; extraction median "
                 f"{base['extract_median_ms']:.0f} ms; peak PSS {base['peak_pss_mib']:.0f} MiB"))
    rows.append(("  baseline CPU per article", f"{base['cpu_seconds'] / max(1, base['pages']) * 1000:.0f} ms",
                 f"so at most {base_cpu_rate:.1f} articles/s on a free core"))
    for engine in ("plain", "prefect"):
        if f"{engine}_failed" in figures:
            rows.append((f"first pass [{engine}]", "failed", figures[f"{engine}_failed"]))
        if engine not in figures:
            continue
        result = figures[engine]
        first, second, peak = result["first"], result["second"], result["peak"]
        extracted = first["counts"].get("articles_extracted", 0)
        rate = _rate(extracted, first["seconds"])
        stages = ", ".join(f"{k} at {v:.1f} s" for k, v in first["stages"].items())
        rows.append((f"first pass [{engine}]", f"{rate:.1f} articles/s",
                     f"{extracted} extracted in {first['seconds']:.1f} s = {rate / base_rate:.2f} × baseline"
                     + (f"; {stages}" if stages else "")))
        api_cpu = first.get("prefect_api_cpu_seconds", 0.0)
        rows.append((f"  CPU busy [{engine}]", f"{first['cpu_seconds'] / first['seconds']:.2f} cores",
                     f"{first['cpu_seconds']:.0f} CPU s of the pipeline's processes"
                     + (f"; Prefect's API server {api_cpu:.1f} CPU s more" if engine == "prefect" else "")))
        if extracted and "main_cpu_seconds" in first:
            per_article = first["cpu_seconds"] / extracted * 1000
            main_per_article = first["main_cpu_seconds"] / extracted * 1000
            cores = figures["cpus"] or 1
            bound = min(cores * 1000 / per_article, 1000 / main_per_article)
            rows.append((f"  CPU per article [{engine}]", f"{per_article:.0f} ms",
                         f"main process {main_per_article:.0f} ms, extraction workers "
                         f"{per_article - main_per_article:.0f} ms; on {cores} free cores at most "
                         f"{bound:.1f} articles/s = {bound / base_cpu_rate:.2f} × baseline's CPU bound"))
        rows.append((f"  peak memory [{engine}]", f"{peak['pss_mib']:.0f} MiB PSS",
                     f"RSS sum {peak['rss_mib']:.0f} MiB over {peak['processes']} processes (main {peak['main_rss_mib']:.0f} MiB)"
                     + (f"; Prefect API server {peak['prefect_server_pss_mib']:.0f} MiB apart" if peak['prefect_server_pss_mib'] else "")))
        server = second["server"]
        rows.append((f"second pass, nothing new [{engine}]", f"{second['seconds']:.1f} s",
                     f"{server.get('feed_requests', 0)} feed requests ({server.get('feed_304', 0)} × 304), "
                     f"{server.get('article_requests', 0)} article requests, "
                     f"{second['counts'].get('articles_extracted', 0)} articles fetched"))
        rows.append((f"  setup [{engine}]", f"{result['setup_seconds']:.1f} s",
                     "imports, database, extractor pool" + (", ephemeral API + warm-up flow" if engine == "prefect" else "")))
    if "plain" in figures and "prefect" in figures:
        plain, flow = figures["plain"]["first"]["seconds"], figures["prefect"]["first"]["seconds"]
        rows.append(("Prefect's share of the first pass", f"{(flow - plain) / flow * 100:+.1f} %",
                     f"flow {flow:.1f} s vs plain engine {plain:.1f} s (separate runs: ±noise)"))
        first_flow, first_plain = figures["prefect"]["first"], figures["plain"]["first"]
        prefect_cpu = (first_flow["cpu_seconds"] + first_flow.get("prefect_api_cpu_seconds", 0.0)
                       - first_plain["cpu_seconds"])
        total_cpu = first_flow["cpu_seconds"] + first_flow.get("prefect_api_cpu_seconds", 0.0)
        rows.append(("  in CPU time", f"{prefect_cpu / total_cpu * 100:+.1f} %",
                     f"{prefect_cpu:+.1f} CPU s: the flow's processes and Prefect's API server against the plain engine's"))
    rows.extend(figures.get("fixed_cost", []))
    rows.extend(figures.get("others", []))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value'.ljust(value_width)}  notes")
    print(f"{'-' * width}  {'-' * value_width}  -----")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value.ljust(value_width)}  {note}")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
