"""The topics list (``/topics``) and a topic's page (``/topics/<id>``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from flows.web import queries
from flows.web.charts import responsive_alerts_per_day_svg
from flows.web.context import AppContext
from flows.web.params import parse_topic_id
from storage.alert_list import AlertQuery, find_alerts, story_facts

CHART_DAYS = 30


def raw_definition(topic: Any, max_bytes: int = 200_000) -> str | None:
    """The topic's YAML as its author wrote it, when its file holds just this topic."""
    path = Path(topic.file) if topic.file else None
    try:
        if path is None or not path.is_file() or path.stat().st_size > max_bytes:
            return None
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return text if isinstance(data, dict) and data.get("id") == topic.id else None


def topics_page(context: AppContext, request: Request) -> Response:
    with context.database.reader() as session:
        rows = [
            (topic_id, context.catalog.topics.get(topic_id), queries.topic_alert_count(session, topic_id))
            for topic_id in context.topic_choices(session)
        ]
    return context.page(request, "topics.html", rows=rows, topics_error=context.catalog.error)


def topic_page(context: AppContext, request: Request) -> Response:
    topic_id = parse_topic_id(request.path_params["topic_id"])
    today = context.clock().date()
    with context.database.reader() as session:
        topic = context.known_topic(session, topic_id)
        total = queries.topic_alert_count(session, topic_id)
        days = queries.alerts_per_day(session, topic_id, today - timedelta(days=CHART_DAYS - 1), today)
        latest = find_alerts(session, AlertQuery(topics=(topic_id,), limit=20)).alerts
        normalised = (
            yaml.safe_dump(topic.definition, sort_keys=False, allow_unicode=True, width=100)
            if topic is not None and topic.definition else None
        )
        return context.page(
            request, "topic.html", topic_id=topic_id, topic=topic, total=total,
            chart=responsive_alerts_per_day_svg(days, label=f"Alerts per day of publication, last {CHART_DAYS} days"),
            chart_total=sum(c for _, c in days), chart_days=CHART_DAYS,
            alerts=latest, facts=story_facts(session, [a.story_id for a in latest]),
            topic_names=context.topic_names(), normalised=normalised, topics_error=context.catalog.error,
            raw=raw_definition(topic) if topic is not None else None,
        )
