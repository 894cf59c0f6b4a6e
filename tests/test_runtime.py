"""The pass's runtime: parts open once, on first use, and close together with it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from config.settings import Settings, load_settings
from storage.db import open_database
from tasks.runtime import Runtime, RuntimeClosed


def settings_for(directory: Path) -> Settings:
    url = f"sqlite:///{directory / 'newswatch.db'}"
    open_database(url, migrate=True).dispose()
    path = directory / "newswatch.yaml"
    path.write_text(yaml.safe_dump({"database_url": url}))
    return load_settings(path)


def test_each_part_is_opened_once_however_many_threads_ask(tmp_path: Path) -> None:
    with Runtime(settings_for(tmp_path)) as runtime:
        seen: list[object] = []
        threads = [threading.Thread(target=lambda: seen.append(runtime.fetcher)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(fetcher) for fetcher in seen}) == 1
        assert runtime.database is runtime.database
        assert runtime.topics is runtime.topics


@pytest.mark.timeout(60)
def test_closing_stops_the_analysis_process_and_refuses_later_use(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with Runtime(settings) as runtime:
        child = runtime.analysis_process
        assert child.analyse(settings, 10)["articles_analysed"] == 0
        assert child.pid is not None
    assert child.pid is None
    with pytest.raises(RuntimeClosed, match="closed"):
        runtime.database  # noqa: B018
