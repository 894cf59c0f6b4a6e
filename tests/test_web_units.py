"""The web app's pure parts: highlighting, link safety, the chart, filters, auth, Atom, the command."""

from __future__ import annotations

import base64
import html
import re
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import feedparser
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from config.settings import load_settings
from flows.cli import web as web_cli
from flows.web.atom import topic_atom
from flows.web.charts import (
    alerts_per_day_svg,
    nice_ceiling,
    responsive_alerts_per_day_svg,
    y_ticks,
)
from flows.web.params import ParamError, multi, parse_alert_query
from flows.web.queries import feed_is_broken, parse_moment
from flows.web.render import highlight, safe_href, xml_text
from flows.web.security import credentials_match
from flows.web.server import ServeError, exposure_warning, listen_address

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# Highlighting ----------------------------------------------------------------------------


def test_highlight_marks_words_inside_escaped_text() -> None:
    evidence = {"terms": ["Britain", "=US", "meet*"]}
    out = highlight("Britain & the US <i>will</i> be meeting; focus on us.", evidence)
    assert str(out) == (
        "<mark>Britain</mark> &amp; the <mark>US</mark> &lt;i&gt;will&lt;/i&gt; be "
        "<mark>meeting</mark>; focus on us."  # =US is exact: not "us", not inside "focus"
    )


def test_highlight_prefers_recorded_words_and_phrases_span_whitespace() -> None:
    evidence = {"terms": ["trade deal"], "words": ["trade  deal"]}
    assert str(highlight("a trade\ndeal, a trade  deal", evidence)) == (
        "a <mark>trade\ndeal</mark>, a <mark>trade  deal</mark>"
    )


def test_highlight_stays_inside_the_matched_span() -> None:
    text = "Election law: foreign nationals and the election."
    evidence = {"words": ["election", "Election"], "start": 40, "end": 48, "text_start": 0}
    assert str(highlight(text, evidence)) == "Election law: foreign nationals and the <mark>election</mark>."


def test_highlight_of_a_hostile_term_marks_the_escaped_text() -> None:
    out = str(highlight("say <script>alert(1)</script> now", {"terms": ["<script>alert(1)</script>"]}))
    assert out == "say <mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark> now"


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab <>&\"'=*US\n")), max_size=40),
    terms=st.lists(st.text(alphabet=st.sampled_from(list("ab<>&\"'=*US ")), min_size=1, max_size=5), max_size=4),
)
def test_highlight_only_adds_mark_tags(text: str, terms: list[str]) -> None:
    out = str(highlight(text, {"terms": terms}))
    plain = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in plain and ">" not in plain and '"' not in plain
    assert html.unescape(plain) == text
    assert out.count("<mark>") == out.count("</mark>")


# Links -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://example.com/a?b=1", "https://example.com/", "HTTPS://Example.com/x"])
def test_http_links_are_kept(url: str) -> None:
    assert safe_href(url) == url


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
     "data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "//evil.example/x", "http:/nohost",
     "https://exa mple.com/", "", None, "mailto:a@b.c", "http://[bad"],
)
def test_other_urls_never_become_links(url: str | None) -> None:
    assert safe_href(url) is None


# The chart -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(0, 1), (1, 1), (2, 2), (3, 5), (5, 5), (6, 10), (11, 20), (42, 50), (101, 200)])
def test_nice_ceiling(value: int, expected: int) -> None:
    assert nice_ceiling(value) == expected


@pytest.mark.parametrize(("top", "ticks"), [(1, [0, 1]), (2, [0, 1, 2]), (5, [0, 1, 2, 3, 4, 5]), (10, [0, 2, 4, 6, 8, 10]), (20, [0, 5, 10, 15, 20]), (50, [0, 10, 20, 30, 40, 50])])
def test_y_ticks_are_evenly_spaced(top: int, ticks: list[int]) -> None:
    assert y_ticks(top) == ticks


