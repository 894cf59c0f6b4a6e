"""`newswatch run` timed whole, as a user runs it, against the bare trafilatura loop: every
figure docs/performance.md reports, in one command.

    .venv/bin/python benchmarks/run_bench.py                 # all of it (~15 min on 2 free cores)
    .venv/bin/python benchmarks/run_bench.py --cases real --skip-fixed-cost --skip-memory
    .venv/bin/python benchmarks/run_bench.py --cases real --engines prefect-kept,plain --pass-repeat 5 \
        --skip-fixed-cost --skip-memory       # Prefect's share: medians of 5 alternating rounds

Cases (each served from a child process on 127.0.0.1, FEEDS × 4 articles):

- ``real``: ARTICLES pages dealt from the 109 real pages of ../shared/data/pages/, each copy
  after the first marked in its title and first paragraph (benchmarks/pagegen.py);
- ``distinct``: the 109 real pages once each, so nothing gains from near-identical copies;
- ``generated``: ARTICLES generated pages (cheaper for trafilatura than real ones).

The real cases are skipped, with the reason, where the shared folder is absent.

For each case: the bare loop (one process: GET, then ``trafilatura.bare_extraction(html,
url=…, with_metadata=True)``) over pages in the same mix, then ``newswatch run --format json
--quiet`` as a subprocess, each on a new database and timed whole (start-up, Prefect's API
server, the pass, the exit), then a second run with nothing new; engines: ``prefect`` (the
default engine starting its own server, as a machine's first run does), ``prefect-kept``
(the default engine on the server an earlier run kept, as every later run) and ``plain``.
CPU time is read from /proc per process of the command's tree (main, extraction workers,
analysis process, fork server, Prefect's API server; a kept server apart) and PSS sampled.
Fixed costs: an empty config and nothing-new passes over 20 and 500 feeds, starting a
server, on the kept server and on a running Prefect server. Every run's stderr is checked for tracebacks and error lines.
Speed on a shared 2-core machine varies: the machine's load is printed beside the figures,
and CPU seconds hold better than wall-clock ones.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import proctree  # noqa: E402
from benchmarks.pagegen import (  # noqa: E402
    SHARED_PAGES,
    BenchSite,
    SiteShape,
    load_real_pages,
    real_pages_missing,
)
from benchmarks.pipeline_bench import QUIET_PREFECT, write_config  # noqa: E402

PYTHON = sys.executable
NEWSWATCH = str(Path(PYTHON).with_name("newswatch"))
ERROR_LINE = re.compile(r"(?i)traceback|error|exception|critical")


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (5 min {five:.1f})"


@dataclass
class Runs:
    """Every `newswatch run` the bench made, and what its stderr held."""

    count: int = 0
    tracebacks: int = 0
    error_lines: list[str] = field(default_factory=list)

    def check(self, stderr: str) -> None:
        self.count += 1
        self.tracebacks += stderr.count("Traceback")
        self.error_lines.extend(line for line in stderr.splitlines() if ERROR_LINE.search(line))


RUNS = Runs()


@dataclass
class CommandRun:
    seconds: float
    counts: dict[str, int]
    cpu: dict[str, float]
    pss_mib: float
    prefect_server_pss_mib: float

    @property
    def newswatch_cpu(self) -> float:
        return sum(v for k, v in self.cpu.items() if k != "prefect server")

    @property
    def all_cpu(self) -> float:
        return sum(self.cpu.values())


NO_KEPT_SERVER = {"NEWSWATCH_SCHEDULE__KEEP_SERVER_MINUTES": "0"}  # each run starts and stops its own


def kept_server_pid(env: dict[str, str]) -> int | None:
    """The Prefect API server an earlier run kept in this PREFECT_HOME, if it runs: it is
    not in the command's tree, so its CPU and memory are read apart."""
    try:
        pid = int(json.loads((Path(env["PREFECT_HOME"]) / "newswatch-run-server.json").read_text())["pid"])
    except (KeyError, OSError, ValueError):
        return None
    return pid if "flows.run_server" in proctree.cmdline(pid) else None


