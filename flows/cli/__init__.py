"""The ``newswatch`` command line. Command names, options and JSON fields are a contract.

Each module declares its commands with decorators on a Typer of its own; this is the one
place that puts them together: top-level commands merged in, groups under their names.
"""

from __future__ import annotations

from flows.cli import api_server, delivery, feedback, listing, operations, passes, topics, web
from flows.cli.common import command_group

app = command_group(
    "Monitor news feeds for watch topics; one explained alert per story.", name="newswatch"
)
app.add_typer(passes.app)  # run
app.add_typer(listing.app)  # alerts, articles, feeds
app.add_typer(operations.app)  # demo, serve, bootstrap, prune
app.add_typer(delivery.app)  # deliver, subscribers, preview
app.add_typer(feedback.app)  # feedback
app.add_typer(operations.db_app, name="db")  # db upgrade
app.add_typer(topics.app, name="topics")  # topics list, check, explain, backtest, eval, train, labels export
app.add_typer(web.app, name="web")  # web (serves), web add-user
app.add_typer(api_server.app, name="api-server")  # api-server status, stop


def main() -> None:
    app()
