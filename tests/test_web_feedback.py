"""Verdicts from the story page: sign-in with a session cookie, CSRF on every post, the
signed-in name recorded; read-only without people configured. Starlette's test client
over a real SQLite file."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from httpx import Response
from starlette.testclient import TestClient
from typer.testing import CliRunner

from config.settings import Settings, load_settings
from flows.cli import app as cli_app
from flows.web import create_app
from flows.web.accounts import (
    Accounts,
    SignInLimiter,
    SignInSetupError,
    hash_password,
    verify_password,
)
from storage.db import open_database
from storage.feedback import feedback_history
from tests.test_cli_inputs import free_port
from tests.test_web_app import NOW, Seeded, seed_database

SECRET = "k" * 40
PASSWORD = "correct horse battery"


def make_settings(tmp_path: Path, web: dict[str, object]) -> Settings:
    config = tmp_path / "newswatch.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'newswatch.db'}", "web": web}),
                      encoding="utf-8")
    return load_settings(config)


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Seeded]:
    settings = make_settings(tmp_path, {})
    db = open_database(settings.resolved_database_url, migrate=True)
    ids = seed_database(db)
    db.dispose()
    return tmp_path, ids


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, clock=lambda: NOW), follow_redirects=False)


@pytest.fixture
def desk(seeded: tuple[Path, Seeded]) -> Iterator[tuple[TestClient, Seeded, Settings]]:
    folder, ids = seeded
    settings = make_settings(folder, {"users": {"ana": hash_password(PASSWORD)}, "secret_key": SECRET})
    with client_for(settings) as client:
        yield client, ids, settings


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, password: str = PASSWORD) -> int:
    form = client.get("/sign-in")
    assert form.status_code == 200
    response = client.post("/sign-in", data={"csrf_token": token_in(form.text), "name": "ana",
                                             "password": password, "next": "/stories/1"})
    return response.status_code


def verdicts(settings: Settings, alert_id: int) -> list[tuple[str, str, str | None]]:
    db = open_database(settings.resolved_database_url)
    try:
        with db.reader() as s:
            return [(f.by, f.verdict, f.note) for f in feedback_history(s, alert_id)]
    finally:
        db.dispose()


def test_a_signed_in_person_records_a_verdict_with_their_name(desk: tuple[TestClient, Seeded, Settings]) -> None:
    client, ids, settings = desk
    before = client.get(f"/stories/{ids.safe_story}")
    assert "Sign in</a> to mark this alert" in before.text and 'value="relevant"' not in before.text

    assert sign_in(client) == 303
    page = client.get(f"/stories/{ids.safe_story}")
    assert "Signed in as <strong>ana</strong>" in page.text
    assert f'action="/alerts/{ids.safe_alert}/feedback"' in page.text
    answer = client.post(f"/alerts/{ids.safe_alert}/feedback",
                         data={"csrf_token": token_in(page.text), "verdict": "not-relevant", "note": "a trade fair"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/stories/{ids.safe_story}#alert-{ids.safe_alert}"
    assert verdicts(settings, ids.safe_alert) == [("ana", "not-relevant", "a trade fair")]

    shown = client.get(f"/stories/{ids.safe_story}").text
    assert "Not relevant</strong> · ana" in shown and "a trade fair" in shown
    api = {a["id"]: a for a in client.get("/api/alerts").json()}
    assert [(f["verdict"], f["by"], f["note"]) for f in api[ids.safe_alert]["feedback"]] == [
        ("not-relevant", "ana", "a trade fair")
    ]
    assert api[ids.safe_alert]["feedback_verdict"] == "not-relevant"
    assert api[ids.hostile_alert]["feedback"] == []
    story = client.get(f"/api/stories/{ids.safe_story}").json()
    assert [f["by"] for a in story["alerts"] if a["id"] == ids.safe_alert for f in a["feedback"]] == ["ana"]

    signed_out = client.post("/sign-out", data={"csrf_token": token_in(shown)})
    assert signed_out.status_code == 303
    assert 'value="relevant"' not in client.get(f"/stories/{ids.safe_story}").text


def test_posts_without_a_signed_in_person_or_a_valid_token_are_refused(desk: tuple[TestClient, Seeded, Settings]) -> None:
    client, ids, settings = desk
    target = f"/alerts/{ids.safe_alert}/feedback"
    assert client.post(target, data={"verdict": "relevant"}).status_code == 403  # no session at all
    anonymous = token_in(client.get("/sign-in").text)  # a session, but nobody signed in
    refused = client.post(target, data={"csrf_token": anonymous, "verdict": "relevant"})
    assert refused.status_code == 403 and "Sign in to give a verdict" in refused.text

    assert sign_in(client) == 303
    good = token_in(client.get(f"/stories/{ids.safe_story}").text)
    assert good != anonymous  # signing in issued a new session: the old token is worthless
    for form in ({"verdict": "relevant"}, {"csrf_token": "", "verdict": "relevant"},
                 {"csrf_token": anonymous, "verdict": "relevant"}, {"csrf_token": good[:-2] + "xx", "verdict": "relevant"}):
        answer = client.post(target, data=form)
        assert answer.status_code == 403, form
        assert "did not come from this site" in answer.text
    assert client.post("/sign-out", data={"csrf_token": "forged"}).status_code == 403
    stranger = client_for(settings)  # another browser, with the token but not the cookie
    assert stranger.post(target, data={"csrf_token": good, "verdict": "relevant"}).status_code == 403
    bad_verdict = client.post(target, data={"csrf_token": good, "verdict": "maybe"})
    assert bad_verdict.status_code == 400 and "give relevant or not-relevant" in bad_verdict.text
    assert client.post("/alerts/99999/feedback", data={"csrf_token": good, "verdict": "relevant"}).status_code == 404
    assert verdicts(settings, ids.safe_alert) == []


def test_a_wrong_password_or_an_unknown_name_signs_nobody_in(desk: tuple[TestClient, Seeded, Settings]) -> None:
    client, ids, _ = desk
    assert sign_in(client, password="wrong password") == 401
    assert "Signed in as" not in client.get(f"/stories/{ids.safe_story}").text
    form = client.get("/sign-in")
    stranger = client.post("/sign-in", data={"csrf_token": token_in(form.text), "name": "eve", "password": PASSWORD})
    assert stranger.status_code == 401 and "do not match" in stranger.text


def test_without_people_configured_the_app_stays_read_only(seeded: tuple[Path, Seeded]) -> None:
    folder, ids = seeded
    with client_for(make_settings(folder, {})) as client:
        page = client.get(f"/stories/{ids.safe_story}")
        assert page.status_code == 200
        assert "Sign in" not in page.text and "csrf_token" not in page.text and "read-only view" in page.text
        assert client.post(f"/alerts/{ids.safe_alert}/feedback", data={"verdict": "relevant"}).status_code == 405
        assert client.get("/sign-in").status_code == 404


def test_reading_needs_no_sign_in_but_basic_auth_still_guards_everything(seeded: tuple[Path, Seeded]) -> None:
    folder, ids = seeded
    open_settings = make_settings(folder, {"users": {"ana": hash_password(PASSWORD)}, "secret_key": SECRET})
    with client_for(open_settings) as client:
        assert client.get(f"/stories/{ids.safe_story}").status_code == 200
        assert client.get("/api/alerts").status_code == 200
    locked = make_settings(folder, {"users": {"ana": hash_password(PASSWORD)}, "secret_key": SECRET,
                                    "username": "desk", "password": "shared-pass"})
    with client_for(locked) as client:
        assert client.get(f"/stories/{ids.safe_story}").status_code == 401
        assert client.post("/sign-in", data={"name": "ana"}).status_code == 401


def test_people_without_a_secret_key_is_a_clear_error_at_startup(seeded: tuple[Path, Seeded]) -> None:
    folder, _ = seeded
    settings = make_settings(folder, {"users": {"ana": hash_password(PASSWORD)}})
    with pytest.raises(SignInSetupError, match="web.users is set but web.secret_key is not"):
        create_app(settings)
    result = CliRunner().invoke(cli_app, ["web", "--config", str(folder / "newswatch.yaml"), "--port", free_port()])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "newswatch: web.users is set but web.secret_key is not: set web.secret_key (or NEWSWATCH_WEB__SECRET_KEY)"
        " to a random string of 32 characters or more, such as the one `newswatch web add-user` prints"
    ]


def test_add_user_prints_a_hash_the_config_accepts_and_the_app_verifies(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["web", "add-user", "ana", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    snippet = yaml.safe_load(result.stdout)
    stored = snippet["web"]["users"]["ana"]
    assert stored.startswith("scrypt$16384$8$1$") and PASSWORD not in result.stdout
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # a random salt each time
    settings = make_settings(tmp_path, snippet["web"])  # the printed snippet is a valid config
    assert Accounts(settings.web.users, settings.web.secret_key.get_secret_value()).check("ana", PASSWORD) == "ana"

    short = CliRunner().invoke(cli_app, ["web", "add-user", "ana", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "too short" in short.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("web:\n  users:\n    ana: hunter2\n", encoding="utf-8")
    refused = CliRunner().invoke(cli_app, ["alerts", "--config", str(bad)])
    assert refused.exit_code == 2 and "newswatch web add-user ana" in refused.stderr


def test_the_session_cookie_follows_links_from_mail_and_a_signed_in_visit_to_sign_in_moves_on(
        desk: tuple[TestClient, Seeded, Settings]) -> None:
    client, ids, _ = desk
    form = client.get(f"/sign-in?next=/stories/{ids.safe_story}")
    assert form.status_code == 200 and "samesite=lax" in form.headers["set-cookie"].lower()
    assert sign_in(client) == 303
    story = f"/stories/{ids.safe_story}"
    again = client.get(f"/sign-in?next={story}")
    assert again.status_code == 303 and again.headers["location"] == story
    assert client.get("/sign-in?next=//evil.example/x").headers["location"] == "/"  # this site only


def test_after_a_wrong_password_the_retry_still_goes_back_to_the_story(desk: tuple[TestClient, Seeded, Settings]) -> None:
    client, ids, _ = desk
    story = f"/stories/{ids.safe_story}"
    form = client.get(f"/sign-in?next={story}")
    failed = client.post("/sign-in", data={"csrf_token": token_in(form.text), "name": "ana",
                                           "password": "wrong password", "next": story})
    assert failed.status_code == 401 and f'name="next" value="{story}"' in failed.text
    kept = re.search(r'name="next" value="([^"]+)"', failed.text)
    assert kept is not None
    retry = client.post("/sign-in", data={"csrf_token": token_in(failed.text), "name": "ana",
                                          "password": PASSWORD, "next": kept.group(1)})
    assert retry.status_code == 303 and retry.headers["location"] == story


def test_five_failed_sign_ins_for_a_name_refuse_it_until_the_window_passes(seeded: tuple[Path, Seeded]) -> None:
    folder, ids = seeded
    settings = make_settings(folder, {"users": {"ana": hash_password(PASSWORD)}, "secret_key": SECRET})
    now = [NOW]
    with TestClient(create_app(settings, clock=lambda: now[0]), follow_redirects=False) as client:
        for _ in range(5):
            assert sign_in(client, password="wrong password") == 401
        form = client.get("/sign-in")
        refused = client.post("/sign-in", data={"csrf_token": token_in(form.text), "name": "ana",
                                                "password": PASSWORD, "next": "/stories/1"})
        assert refused.status_code == 429  # even the right password: no more guesses for this name
        assert "Too many failed sign-ins for this name; try again in 15 minutes." in refused.text
        assert "Signed in as" not in client.get(f"/stories/{ids.safe_story}").text
        now[0] = NOW + timedelta(minutes=14, seconds=30)
        assert sign_in(client) == 429
        assert "try again in 1 minute." in client.post("/sign-in", data={
            "csrf_token": token_in(client.get("/sign-in").text), "name": "ana", "password": PASSWORD}).text
        now[0] = NOW + timedelta(minutes=15)
        assert sign_in(client) == 303


def test_the_limiter_counts_names_and_addresses_and_a_success_clears_the_name() -> None:
    now = [NOW]
    limiter = SignInLimiter(clock=lambda: now[0], allowed_per_address=5)
    for n in range(5):  # five different names from one address
        assert limiter.refusal(f"guess{n}", "10.0.0.9") is None
        limiter.failed(f"guess{n}", "10.0.0.9")
    assert limiter.refusal("ana", "10.0.0.9") == "Too many failed sign-ins for this address; try again in 15 minutes."
    assert limiter.refusal("ana", "10.0.0.7") is None  # another address, a name with no failures
    for _ in range(4):
        limiter.failed("ana", f"10.0.1.{_}")
    limiter.succeeded("ana")
    limiter.failed("ana", "10.0.2.1")
    assert limiter.refusal("ana", "10.0.2.2") is None  # the success cleared ana's four failures
    now[0] = NOW + timedelta(minutes=10)
    assert limiter.refusal("ana", "10.0.0.9") == "Too many failed sign-ins for this address; try again in 5 minutes."


def test_a_shared_address_allows_more_failures_than_one_name() -> None:
    limiter = SignInLimiter(clock=lambda: NOW)
    for n in range(5):  # a desk behind one proxy address: five people mistype once each
        limiter.failed(f"person{n}", "10.0.0.9")
    assert limiter.refusal("person5", "10.0.0.9") is None
    for _ in range(5):
        limiter.failed("ana", "10.0.0.9")
    assert limiter.refusal("ana", "10.0.0.9") == "Too many failed sign-ins for this name; try again in 15 minutes."


def test_password_checks_run_at_most_two_at_once(desk: tuple[TestClient, Seeded, Settings]) -> None:
    client, _, _ = desk
    accounts = client.app.state.context.accounts  # type: ignore[attr-defined]
    real_check, running, most = accounts.check, [0], [0]
    lock = threading.Lock()

    def counting_check(name: str, password: str) -> str | None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)  # long enough for four posts at once to overlap without a bound
        try:
            return real_check(name, password)
        finally:
            with lock:
                running[0] -= 1

    accounts.check = counting_check
    token = token_in(client.get("/sign-in").text)

    def post(n: int) -> Response:
        return client.post("/sign-in", data={"csrf_token": token, "name": f"guess{n}", "password": "x"})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    assert [a.status_code for a in answers] == [401] * 4
    assert most[0] == 2


def test_add_user_without_a_terminal_points_to_password_stdin() -> None:
    result = CliRunner().invoke(cli_app, ["web", "add-user", "ana"], input=PASSWORD + "\n")  # stdin is no TTY
    assert result.exit_code == 2, result.output
    assert result.stderr == ("newswatch: no terminal to ask for the password: give it on stdin with"
                             " `newswatch web add-user ana --password-stdin`\n")
    assert result.stdout == "" and "Aborted" not in result.output and "GetPassWarning" not in result.output