def stop_kept_server(env: dict[str, str]) -> None:
    subprocess.run([NEWSWATCH, "api-server", "stop"], capture_output=True, env={**os.environ, **QUIET_PREFECT, **env}, check=True)


def newswatch_run(config: Path, env: dict[str, str], *extra: str) -> CommandRun:
    """`newswatch run` as a subprocess, timed whole, its tree sampled (and a kept Prefect
    API server it uses, apart)."""
    kept = kept_server_pid(env)
    kept_cpu = proctree.cpu_seconds(kept) if kept else 0.0
    started = time.perf_counter()
    process = subprocess.Popen(
        [NEWSWATCH, "run", "--config", str(config), "--format", "json", "--quiet", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(config.parent),
        env={**os.environ, **QUIET_PREFECT, **env},
    )
    sampler = proctree.TreeSampler(process.pid).start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop()
    RUNS.check(err)
    if process.returncode != 0:
        raise RuntimeError(f"newswatch run failed (exit {process.returncode}): {err.strip()[-500:]}")
    summary = json.loads(out)
    counts = {**summary["counts"], "task_runs": summary.get("task_runs", 0)}  # Prefect's task runs (0: plain)
    cpu, server_pss = sampler.cpu_by_role(), sampler.peak_prefect_server_pss_mib
    if kept:
        cpu["prefect server"] = cpu.get("prefect server", 0.0) + proctree.cpu_seconds(kept) - kept_cpu
        server_pss = max(server_pss, proctree.pss_kb(kept) / 1024)
    return CommandRun(seconds, counts, cpu, sampler.peak_pss_mib, server_pss)


def baseline(urls: list[str]) -> dict[str, Any]:
    path = Path(tempfile.mkstemp(prefix="bench-urls-")[1])
    path.write_text("\n".join(urls))
    try:
        done = subprocess.run(
            [PYTHON, str(REPO / "benchmarks" / "pipeline_bench.py"), "--phase", "baseline", "--urls", str(path)],
            capture_output=True, text=True, check=True, cwd=str(REPO),
        )
    finally:
        path.unlink()
    return json.loads(done.stdout.strip().splitlines()[-1])


class PrefectServer:
    """`prefect server start` on a free port (what `newswatch serve` starts), for the runs
    that find a server running."""

    def __init__(self, home: Path) -> None:
        self.port = unused_port()
        self.log = open(home.parent / "prefect-server.log", "wb")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, **QUIET_PREFECT, "PREFECT_HOME": str(home)}, start_new_session=True,
        )
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError("the Prefect server did not start within 300 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def config_for(directory: Path, site: BenchSite | None, *, prefect_port: int, feeds: int | None = None) -> Path:
    path = write_config(directory, site)
    import yaml

    data = yaml.safe_load(path.read_text())
    if feeds is not None:
        data["feeds"] = data["feeds"][:feeds]
    data["schedule"] = {"server_port": prefect_port}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- the cases ------------------------------------------------------------------------------


def case_shapes(args: argparse.Namespace) -> dict[str, tuple[SiteShape, int]]:
    """Each case's site and how many of its first pages the baseline reads."""
    shapes: dict[str, tuple[SiteShape, int]] = {}
    real = str(SHARED_PAGES)
    distinct = len(load_real_pages(real)) if not real_pages_missing() else 0
    for case in args.cases:
        if case == "real" and distinct:
            # Pages are dealt in turn: the first 2 × 109 hold each page twice, the pass's mix.
            shapes[case] = (SiteShape(args.articles // 4, 4, real_pages=real), 2 * distinct)
        elif case == "distinct" and distinct:
            shapes[case] = (SiteShape(distinct, 1, real_pages=real), distinct)
        elif case == "generated":
            shapes[case] = (SiteShape(args.articles // 4, 4), args.generated_baseline_pages)
    return shapes


def run_case(name: str, shape: SiteShape, baseline_pages: int, work: Path, home: Path, engines: list[str],
             repeat: int = 1) -> dict[str, Any]:
    """The bare loop, then each engine's pass ``repeat`` times. Rounds alternate the engines'
    order (A B, B A, ...), so a machine that speeds up or slows down over the minutes favours
    none; each engine's median run by wall time is the one reported in full."""
    figures: dict[str, Any] = {"articles": shape.articles, "load_before": load()}
    with BenchSite(shape) as site:
        urls = site.article_urls()
        step = max(1, len(urls) // baseline_pages) if not shape.real_pages else 1
        figures["baseline"] = baseline(urls[::step][:baseline_pages])
        for round_ in range(repeat):
            for engine in engines if round_ % 2 == 0 else list(reversed(engines)):
                directory = work / f"{name}-{engine}-{round_}"
                config = config_for(directory, site, prefect_port=unused_port())
                extra = ("--engine", "plain") if engine == "plain" else ()
                # prefect: each run starts its own server (a machine's first run); prefect-kept:
                # the server an earlier run kept is running (every later run, the default).
                env = {"PREFECT_HOME": str(home), **(NO_KEPT_SERVER if engine != "prefect-kept" else {})}
                if engine == "prefect-kept":
                    newswatch_run(config_for(work / "keep-warm-up", None, prefect_port=unused_port()), env)
                site.reset()
                first = newswatch_run(config, env, *extra)
                record = figures.setdefault(engine, {"runs": []})
                record["runs"].append(first.__dict__)
                if round_ == 0:  # the second pass's figures do not vary: measured once
                    site.reset()
                    record["second"] = newswatch_run(config, env, *extra).__dict__
                    record["second_requests"] = site.stats()
                if engine == "prefect-kept":
                    stop_kept_server(env)
                progress(f"{name} [{engine}] round {round_ + 1}: {first.seconds:.1f} s")
    for engine in engines:
        runs = sorted(figures[engine]["runs"], key=lambda run: run["seconds"])
        figures[engine]["first"] = runs[(len(runs) - 1) // 2]
    figures["load_after"] = load()
    return figures


def fixed_costs(work: Path, repeat: int) -> dict[str, Any]:
    """Empty config, and nothing-new passes over 20 and 500 feeds, with and without a server."""
    figures: dict[str, Any] = {"load_before": load()}
    home = work / "fixed-home"
    port = unused_port()  # nothing listens: runs start their own server
    empty = config_for(work / "empty", None, prefect_port=port)

    def median_of(config: Path, env: dict[str, str], *extra: str) -> list[tuple[float, float]]:
        """(wall seconds, CPU seconds of all the command's processes) of each run."""
        runs = [newswatch_run(config, env, *extra) for _ in range(repeat)]
        return [(run.seconds, run.all_cpu) for run in runs]

    reused, own = {"PREFECT_HOME": str(home)}, {"PREFECT_HOME": str(home), **NO_KEPT_SERVER}
    new_home = []
    for attempt in range(max(1, repeat // 2)):
        fresh = {"PREFECT_HOME": str(work / f"new-home-{attempt}")}
        run = newswatch_run(empty, fresh)  # starts the server it keeps
        stop_kept_server(fresh)
        new_home.append((run.seconds, run.all_cpu))
    figures["empty, new PREFECT_HOME"] = new_home
    figures["empty, reused PREFECT_HOME, no server (keep_server_minutes 0)"] = median_of(empty, own)
    starting = []
    for _ in range(repeat):
        stop_kept_server(reused)
        run = newswatch_run(empty, reused)
        starting.append((run.seconds, run.all_cpu))
    figures["empty, reused PREFECT_HOME, starting the server it keeps"] = starting
    figures["empty, the kept server running (default, after a first run)"] = median_of(empty, reused)
    figures["empty, --engine plain"] = median_of(empty, reused, "--engine", "plain")
    with BenchSite(SiteShape(500, 1)) as site:
        configs = {n: config_for(work / f"quiet-{n}", site, prefect_port=port, feeds=n) for n in (20, 500)}
        for n, config in configs.items():
            newswatch_run(config, reused, "--engine", "plain")  # the first pass
            figures[f"nothing new, {n} feeds, no server (keep_server_minutes 0)"] = median_of(config, own)
            figures[f"nothing new, {n} feeds, the kept server running"] = median_of(config, reused)
        stop_kept_server(reused)
        server = PrefectServer(work / "server-home")
        try:
            for config in [empty, *configs.values()]:
                text = config.read_text().replace(f"server_port: {port}", f"server_port: {server.port}")
                config.write_text(text)
            figures["empty, server running"] = median_of(empty, reused)
            for n, config in configs.items():
                figures[f"nothing new, {n} feeds, server running"] = median_of(config, reused)
        finally:
            server.stop()
    figures["load_after"] = load()
    return figures


def memory(args: argparse.Namespace, work: Path, home: Path) -> dict[str, Any]:
    shape = SiteShape(args.memory_articles // 4, 4, real_pages=str(SHARED_PAGES))
    with BenchSite(shape) as site:
        config = config_for(work / "memory", site, prefect_port=unused_port())
        done = newswatch_run(config, {"PREFECT_HOME": str(home), **NO_KEPT_SERVER})
    return {"articles": shape.articles, "run": done.__dict__, "load": load()}


# --- the table ----------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}; {load()}", file=sys.stderr, flush=True)


def engine_rows(case: str, engine: str, figures: dict[str, Any], base: dict[str, Any]) -> list[tuple[str, str, str]]:
    first = CommandRun(**figures[engine]["first"])
    second = CommandRun(**figures[engine]["second"])
    extracted = first.counts.get("articles_extracted", 0)
    rate = extracted / first.seconds
    base_rate = base["pages"] / base["seconds"]
    base_cpu = base["cpu_seconds"] / base["pages"] * 1000
    label = {"prefect": "default engine, starting its server", "prefect-kept": "default engine, kept server running"}.get(engine, "--engine plain")
    per_article = first.newswatch_cpu / max(extracted, 1) * 1000
    roles = ", ".join(f"{role} {seconds / max(extracted, 1) * 1000:.1f}" for role, seconds in sorted(first.cpu.items()))
    requests = figures[engine]["second_requests"]
    runs = [CommandRun(**run) for run in figures[engine]["runs"]]
    each = ", ".join(f"{run.counts.get('articles_extracted', 0) / run.seconds / base_rate:.2f}" for run in runs)
    return [
        (f"{case}: newswatch run [{label}]", f"{rate:.1f} articles/s = {rate / base_rate:.2f} ×",
         f"{extracted} extracted in {first.seconds:.1f} s, the whole command"
         + (f"; median of {len(runs)} runs: {each} ×" if len(runs) > 1 else "")),
        ("  CPU per article", f"{per_article:.1f} ms",
         f"beyond the bare loop's {base_cpu:.1f} ms: {per_article - base_cpu:+.1f} ms; by process (ms): {roles}"),
        ("  peak memory", f"{first.pss_mib:.0f} MiB PSS",
         f"newswatch's processes; Prefect's API server {first.prefect_server_pss_mib:.0f} MiB beside them"),
        ("  second run, nothing new", f"{second.seconds:.1f} s",
         f"{requests.get('feed_304', 0)} × 304 of {requests.get('feed_requests', 0)} feed requests, "
         f"{requests.get('article_requests', 0)} article requests"),
    ]


def report(figures: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = [("machine", f"{os.cpu_count()} CPUs", f"started at {figures['load_before']}")]
    for case, skipped in figures.get("skipped", {}).items():
        rows.append((f"{case}", "skipped", skipped))
    for case, result in figures.get("cases", {}).items():
        base = result["baseline"]
        rows.append((f"{case}: bare loop", f"{base['pages'] / base['seconds']:.1f} pages/s",
                     f"{base['pages']} pages, {base['cpu_seconds'] / base['pages'] * 1000:.1f} ms CPU a page, "
                     f"extraction median {base['extract_median_ms']:.0f} ms; {result['load_before']}"))
        for engine in ("prefect", "prefect-kept", "plain"):
            if engine in result:
                rows.extend(engine_rows(case, engine, result, base))
        for engine in ("prefect", "prefect-kept"):
            if engine in result and "plain" in result:
                flows = [CommandRun(**run) for run in result[engine]["runs"]]
                plains = [CommandRun(**run) for run in result["plain"]["runs"]]
                wall = statistics.median(r.seconds for r in flows), statistics.median(r.seconds for r in plains)
                cpu = statistics.median(r.all_cpu for r in flows), statistics.median(r.all_cpu for r in plains)
                server = statistics.median(r.cpu.get("prefect server", 0) for r in flows)
                rows.append((f"  Prefect's share ({engine})", f"{(wall[0] - wall[1]) / wall[0] * 100:+.1f} % wall",
                             f"{(cpu[0] - cpu[1]) / cpu[0] * 100:+.1f} % CPU (medians of {len(flows)} and {len(plains)} runs; "
                             f"its API server {server:.1f} CPU s); {result['load_after']}"))
    fixed = figures.get("fixed_cost")
    if fixed:
        for name, values in fixed.items():
            if isinstance(values, list):
                walls, cpus = [v[0] for v in values], [v[1] for v in values]
                rows.append((f"newswatch run, {name}", f"{statistics.median(walls):.1f} s",
                             f"CPU {statistics.median(cpus):.1f} s (all its processes; median); runs: "
                             + ", ".join(f"{w:.1f}" for w in walls)))
        rows.append(("  (load)", "", f"{fixed['load_before']} → {fixed['load_after']}"))
    mem = figures.get("memory")
    if mem:
        run = CommandRun(**mem["run"])
        rows.append((f"memory, {mem['articles']:,} real articles", f"{run.pss_mib:.0f} MiB PSS",
                     f"newswatch's processes (default engine); Prefect's API server {run.prefect_server_pss_mib:.0f} MiB "
                     f"beside them; {run.counts.get('articles_extracted', 0)} extracted in {run.seconds:.0f} s; {mem['load']}"))
    rows.append(("tracebacks", f"{RUNS.tracebacks} in {RUNS.count} runs",
                 f"{len(RUNS.error_lines)} error lines" + (f": {RUNS.error_lines[:3]}" if RUNS.error_lines else "")))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value'.ljust(value_width)}  notes")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value.ljust(value_width)}  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="real,distinct,generated", type=lambda v: [c for c in v.split(",") if c])
    parser.add_argument("--engines", default="prefect,prefect-kept,plain", type=lambda v: [c for c in v.split(",") if c])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--memory-articles", type=int, default=5000)
    parser.add_argument("--generated-baseline-pages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fixed-cost figure")
    parser.add_argument("--pass-repeat", type=int, default=1,
                        help="passes of each engine per case, in alternating order; the median is reported")
    parser.add_argument("--skip-fixed-cost", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {"load_before": load(), "cases": {}, "skipped": {}}
    missing = real_pages_missing()
    for case in args.cases:
        if case in ("real", "distinct") and missing:
            figures["skipped"][case] = missing
    work = Path(tempfile.mkdtemp(prefix="newswatch-run-bench-"))
    home = work / "prefect-home"
    try:
        empty = config_for(work / "warm-up", None, prefect_port=unused_port())
        newswatch_run(empty, {"PREFECT_HOME": str(home), **NO_KEPT_SERVER})  # Prefect's database, created once
        for case, (shape, baseline_pages) in case_shapes(args).items():
            progress(f"case {case}: {shape.articles} articles")
            figures["cases"][case] = run_case(case, shape, baseline_pages, work, home, args.engines, args.pass_repeat)
        if not args.skip_fixed_cost:
            progress("fixed costs")
            figures["fixed_cost"] = fixed_costs(work, args.repeat)
        if not args.skip_memory and not missing:
            progress(f"memory at {args.memory_articles} real articles")
            figures["memory"] = memory(args, work, home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures["runs"] = RUNS.__dict__
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
