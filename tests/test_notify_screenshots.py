"""Each email kind (alert, update, digest) rendered from stored rows and shown in headless
Chromium, desktop and 375 px wide. The PNGs go to test-artifacts/ (git-ignored) for a
person to look at; the test checks what the browser made of the HTML."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from config.settings import SubscriberConfig
from storage.db import Database
from tasks.notify.render import render_email
from tasks.notify.topics import TopicInfo
from tasks.notify.views import message_view
from tests.support.messages import (
    OLD_EVIDENCE,
    add_story,
    alert_delivery,
    digest_delivery,
    sample_digest,
    update_delivery,
)
from tests.test_deliver_support import open_test_database

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DESK = SubscriberConfig(name="desk", email=["desk@example.org"])
TOPICS = {
    "uk-us-relations": TopicInfo("UK–US relations", 6.0),
    "foreign-campaigning": TopicInfo("Foreign campaigning and election interference", 6.0),
}
BASE = "https://news.example.org/newswatch"

database = pytest.fixture(open_test_database, name="database")
pytestmark = pytest.mark.slow


def chromium(profile: Path, *args: str, width: int = 760) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        pytest.skip("no chromium binary (CI installs Debian's chromium package)")
    command = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},1500", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def emails(database: Database) -> dict[str, str]:
    with database.session() as session:
        alert = add_story(session, title="Foreign Secretary meets US ambassador on trade deal",
                          outlets=(("Harbour Times", "Harbour Times"), ("Daily Ledger", "Ledger World")),
                          headlines=("", "UK and US restart trade talks"))
        grown = add_story(session, title="Embassy staff cuts worry diplomats",
                          outlets=(("Daily Ledger", "Daily Ledger"),), evidence=OLD_EVIDENCE)
        digest = sample_digest(session)
        views = {
            "alert": message_view(session, alert_delivery(alert), DESK, base_url=BASE, topics=TOPICS),
            "update": message_view(session, update_delivery(session, grown), DESK, base_url=None, topics=TOPICS),
            "digest": message_view(session, digest_delivery(digest), DESK, base_url=BASE, topics=TOPICS),
        }
    return {kind: render_email(view).html for kind, view in views.items()}


def test_each_email_kind_renders_in_chromium(database: Database, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    profile = tmp_path / "profile"
    for kind, html in emails(database).items():
        page = tmp_path / f"{kind}.html"
        page.write_text(html, encoding="utf-8")
        dom = chromium(profile, "--dump-dom", page.as_uri()).stdout
        # The browser sees the marked words, the date and no internal identifiers.
        assert ">US ambassador</strong>" in dom or ">Prime Minister</strong>" in dom, kind
        assert "28 Nov 2026" in dom and "alert:" not in dom and "Delivery" not in dom
        if kind == "digest":
            assert 'href="#topic-1"' in dom and 'id="topic-2"' in dom
        if kind == "update":
            assert ">new</strong>" in dom and "Capital Wire" in dom
        for width, suffix in ((760, ""), (375, "-375")):
            target = ARTIFACTS / f"email-{kind}{suffix}.png"
            target.unlink(missing_ok=True)
            result = chromium(profile, f"--screenshot={target}", page.as_uri(), width=width)
            assert target.exists(), f"no screenshot from chromium: {result.stderr[-2000:]}"
            data = target.read_bytes()
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
