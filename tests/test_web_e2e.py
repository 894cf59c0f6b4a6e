"""End to end: `newswatch web` as a real server, pages loaded in headless Chromium.

Screenshots go to test-artifacts/ (git-ignored) for a person to look at. The test skips
only when no Chromium binary exists; CI installs Debian's ``chromium`` package.
"""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from storage.db import open_database
from tests.test_web_app import IMG, NOW, SAFE_TITLE, SCRIPT, Seeded, make_settings, seed_database

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

pytestmark = pytest.mark.slow


def chromium_binary() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def web_command() -> list[str]:
    """``newswatch web`` once the lead has registered it; this module's entry point until then."""
    from flows.cli import app

    names = {command.name or getattr(command.callback, "__name__", "") for command in app.registered_commands}
    names |= {group.name or "" for group in app.registered_groups}  # ``web`` with ``web add-user``
    return [sys.executable, "-m", "flows.cli", "web"] if "web" in names else [sys.executable, "-m", "flows.web"]


@contextlib.contextmanager
def serving_seeded(directory: Path, **web: Any) -> Iterator[tuple[str, Seeded]]:
    """``newswatch web`` over a freshly seeded database in ``directory``: its base URL and ids.

    ``web`` is the config's web section (for example people who may sign in).
    """
    settings = make_settings(directory, **web)
    db = open_database(settings.resolved_database_url, migrate=True)
    ids = seed_database(db, NOW)
    db.dispose()
    port = free_port()
    command = [*web_command(), "--config", str(directory / "newswatch.yaml"), "--port", str(port)]
    log = (directory / "web.log").open("w")
    process = subprocess.Popen(command, cwd=directory, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"newswatch web exited with {process.returncode}: {(directory / 'web.log').read_text()}")
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"newswatch web did not answer in 30 s: {(directory / 'web.log').read_text()}")
            time.sleep(0.2)
        yield base, ids
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Seeded]]:
    with serving_seeded(tmp_path) as served:
        yield served


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,900", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def screenshot(binary: str, profile: Path, url: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    target.unlink(missing_ok=True)
    result = chromium(binary, profile, f"--screenshot={target}", url)
    assert target.exists(), f"no screenshot from chromium: {result.stderr[-2000:]}"
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    return target


def test_alerts_and_story_pages_in_headless_chromium(server: tuple[str, Seeded], tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium package)")
    base, ids = server
    profile = tmp_path / "chromium-profile"

    alerts_dom = chromium(binary, profile, "--dump-dom", base + "/").stdout
    assert "<h1>Alerts</h1>" in alerts_dom
    assert SAFE_TITLE in alerts_dom
    assert f'href="/stories/{ids.safe_story}"' in alerts_dom
    # The hostile title is text in the browser's DOM, never an element.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in alerts_dom
    assert SCRIPT not in alerts_dom and "<img" not in alerts_dom

    story_dom = chromium(binary, profile, "--dump-dom", f"{base}/stories/{ids.safe_story}").stdout
    assert f"<h1>{SAFE_TITLE}</h1>" in story_dom
    assert "<mark>Britain</mark>" in story_dom
    assert "World desk" in story_dom
    assert IMG not in story_dom and 'href="javascript:' not in story_dom

    screenshot(binary, profile, base + "/", "web-alerts.png")
    screenshot(binary, profile, f"{base}/stories/{ids.safe_story}", "web-story.png")


def titles_in(dom: str) -> list[str]:
    return re.findall(r'<td class="title">\s*<a href="/stories/\d+">([^<]*)</a>', dom)


def test_search_and_paging_in_headless_chromium(server: tuple[str, Seeded], tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium package)")
    base, ids = server
    profile = tmp_path / "chromium-profile"

    # A search typed into the box is a GET of the form: /?q=…
    searched = chromium(binary, profile, "--dump-dom", base + "/?q=" + quote('"to meet on monday" britain')).stdout
    assert titles_in(searched) == [SAFE_TITLE]
    assert "1 alert matching" in searched
    assert 'value="&quot;to meet on monday&quot; britain"' in searched  # the box keeps the search
    assert "<mark>Britain</mark>" in searched  # the evidence snippet, terms marked
    assert chromium(binary, profile, "--dump-dom", base + "/?q=nowhere").stdout.count("No alerts match.") == 1

    # Paging: follow each page's "Next page" link as a reader would, until there is none.
    seen: list[str] = []
    url: str | None = base + "/?limit=1"
    while url:
        dom = chromium(binary, profile, "--dump-dom", url).stdout
        assert len(titles_in(dom)) == 1, dom[-2000:]
        seen += titles_in(dom)
        found = re.search(r'<a class="next" rel="next" href="([^"]+)"', dom)
        url = base + html.unescape(found.group(1)) if found else None
    assert len(seen) == 3 and seen[1] == SAFE_TITLE and len(set(seen)) == 3
    assert '<a class="first" href="/?limit=1">' in dom  # the last page leads back to the first

    screenshot(binary, profile, base + "/?q=" + quote("envoys"), "web-search.png")
