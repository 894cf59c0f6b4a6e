"""``newswatch web``: serve the read-only web app (alerts, stories, topics, feeds, Atom, JSON)."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import ConfigOption, fail, open_database_or_fail, settings_from


def web_command(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: web.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: web.port, 8080).")] = None,
) -> None:
    """Serve the read-only web app: alerts, stories, topics, feeds, Atom feeds and a JSON API."""
    from flows.web.server import (
        ServeError,
        check_port_free,
        exposure_warning,
        listen_address,
        serve,
    )
    from storage.db import DatabaseNotReady

    settings = settings_from(config, "web")
    try:
        listen = listen_address(settings, host, port)
        check_port_free(listen)
        open_database_or_fail(settings, read_only=True).dispose()  # a typo'd path is never created
        warning = exposure_warning(settings, listen)
        if warning:
            typer.echo(f"newswatch: warning: {warning}", err=True)
        serve(settings, listen, announce=lambda url: typer.echo(
            f"newswatch web: serving on {url} (Ctrl-C to stop)", err=True
        ))
    except (ServeError, DatabaseNotReady) as exc:
        fail(str(exc))


def register(app: typer.Typer) -> None:
    """Add ``web`` to the ``newswatch`` app."""
    app.command("web")(web_command)


def standalone() -> None:
    """``python -m flows.web``: the web command on its own."""
    typer.run(web_command)
