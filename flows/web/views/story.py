"""A story's page (``/stories/<id>``): its alerts, evidence, sources and deliveries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from flows.web import queries
from flows.web.context import AppContext, not_found
from flows.web.params import parse_story_id
from storage.feedback import current_feedback


def story_page(context: AppContext, request: Request) -> Response:
    story_id = parse_story_id(request.path_params["story_id"])
    with context.database.reader() as session:
        view = queries.get_story(session, story_id)
        if view is None:
            raise not_found(f"story {story_id}")
        matches = {
            alert.id: {m.article_id: m for m in alert.matches} for alert in view.alerts
        }
        joined = {
            m.get("article_id"): str(m.get("reason") or "")
            for m in view.story.membership or [] if isinstance(m, dict)
        }
        labels = context.topic_labels()
        explained = {a.id: labels.explain(a.topic_id, a.score, a.threshold) for a in view.alerts}
        return context.page(
            request, "story.html", view=view, story=view.story, matches=matches,
            topics=context.catalog.topics, joined=joined, explained=explained,
            topic_names={a.topic_id: labels.name(a.topic_id) for a in view.alerts},
            feedback=current_feedback(session, [a.id for a in view.alerts]),
        )
