"""Every command's inputs as a new user gets them wrong: one line naming the input and the
fix, exit 2, no traceback, and nothing created on the way."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flows.cli import app

runner = CliRunner()

NEEDS_CONFIG = [
    ["run"], ["alerts"], ["articles"], ["feeds"], ["db", "upgrade"], ["deliver"], ["subscribers"],
    ["preview", "desk"], ["web"], ["serve"], ["prune"], ["feedback", "1", "relevant"],
]


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


READ_ONLY = [["alerts"], ["articles"], ["feeds"], ["subscribers"], ["preview", "desk"], ["web", "--port", free_port()],
             ["topics", "backtest", "uk-us-relations"], ["feedback", "1", "relevant", "--by", "ana"]]


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output and "╭" not in result.output, result.output
    return result


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_config(folder: Path, text: str) -> Path:
    path = folder / "newswatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", NEEDS_CONFIG, ids=" ".join)
def test_commands_that_need_a_config_refuse_to_run_without_one(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_line_error(invoke(*command))
    assert line == (
        f"newswatch: {' '.join(command[:2] if command[0] == 'db' else command[:1])} needs a config file: "
        "pass --config FILE or set NEWSWATCH_CONFIG=FILE; `newswatch demo` writes an example to "
        "newswatch-demo/newswatch.yaml"
    )
    assert list(tmp_path.iterdir()) == []  # before: ./newswatch.db appeared and run said "exit 0"


def test_the_hint_points_at_a_config_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "feeds: []\n")
    assert one_line_error(invoke("run")).endswith("there is one here: --config newswatch.yaml")


def test_a_missing_file_named_by_newswatch_config_says_where_the_name_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(tmp_path / "nope.yaml"))
    assert one_line_error(invoke("feeds")) == (
        f"newswatch: {tmp_path / 'nope.yaml'}: no such config file (the file named by NEWSWATCH_CONFIG)"
    )
    monkeypatch.setenv("NEWSWATCH_CONFIG", "")
    assert "feeds needs a config file" in one_line_error(invoke("feeds"))


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_database_or_a_folder(command: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "no-such-dir" / "x.db"
    config = write_config(tmp_path, f"database_url: sqlite:///{typo}\nsubscribers: [{{name: desk, email: d@example.org}}]\n")
    line = one_line_error(invoke(*command, "--config", str(config)))
    assert line == (
        f"newswatch: database {typo}: no such folder {typo.parent}; check database_url in the config, "
        "or run `newswatch run --config FILE` first to create it"
    )
    assert not typo.parent.exists()  # before: the folder and an empty database appeared

    missing_file = tmp_path / "x.db"
    config = write_config(tmp_path, f"database_url: sqlite:///{missing_file}\nsubscribers: [{{name: desk}}]\n")
    assert f"database {missing_file}: no such file;" in one_line_error(invoke(*command, "--config", str(config)))
    assert not missing_file.exists()


def test_a_file_without_newswatch_tables_is_named_not_migrated(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER)")
    config = write_config(tmp_path, "database_url: sqlite:///other.db\n")
    line = one_line_error(invoke("alerts", "--config", str(config)))
    assert f"database {other} has no newswatch tables; check database_url" in line
    with sqlite3.connect(other) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"notes"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config with an (empty) database, as after a first run."""
    path = write_config(tmp_path, "database_url: sqlite:///newswatch.db\nfeeds: []\n")
    assert invoke("db", "upgrade", "--config", str(path)).exit_code == 0
    return path


def test_an_unknown_topic_lists_the_known_ones(config: Path) -> None:
    assert one_line_error(invoke("alerts", "--config", str(config), "--topic", "nope")) == (
        "newswatch: --topic 'nope': no such topic (known: foreign-campaigning, uk-us-relations)"
    )
    known = invoke("alerts", "--config", str(config), "--topic", "uk-us-relations")
    assert known.exit_code == 0 and "no alerts match" in known.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["articles", "--status", "bogus"],
         "Invalid value for '--status': Value error, 'bogus' is not one of 'pending', 'fetched', 'failed', 'rejected'"),
        (["run", "--format", "xml"], "Invalid value for '--format' / '-f': Value error, 'xml' is not one of 'text', 'json'"),
        (["alerts", "--format", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
        (["alerts", "--limit", "0"], "Invalid value for '--limit': Input should be greater than or equal to 1"),
        (["articles", "--limit", "-5"], "Invalid value for '--limit': Input should be greater than or equal to 1"),
        (["alerts", "--limit", "99999999999999999999999"], "Input should be less than or equal to 1000000000"),
        (["alerts", "--since", "99999999999d"], "newswatch: --since '99999999999d' is too long; use at most 36500d"),
        (["alerts", "--since", "yesterday"], "newswatch: --since 'yesterday' is not a date or a duration; use a duration like 30d"),
        (["topics", "backtest", "uk-us-relations", "--since", "99999999999d"], "--since '99999999999d' is too long"),
        (["run", "--engine", "fast"], "'fast' is not one of 'prefect', 'plain'"),
        (["preview", "nobody"], "no subscriber named 'nobody' (subscribers: none configured)"),
    ],
)
def test_wrong_values_get_one_line_naming_the_option_and_the_valid_ones(
    config: Path, args: list[str], expected: str
) -> None:
    result = invoke(*args, "--config", str(config))
    assert result.exit_code == 2
    assert expected in result.stderr
    assert sum(1 for line in result.stderr.splitlines() if expected.split(":")[0] in line) == 1


