"""``newswatch demo``: a pass over the bundled offline sample, served on 127.0.0.1.

Everything happens in a folder of its own (``newswatch-demo/`` by default): a config
file a user can read and reuse, and a fresh SQLite database each time.
"""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from flows.demo_server import SampleServer


def write_demo_config(directory: Path, server: SampleServer) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "database_url": "sqlite:///newswatch.db",
        "feeds": [{"url": url, "name": name} for url, name in server.feed_urls()],
        "fetch": {
            # The sample is served by this process on loopback: allow exactly that server.
            "allow_private_networks": [server.host_port],
            "per_host_delay_seconds": 0,
            "per_host_concurrency": 4,
            "timeout_seconds": 10,
        },
    }
    path = directory / "newswatch.yaml"
    header = "# Written by `newswatch demo`: the sample's feeds, served on 127.0.0.1 while the demo runs.\n"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def run_demo(directory: Path, *, engine: str = "prefect") -> None:
    from flows.cli import Engine, _print_summary, alerts, run_pass
    from flows.cli.progress import choose_mode

    directory = directory.resolve()
    for leftover in directory.glob("newswatch.db*"):
        leftover.unlink()  # each demo starts from an empty database
    with SampleServer() as server:
        config = write_demo_config(directory, server)
        typer.echo(f"Serving the bundled sample at {server.base_url}; config: {config}")
        typer.echo("Running one monitoring pass…")
        result = run_pass(config, force=True, engine=Engine(engine), progress=choose_mode(quiet=False))
    _print_summary(result["counts"], result["problems"])
    typer.echo("\nAlerts (one per topic and story):")
    alerts(config=config)
    typer.echo(
        f"\nMore: newswatch alerts --config {config} --format json   (evidence and provenance)\n"
        f"      newswatch feeds --config {config}"
    )
