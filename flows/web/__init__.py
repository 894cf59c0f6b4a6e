"""The read-only web app (``newswatch web``): alerts, stories, topics, feeds, Atom and JSON."""

from flows.web.app import create_app

__all__ = ["create_app"]
