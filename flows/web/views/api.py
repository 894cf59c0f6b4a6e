"""The JSON API: ``/api/alerts``, ``/api/stories/<id>`` and ``/api/feeds``.

The same objects as the CLI's ``--format json`` (storage/serialize.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flows.web import queries
from flows.web.context import AppContext, not_found
from flows.web.params import DEFAULT_API_LIMIT, ListLinks, multi, parse_story_id
from storage.alert_list import find_alerts
from storage.serialize import alert_json, alerts_json, article_json, feeds_json, story_json


def api_alerts(context: AppContext, request: Request) -> Response:
    list_links = ListLinks.of(multi(request.query_params))
    with context.database.reader() as session:
        query = context.alert_query(request, session, DEFAULT_API_LIMIT)
        found = find_alerts(session, query)
        body = alerts_json(session, found.alerts, base_url=context.base_url, labels=context.topic_labels())
    headers = {}
    if found.next_cursor is not None:
        target = context.links.url(request, f"/api/alerts?{list_links.query(cursor=found.next_cursor.encode())}")
        headers["Link"] = f'<{target}>; rel="next"'
    return JSONResponse(body, headers=headers)


def api_story(context: AppContext, request: Request) -> Response:
    story_id = parse_story_id(request.path_params["story_id"])
    with context.database.reader() as session:
        view = queries.get_story(session, story_id)
        if view is None:
            raise not_found(f"story {story_id}")
        labels = context.topic_labels()
        return JSONResponse({
            **story_json(view.story),
            "articles": [article_json(a, with_text=False) for a in view.articles],
            "alerts": [alert_json(session, a, base_url=context.base_url, labels=labels) for a in view.alerts],
            "deliveries": [queries.delivery_json(d) for d in view.deliveries],
        })


def api_feeds(context: AppContext, request: Request) -> Response:
    with context.database.reader() as session:
        return JSONResponse(feeds_json(session))
