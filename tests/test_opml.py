"""OPML in and out: `newswatch feeds --format opml` and the `feed_lists` config key."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from typer.testing import CliRunner

from config.opml import OpmlError, parse_opml
from config.settings import ConfigError, load_settings
from flows.cli import app

FEEDS = [
    {"url": "https://a.example/rss?x=1&y=2", "name": 'Tom & Jerry\'s "<News>"'},
    {"url": "https://b.example/atom.xml", "name": "Ĉu ĉi tio — ünïcode", "html_url": "https://b.example/"},
    {"url": "https://c.example/feed"},
]

NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My reader</title></head>
  <body>
    <outline text="Politics">
      <outline text="UK" >
        <outline type="rss" text="Harbour Times" xmlUrl="https://harbour.example/rss.xml" htmlUrl="https://harbour.example/"/>
      </outline>
      <outline type="atom" title="Capital Wire" text="wire" xmlUrl="https://wire.example/atom"/>
    </outline>
    <outline text="no type, still a feed" xmlUrl="https://plain.example/feed.xml"/>
    <outline text="a link, not a feed" type="link" url="https://example.org/"/>
    <outline type="rss" text="listed in the config too" xmlUrl="https://a.example/rss?x=1&amp;y=2"/>
    <outline type="rss" text="twice in the file" xmlUrl="https://wire.example/atom"/>
  </body>
</opml>
"""


def write_config(folder: Path, **data: object) -> Path:
    path = folder / "newswatch.yaml"
    path.write_text(yaml.safe_dump({"database_url": "sqlite:///nw.db", **data}, allow_unicode=True), encoding="utf-8")
    return path


def opml_of(config: Path) -> str:
    result = CliRunner().invoke(app, ["feeds", "--config", str(config), "--format", "opml"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_round_trip_config_feeds_to_opml_and_back(tmp_path: Path) -> None:
    text = opml_of(write_config(tmp_path, feeds=FEEDS))
    root = ElementTree.fromstring(text.encode())  # well-formed, escaped
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("./body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [f["url"] for f in FEEDS]
    assert outlines[0].get("text") == outlines[0].get("title") == FEEDS[0]["name"]
    assert outlines[1].get("htmlUrl") == "https://b.example/" and outlines[0].get("htmlUrl") is None

    other = tmp_path / "elsewhere"
    (other / "lists").mkdir(parents=True)
    (other / "lists" / "exported.opml").write_text(text, encoding="utf-8")
    settings = load_settings(write_config(other, feed_lists=["lists/exported.opml"]))
    got = [(f.url, f.name, f.html_url) for f in settings.feeds]
    assert got == [(f["url"], f.get("name", f["url"]), f.get("html_url")) for f in FEEDS]
    # Exported again, the list is the same.
    again = opml_of(write_config(other, feed_lists=["lists/exported.opml"]))
    assert parse_opml(again) == parse_opml(text)


def test_feed_lists_add_nested_feeds_once_after_the_listed_ones(tmp_path: Path) -> None:
    (tmp_path / "reader.opml").write_text(NESTED, encoding="utf-8")
    settings = load_settings(write_config(tmp_path, feeds=FEEDS[:1], feed_lists=["reader.opml"]))
    assert [(f.url, f.name) for f in settings.feeds] == [
        (FEEDS[0]["url"], FEEDS[0]["name"]),
        ("https://harbour.example/rss.xml", "Harbour Times"),
        ("https://wire.example/atom", "Capital Wire"),
        ("https://plain.example/feed.xml", "no type, still a feed"),
    ]
    assert settings.feeds[1].html_url == "https://harbour.example/"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "reader.opml: no such file; fix the path in feed_lists (relative to the config file)"),
        ("<opml><body><outline xmlUrl='https://x.example/'></body></opml>", "reader.opml: not well-formed XML at line 1"),
        ("<opml version='2.0'><head/><body><outline text='folder'/></body></opml>", "reader.opml: no feeds in it"),
        ("<rss><channel/></rss>", "reader.opml: the root element is <rss>, not <opml>"),
        ("", "reader.opml: not well-formed XML"),
        (
            '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            "<opml><body><outline text='&b;' xmlUrl='https://x.example/'/></body></opml>",
            "reader.opml: declares a DOCTYPE",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd">'
            "<opml><body><outline xmlUrl='https://x.example/'/></body></opml>",
            "reader.opml: declares a DOCTYPE",
        ),
        ("<opml><body><outline text='x' xmlUrl='ftp://x.example/list'/></body></opml>", "feed 'ftp://x.example/list' must be an http"),
    ],
)
def test_a_bad_feed_list_is_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "reader.opml").write_text(content, encoding="utf-8")
    config = write_config(tmp_path, feed_lists=["reader.opml"])
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert message.startswith(f"{config}: feed_lists: ")

    result = CliRunner().invoke(app, ["feeds", "--config", str(config), "--format", "opml"])
    assert result.exit_code != 0 and expected in result.output and "Traceback" not in result.output


def test_parse_refuses_entities_without_expanding_them() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
        + "]><opml><body><outline text='&lol9;' xmlUrl='https://x.example/'/></body></opml>"
    )
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(bomb)


def test_an_empty_feed_list_is_valid_opml_with_a_note_on_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["feeds", "--config", str(write_config(tmp_path)), "--format", "opml"])
    assert result.exit_code == 0
    assert ElementTree.fromstring(result.stdout.encode()).findall("./body/outline") == []
    assert "lists no feeds" in result.stderr
