"""``python -m flows.web --config FILE [--host H] [--port N]``: the same as ``newswatch web``."""

from flows.cli.web import standalone

standalone()
