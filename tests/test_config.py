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
        ("database_url: mysql://x\n", "database_url: must be a sqlite:/// or postgresql+psycopg:// URL"),
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
