"""The monitor flow under Prefect: the same pass as the plain stages, through tasks."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select

from config.settings import load_settings
from flows.demo import write_demo_config
from flows.demo_server import DEFAULT_ROOT, SampleServer
from storage.db import open_database
from storage.models import Alert, Article
from tasks.runtime import Runtime

pytestmark = pytest.mark.prefect

EXPECTED = yaml.safe_load((DEFAULT_ROOT / "expected.yaml").read_text())["pages"]


def test_monitor_flow_runs_a_pass_and_a_quiet_second_pass(tmp_path, prefect_harness) -> None:
    from flows.monitor import handing_over, monitor

    with SampleServer() as server:
        config = write_demo_config(tmp_path, server)
        first = monitor(config_path=str(config))  # opens and closes a runtime of its own
        # The second (every feed, due or not) runs on a runtime handed over, as `newswatch
        # run` does: its fetcher makes the pass's requests, and the flow leaves it open.
        feed_requests = sum(p.startswith("/feeds/") for p in server.request_log)
        with Runtime(load_settings(config)) as runtime, handing_over(runtime):
            second = monitor(config_path=str(config), force=True)
            made = sum(p.startswith("/feeds/") for p in server.request_log) - feed_requests
            assert made > 0 and runtime.fetcher.request_count == made
            assert runtime.topics.topics  # still open: whoever created it closes it
        article_requests = [p for p in server.request_log if not p.startswith("/feeds/")]

    assert first["counts"]["articles_extracted"] == len(EXPECTED)
    assert first["counts"]["alerts_new"] > 0
    assert second["counts"].get("articles_extracted", 0) == 0
    assert second["counts"].get("alerts_new", 0) == 0
    assert len(article_requests) == len(set(article_requests)) == len(EXPECTED)
    db = open_database(f"sqlite:///{tmp_path / 'newswatch.db'}")
    with db.session() as session:
        assert session.scalar(select(func.count(Article.id))) == len(EXPECTED)
        assert session.scalar(select(func.count(Alert.id))) == first["counts"]["alerts_new"]
    db.dispose()


def test_deliver_flow_hands_its_task_the_settings_through_prefect(tmp_path, prefect_harness) -> None:
    # The flows pass settings to tasks wrapped in quote(); the task must get them back whole.
    from flows.deliver import deliver

    config = tmp_path / "newswatch.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'deliver.db'}"}))
    open_database(f"sqlite:///{tmp_path / 'deliver.db'}", migrate=True).dispose()
    result = deliver(config_path=str(config))
    assert result["sent"] == 0 and result["outcomes"] == []
