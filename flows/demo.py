"""``newswatch demo``: a pass over the bundled offline sample, served on 127.0.0.1.

Everything happens in a folder of its own (``newswatch-demo/`` by default): a config
file a user can read and reuse, and a fresh SQLite database each time.
"""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from flows.cli.report import list_alerts, print_alert_table, print_pass_summary
from flows.demo_server import SampleServer, read_broken_on_purpose


class DemoError(Exception):
    """The demo cannot run as asked (its folder cannot be used); the message says why."""


def prepare_directory(directory: Path) -> Path:
    """The demo's folder, made if missing; DemoError when it is a file or cannot be written."""
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise DemoError(f"--dir {directory}: is a file; give a folder for the demo's config and database")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".newswatch-demo-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DemoError(f"--dir {directory}: cannot write there ({exc.strerror or exc}); give another folder") from None
    return directory


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


def sample_failure_notes(problems: list[str], on_purpose: dict[str, tuple[str, str]]) -> list[str]:
    """Say which of the pass's problems the sample has on purpose (so nobody hunts for a bug)."""
    notes = []
    for url, (name, why) in on_purpose.items():
        if any(problem.startswith(f"{url}: ") for problem in problems):
            notes.append(f"As intended: {name} fails because {why}; it is part of the sample.")
    return notes


def run_demo(directory: Path, *, engine: str = "prefect") -> None:
    from flows.cli.passes import Engine, run_pass
    from flows.cli.progress import choose_mode

    directory = prepare_directory(directory)
    for leftover in directory.glob("newswatch.db*"):
        leftover.unlink()  # each demo starts from an empty database
    with SampleServer() as server:
        config = write_demo_config(directory, server)
        typer.echo(f"Serving the bundled sample at {server.base_url}; config: {config}")
        typer.echo("Running one monitoring pass…")
        result = run_pass(config, force=True, engine=Engine(engine), progress=choose_mode(quiet=False))
        on_purpose = {server.url(path): reason for path, reason in read_broken_on_purpose(server.root).items()}
    print_pass_summary(result["counts"], result["problems"])
    for line in sample_failure_notes(result["problems"], on_purpose):
        typer.echo(line)
    typer.echo("\nAlerts (one per topic and story):")
    _print_alerts(config)
    typer.echo(
        f"\nMore: newswatch alerts --config {config} --format json   (evidence and provenance)\n"
        f"      newswatch feeds --config {config}"
    )


def _print_alerts(config: Path) -> None:
    """Every alert the pass recorded, as ``newswatch alerts`` prints them."""
    from flows.cli.common import database_session, settings_from, topic_labels
    from storage.alert_list import AlertQuery

    settings = settings_from(config, "demo")
    with database_session(settings, read_only=True) as session:
        print_alert_table(list_alerts(session, AlertQuery()), topic_labels(settings))