def test_chart_draws_one_bar_per_day_with_alerts() -> None:
    first = date(2026, 11, 1)
    days = [(first + timedelta(days=i), count) for i, count in enumerate([0, 3, 0, 7, 1] + [0] * 25)]
    svg = str(alerts_per_day_svg(days, label="Alerts <per> day"))
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    bars = root.findall(f"{ns}rect")
    assert [b.find(f"{ns}title").text for b in bars] == [
        "2026-11-02: 3 alerts", "2026-11-04: 7 alerts", "2026-11-05: 1 alert",
    ]
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] > heights[0] > heights[2] > 0  # 7 > 3 > 1, to scale
    assert "Alerts &lt;per&gt; day" in svg and "<per>" not in svg
    assert "30 Nov" in svg  # the last day is always labelled


def test_chart_of_no_alerts_is_still_a_chart() -> None:
    days = [(date(2026, 11, 1) + timedelta(days=i), 0) for i in range(7)]
    root = ET.fromstring(str(alerts_per_day_svg(days)))
    assert root.findall("{http://www.w3.org/2000/svg}rect") == []
    assert "0 in 7 days" in root.get("aria-label")


# Filters ---------------------------------------------------------------------------------


def test_parse_moment_forms() -> None:
    assert parse_moment("since", "12h", NOW) == NOW - timedelta(hours=12)
    assert parse_moment("since", "2w", NOW) == NOW - timedelta(weeks=2)
    assert parse_moment("since", "2026-11-20", NOW) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_moment("until", "2026-11-20", NOW, end_of_day=True) == datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_moment("until", "2026-11-20T08:00+01:00", NOW, end_of_day=True) == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def test_parse_alert_query_defaults_and_errors() -> None:
    def parse(values: dict[str, str]):
        return parse_alert_query(multi(values), NOW, {"a-topic"}, default_limit=50)

    empty = parse({"topic": " ", "since": "", "min_score": "", "q": "  ", "unknown": "x"})
    assert (empty.topics, empty.since, empty.until, empty.min_score, empty.limit) == ((), None, None, None, 50)
    assert (empty.search, empty.sort, empty.cursor) == (None, "published", None)
    chosen = parse({"min_score": "2.5", "limit": "5", "topic": "a-topic", "q": "steel tarif*"})
    assert (chosen.min_score, chosen.limit, chosen.topics) == (2.5, 5, ("a-topic",))
    assert [t.words for t in chosen.search.terms] == [("steel",), ("tarif",)]
    for bad, name in (
        ({"limit": "-1"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "٣"}, "limit"),
        ({"min_score": "inf"}, "min_score"), ({"min_score": "1_0"}, "min_score"),
        ({"since": "soon"}, "since"), ({"since": "9999-12-31T23:00-05:00"}, "since"),
        ({"until": "0001-01-01T00:00+01:00"}, "until"), ({"topic": "b-topic"}, "topic"),
        ({"sort": "random"}, "sort"), ({"cursor": "x" * 500}, "cursor"), ({"q": "a*"}, "q"),
    ):
        with pytest.raises(ParamError) as raised:
            parse(bad)
        assert raised.value.name == name and str(raised.value).startswith(f"{name}: ")


def test_a_bad_value_is_quoted_back_short_and_visible() -> None:
    with pytest.raises(ParamError) as raised:
        parse_alert_query(multi({"since": "\x00" + "y" * 5000}), NOW, set(), default_limit=50)
    message = str(raised.value)
    assert "\\x00" in message and len(message) < 200


def test_feed_is_broken() -> None:
    assert feed_is_broken({"outcome": "permanent", "failures": 0})
    assert feed_is_broken({"outcome": "ok", "failures": 0.5})
    assert not feed_is_broken({"outcome": "not_modified", "failures": 0})
    assert not feed_is_broken({"outcome": "new", "failures": 0})


# Basic authentication --------------------------------------------------------------------


def header(value: str) -> str:
    return "Basic " + base64.b64encode(value.encode()).decode()


def test_credentials_match() -> None:
    assert credentials_match(header("ed:pa:ss"), "ed", "pa:ss")
    assert credentials_match("basic " + header("ed:pa:ss")[6:], "ed", "pa:ss")
    assert credentials_match(header("rédaction:mot de passe"), "rédaction", "mot de passe")
    for bad in (None, "", header("ed:pa"), header("ed"), header("Ed:pa:ss"), "Basic ???", "Digest x", "Basic " + base64.b64encode(b"\xff:\xfe").decode()):
        assert not credentials_match(bad, "ed", "pa:ss")


