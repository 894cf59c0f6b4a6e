"""A topic's Atom feed (``/topics/<id>/atom.xml``); the XML itself is written by flows/web/atom.py."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from flows.web.atom import topic_atom
from flows.web.context import AppContext
from flows.web.params import parse_topic_id
from flows.web.render import path_segment
from storage.alert_list import AlertQuery, find_alerts
from storage.models import Article


def topic_feed(context: AppContext, request: Request) -> Response:
    topic_id = parse_topic_id(request.path_params["topic_id"])
    segment = path_segment(topic_id)
    links = context.links
    with context.database.reader() as session:
        topic = context.known_topic(session, topic_id)
        # Newest raised or updated first (not by publication): a reader polling the feed
        # sees every new alert, even one about a story published days ago.
        alerts = find_alerts(session, AlertQuery(topics=(topic_id,), sort="updated", limit=50)).alerts
        originals: dict[int | None, list[str]] = {}  # Article.story_id is nullable
        for story_id, url in session.execute(
            select(Article.story_id, Article.canonical_url)
            .where(Article.story_id.in_({a.story_id for a in alerts}))
            .order_by(Article.id)
        ):
            originals.setdefault(story_id, []).append(url)
        body = topic_atom(
            topic_id=topic_id,
            topic_name=topic.name if topic else topic_id,
            alerts=alerts,
            self_url=links.url(request, f"/topics/{segment}/atom.xml"),
            topic_url=links.url(request, f"/topics/{segment}"),
            story_url=lambda a: links.url(request, f"/stories/{a.story_id}"),
            related_urls=lambda a: originals.get(a.story_id, []),
            now=context.clock(),
        )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
