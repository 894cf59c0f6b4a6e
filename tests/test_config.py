"""The config file, environment overrides, and one clear line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import ConfigError, load_settings
from flows.cli import app


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newswatch.yaml"
    path.write_text(text)
    return path


def test_file_values_relative_paths_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "database_url: sqlite:///data/nw.db\nfeeds:\n  - url: https://a.example/rss\n    name: A\n")
    settings = load_settings(path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'data' / 'nw.db').resolve()}"
    assert settings.feeds[0].name == "A" and settings.fetch.timeout_seconds == 20
    assert settings.fetch.max_bytes == 15728640 and settings.fetch.allow_private_networks is False
    assert settings.topics is None  # the shipped topics apply


def test_environment_overrides_nested_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "fetch:\n  timeout_seconds: 20\n  per_host_concurrency: 3\n")
    monkeypatch.setenv("NEWSWATCH_FETCH__TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "postgresql+psycopg://u@db/newswatch")
    settings = load_settings(path)
    assert settings.fetch.timeout_seconds == 5
    assert settings.fetch.per_host_concurrency == 3  # the rest of the section stays
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/newswatch"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fetch:\n  timeout_seconds: -1\n", "fetch.timeout_seconds: Input should be greater than 0"),
        ("feeds:\n  - url: ftp://x.example/\n", "feeds[0].url: must be an http:// or https:// URL"),
        ("feedz: []\n", "feedz: is not a known setting"),
        ("fetch:\n  allow_private_networks: ['10.0.0.0/33']\n", "fetch.allow_private_networks"),
        ("database_url: mysql://x\n", "database_url: mysql:// databases are not supported; use sqlite:///PATH"),
        ("database_url: newswatch.db\n", "database_url: is not a database URL (use sqlite:///PATH (relative to the config file) or postgresql://USER:PASSWORD@HOST/DATABASE); for a file, sqlite:///newswatch.db"),
        ("database_url: sqlite://x.db\n", "database_url: sqlite://x.db names a host; a file needs three slashes: sqlite:///x.db"),
        ("database_url: 'sqlite:///'\n", "database_url: names no file"),
        ("database_url: postgresql+psycopg2://u@h/d\n", "PostgreSQL driver 'psycopg2' is not installed; use postgresql://"),
        ("fetch:\n  timeout: 3\n", "fetch.timeout: is not a known setting (did you mean timeout_seconds?)"),
        ("smtp: {hots: x}\n", "smtp.hots: is not a known setting (did you mean host?)"),
        ("subscribers: [{name: a, emial: x@y}]\n", "subscribers[0].emial: is not a known setting (did you mean email?)"),
        ("feedz: []\n", "feedz: is not a known setting (did you mean feeds?)"),
        ("feeds: [{url: 'https://'}]\n", "feeds[0].url: names no host; write it in full"),
        ("feeds: [{url: 'https://example.org/a feed.xml'}]\n", "feeds[0].url: has a space or a control character in it"),
        ("subscribers: [{name: desk, slack_webhook: 'hooks.slack.example/T/B/secret-token'}]\n",
         "subscribers[0].slack_webhook: must be the webhook's full https:// URL"),
        ("schedule: {monitor_cron: 'every 15 minutes'}\n",
         "schedule.monitor_cron: 'every 15 minutes' is not a cron expression; use five fields"),
        ("topics: 5\n", "topics: must be a path (a topic YAML file or a folder of them, relative to the config file) or a list"),
        ("topics: ''\n", "topics: is empty; name a topic file or folder, or leave topics: out for the shipped topics"),
        ("feeds: [{url: 'https://a.example/'}, {url: 'https://a.example/'}]\n", "feed listed twice"),
        ("a: [\n", "not valid YAML at line 2"),
        ("- just\n- a list\n", "the top level must be a mapping"),
    ],
)
def test_mistakes_get_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text))
    message = str(error.value)
    assert expected in message and "\n" not in message


def test_the_cli_prints_the_message_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--config", str(write(tmp_path, "fetch: {timeout_seconds: 0}\n"))])
    assert result.exit_code == 2
    assert "fetch.timeout_seconds" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["feeds", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no such config file" in missing.output


def test_secrets_come_from_environment_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "smtp: {host: mail.example, password: '${NW_SMTP_PASSWORD}'}\n"
        "subscribers:\n  - name: desk\n    slack_webhook: '${NW_DESK_HOOK}'\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=r"subscribers\[0\]\.slack_webhook: refers to \$\{NW_DESK_HOOK\}"):
        monkeypatch.setenv("NW_SMTP_PASSWORD", "s3cret")
        load_settings(path)
    monkeypatch.setenv("NW_DESK_HOOK", "https://hooks.slack.example/T/B/x")
    settings = load_settings(path)
    assert settings.smtp is not None and settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "s3cret"
    assert settings.subscribers[0].slack_webhook.get_secret_value().endswith("/x")
    assert "s3cret" not in repr(settings) and "hooks.slack" not in repr(settings)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:pw@db.example:5432/news", "postgresql+psycopg://u:pw@db.example:5432/news"),
        ("postgresql://u@db.example/news", "postgresql+psycopg://u@db.example/news"),
        ("POSTGRES://u@db.example/news?sslmode=require", "postgresql+psycopg://u@db.example/news?sslmode=require"),
        ("postgresql+psycopg://u@db.example/news", "postgresql+psycopg://u@db.example/news"),
        ("postgresql:///news", "postgresql+psycopg:///news"),  # a local socket
        (" sqlite:///nw.db ", None),
    ],
)
def test_postgres_urls_as_hosting_providers_give_them_map_to_psycopg3(
    tmp_path: Path, given: str, expected: str | None
) -> None:
    settings = load_settings(write(tmp_path, f"database_url: '{given}'\n"))
    if expected is None:
        assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'nw.db').resolve()}"
    else:
        assert settings.database_url == expected


def test_a_postgres_url_connects_through_psycopg3(postgres_url: str, tmp_path: Path) -> None:
    from storage.db import open_database

    plain = postgres_url.replace("postgresql+psycopg://", "postgres://")
    settings = load_settings(write(tmp_path, f"database_url: '{plain}'\n"))
    database = open_database(settings.resolved_database_url, migrate=True)
    try:
        assert database.dialect == "postgresql" and database.engine.dialect.driver == "psycopg"
    finally:
        database.dispose()


def test_a_database_password_is_never_repeated_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, "database_url: 'mysql://u:hunter2@h/d'\n"))
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NEWSWATCH_DATABASE_ULR", "sqlite:///x.db",
         "NEWSWATCH_DATABASE_ULR: database_ulr is not a setting (did you mean NEWSWATCH_DATABASE_URL?)"),
        ("NEWSWATCH_FETCH__TIMEOUT", "5",
         "NEWSWATCH_FETCH__TIMEOUT: fetch.timeout is not a setting (did you mean NEWSWATCH_FETCH__TIMEOUT_SECONDS?)"),
        ("NEWSWATCH_FETCHH__TIMEOUT_SECONDS", "5",
         "NEWSWATCH_FETCHH__TIMEOUT_SECONDS: fetchh is not a setting (did you mean NEWSWATCH_FETCH?)"),
        ("NEWSWATCH_SUBSCRIBERS__0__NAME", "desk",
         "NEWSWATCH_SUBSCRIBERS__0__NAME: subscribers cannot be set key by key; set NEWSWATCH_SUBSCRIBERS to a JSON value"),
        ("NEWSWATCH_FEEDS", "https://a.example/rss",
         """NEWSWATCH_FEEDS: not valid JSON; a list or a section set in the environment is JSON (e.g. NEWSWATCH_FEEDS='[{"url": "https://…"}]')"""),
        ("NEWSWATCH_FETCH", "timeout=5", "NEWSWATCH_FETCH: not valid JSON"),
        ("NEWSWATCH_FETCH__TIMEOUT_SECONDS", "soon",
         "newswatch.yaml (overridden by NEWSWATCH_FETCH__TIMEOUT_SECONDS): fetch.timeout_seconds: Input should be a valid number"),
        ("NEWSWATCH_FEEDS", '[{"url": "ftp://a.example/"}]',
         "newswatch.yaml (overridden by NEWSWATCH_FEEDS): feeds[0].url: must be an http:// or https:// URL"),
        ("NEWSWATCH_DATABASE_URL", "mysql://x", "(overridden by NEWSWATCH_DATABASE_URL): database_url: mysql://"),
    ],
)
def test_bad_environment_overrides_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, "feeds: []\n"))
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_own_variables_and_the_non_setting_names_are_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEWSWATCH_CONFIG_DIR", "NEWSWATCH_KEEP_ARTICLES_DAYS", "NEWSWATCH_NOTIFY_SLACK_WEBHOOK",
                 "NEWSWATCH_SMTP_SECRET_FOR_REFERENCES"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("NEWSWATCH_FETCH__TIMEOUT_SECONDS", "7")
    assert load_settings(write(tmp_path, "feeds: []\n")).fetch.timeout_seconds == 7


def test_good_schedules_and_webhooks_pass(tmp_path: Path) -> None:
    text = (
        "schedule: {monitor_cron: '*/15 6-22 * * MON-FRI', deliver_cron: '@hourly'}\n"
        "subscribers: [{name: desk, slack_webhook: 'https://hooks.slack.example/T/B/x'}]\n"
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.schedule.monitor_cron == "*/15 6-22 * * MON-FRI" and settings.schedule.deliver_cron == "@hourly"


def test_a_bad_webhook_message_never_repeats_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, "subscribers: [{name: desk, slack_webhook: 'T00/B00/secret-token'}]\n"))
    assert "secret-token" not in str(error.value)