# Atom ------------------------------------------------------------------------------------


def test_atom_drops_characters_xml_cannot_hold() -> None:
    assert xml_text("a\x00b\x0bc\x1fd\ne\tf") == "abcd\ne\tf"
    alert = SimpleNamespace(
        id=1, story_id=2, topic_id="t", title="bell\x07 & <b>", story=None,
        evidence=[{"text": "form\x0cfeed"}], created_at=NOW, updated_at=NOW, published_at=NOW,
    )
    body = topic_atom(topic_id="t", topic_name="T", alerts=[alert], self_url="http://x/topics/t/atom.xml",
                      topic_url="http://x/topics/t", story_url=lambda a: f"http://x/stories/{a.story_id}", now=NOW)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert parsed.entries[0].title == "bell & <b>"
    assert parsed.entries[0].summary == "formfeed"
    assert parsed.entries[0].link == "http://x/stories/2"


def test_empty_atom_feed_is_valid() -> None:
    body = topic_atom(topic_id="t", topic_name="T", alerts=[], self_url="http://x/a.xml", topic_url="http://x/t",
                      story_url=lambda a: "", now=NOW)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and parsed.entries == [] and parsed.feed.updated_parsed[:3] == (2026, 11, 28)


# Serving ---------------------------------------------------------------------------------


def test_listen_address_defaults_to_loopback(tmp_path: Path) -> None:
    settings = load_settings(None, base_dir=tmp_path)
    assert listen_address(settings, None, None).url == "http://127.0.0.1:8080/"
    assert listen_address(settings, "::1", 9000).url == "http://[::1]:9000/"
    with pytest.raises(ServeError):
        listen_address(settings, None, 70000)


def test_exposure_warning_only_for_open_public_addresses(tmp_path: Path) -> None:
    open_settings = load_settings(None, base_dir=tmp_path)
    locked = load_settings(None, base_dir=tmp_path, web={"username": "u", "password": "p"})
    public = listen_address(open_settings, "0.0.0.0", None)
    assert exposure_warning(open_settings, public) is not None
    assert exposure_warning(locked, public) is None
    assert exposure_warning(open_settings, listen_address(open_settings, "localhost", None)) is None


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(web_cli.app, name="web")

    @app.command("other")
    def other() -> None:  # a second command, so typer keeps "web" as a subcommand name
        pass

    return app


def test_web_command_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["web", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "no such config file" in result.output and "Traceback" not in result.output


def test_web_command_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "newswatch.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'n.db'}\n", encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli(), ["web", "--config", str(config), "--port", str(port)])
    assert result.exit_code == 2
    assert re.search(rf"cannot listen on 127\.0\.0\.1:{port}: .*in use", result.output), result.output
    assert "Traceback" not in result.output


def test_responsive_chart_draws_a_wide_and_a_narrow_chart_with_fewer_dates() -> None:
    days = [(date(2026, 11, 1) + timedelta(days=i), i % 3) for i in range(30)]
    both = str(responsive_alerts_per_day_svg(days, label="Alerts per day"))
    wide, narrow = (ET.fromstring(svg + "</svg>") for svg in both.split("</svg>")[:2])
    assert wide.get("class") == "chart chart-wide" and narrow.get("class") == "chart chart-narrow"
    ns = "{http://www.w3.org/2000/svg}"

    def dates(root: ET.Element) -> list[str]:
        return [t.text or "" for t in root.findall(f"{ns}text") if not (t.text or "").isdigit()]

    assert len(dates(narrow)) <= 4 < len(dates(wide))
    assert dates(narrow)[-1] == dates(wide)[-1] == "30 Nov"  # both end on the last day
    assert len(narrow.findall(f"{ns}rect")) == len(wide.findall(f"{ns}rect")) == 20  # same bars
    assert float(narrow.get("width")) < float(wide.get("width"))