def test_a_run_on_a_config_without_feeds_says_so_and_creates_the_database_it_names(config: Path) -> None:
    result = runner.invoke(app, ["run", "--engine", "plain", "--config", str(config)])
    assert result.exit_code == 0
    assert f"newswatch: {config} lists no feeds; nothing to fetch" in result.stderr


def all_commands() -> list[list[str]]:
    import typer.main

    commands: list[list[str]] = []

    def walk(group: object, prefix: list[str]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])
            else:
                commands.append([*prefix, name])

    walk(typer.main.get_command(app), [])
    return commands


def test_flags_read_as_flags_in_every_help() -> None:
    commands = all_commands()
    assert len(commands) >= 15
    for command in commands:
        result = invoke(*command, "--help")
        assert result.exit_code == 0, command
        assert "<bool>" not in result.output, (command, result.output)
    assert "--all / --no-all" in invoke("run", "--help").output


def test_demo_refuses_a_file_or_an_unwritable_folder(tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("x", encoding="utf-8")
    assert one_line_error(invoke("demo", "--dir", str(file))) == (
        f"newswatch: --dir {file}: is a file; give a folder for the demo's config and database"
    )
    assert "cannot write there" in one_line_error(invoke("demo", "--dir", str(file / "sub")))


def test_topics_inputs(tmp_path: Path) -> None:
    assert one_line_error(invoke("topics", "check", str(tmp_path / "nope"))) == (
        f"newswatch: {tmp_path / 'nope'}: no such file or folder; give a topic YAML file or a folder of them"
    )
    for url in ("notaurl", "ftp://example.org/x", "https://"):
        line = one_line_error(invoke("topics", "explain", "uk-us-relations", "--url", url))
        assert line == f"newswatch: --url {url!r}: give an absolute http:// or https:// URL (or save the page and use --file)"
    missing_topics = write_config(tmp_path, "topics: no-such-folder\n")
    for command in (["topics", "list"], ["run"]):
        line = one_line_error(invoke(*command, "--config", str(missing_topics)))
        assert line == (
            f"newswatch: {tmp_path / 'no-such-folder'}: no such file or folder; check topics: in the config "
            "(relative paths start at the config file's folder)"
        )
    assert not (tmp_path / "newswatch.db").exists()
    bad_topic = tmp_path / "bad-topic.yaml"
    bad_topic.write_text("id: x\nname: X\nrules:\n  - name: r\n    query: (a AND\n", encoding="utf-8")
    config = write_config(tmp_path, "topics: bad-topic.yaml\n")
    assert one_line_error(invoke("run", "--config", str(config))).startswith(f"newswatch: {bad_topic}: line 5, column ")


def test_the_demo_says_its_failing_feed_is_part_of_the_sample(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--engine", "plain", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "feeds: 3 ok, 0 not modified, 1 failed (of 4 polled)" in result.output
    assert (
        "As intended: The Westmoor Courier – Latest fails because it is cut off mid-transfer, "
        "to show how a broken feed is reported; it is part of the sample."
    ) in result.output


def test_sample_failure_notes_name_only_the_intended_failures() -> None:
    from flows.demo import sample_failure_notes

    on_purpose = {"http://127.0.0.1:1/feeds/broken.xml": ("Broken", "it is cut off")}
    assert sample_failure_notes(["http://127.0.0.1:1/feeds/other.xml: HTTP 404"], on_purpose) == []
    assert sample_failure_notes(["http://127.0.0.1:1/feeds/broken.xml: not a feed"], on_purpose) == [
        "As intended: Broken fails because it is cut off; it is part of the sample."
    ]
