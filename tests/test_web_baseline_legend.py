"""The web explains the BASELINE tag: a legend wherever a baseline alert is shown, and only there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from flows.web.app import create_app
from storage.db import Database
from tests.test_deliver_support import T0, add_alert, make_settings, open_test_database

database = pytest.fixture(open_test_database, name="database")
LEGEND = "An alert present at the first pass after its feed or topic was added"


@pytest.fixture
def client_and_ids(database: Database, tmp_path: Path) -> Iterator[tuple[TestClient, int, int]]:
    with database.session() as session:
        baseline = add_alert(session, title="Found on the first pass", baseline=True,
                             topic="foreign-campaigning").story_id
        later = add_alert(session, title="Found afterwards", now=T0).story_id
    app = create_app(make_settings(tmp_path), database=database, clock=lambda: T0)
    with TestClient(app) as client:
        yield client, baseline, later


def test_alert_list_and_story_page_explain_baseline_alerts(client_and_ids: tuple[TestClient, int, int]) -> None:
    client, baseline_story, later_story = client_and_ids
    alerts = client.get("/").text
    assert alerts.count(LEGEND) == 1 and "not delivered to subscribers" in alerts
    assert alerts.index("</table>") < alerts.index(LEGEND)  # under the table it explains
    assert LEGEND in client.get(f"/stories/{baseline_story}").text
    assert LEGEND not in client.get(f"/stories/{later_story}").text


def test_no_legend_without_a_baseline_alert(client_and_ids: tuple[TestClient, int, int]) -> None:
    client, _, _ = client_and_ids
    page = client.get("/", params={"topic": "uk-us-relations"}).text
    assert "Found afterwards" in page and "Found on the first pass" not in page
    assert LEGEND not in page
