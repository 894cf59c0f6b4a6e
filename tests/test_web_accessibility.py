"""Every page of the web app, at desktop width and on a 375 px phone, checked in headless Chromium.

For each page and width: a full-page screenshot into test-artifacts/ for a person to look at,
axe-core run in the page with its default rules (none disabled) and any violation a failure,
and at 375 px no horizontal overflow of the page itself (wide tables scroll in their own box).
Skips only when there is no Chromium binary; a missing axe-core is a failure that says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from flows.web.accounts import hash_password
from flows.web.app import create_app
from tests.support.axe import AxeUnavailable, axe_source
from tests.support.browser import Browser
from tests.test_web_app import Seeded, make_settings
from tests.test_web_e2e import ARTIFACTS, chromium_binary, serving_seeded

pytestmark = pytest.mark.slow

PHONE, DESKTOP = 375, 1280

# name -> (route it shows, path (ids filled in), expected status)
PAGES: dict[str, tuple[str | None, str, int]] = {
    "alerts": ("alerts", "/", 200),
    "alerts-search": ("alerts", "/?q=envoys&limit=1", 200),
    "alerts-bad-filter": ("alerts", "/?since=yesterday-ish", 400),
    "story": ("story", "/stories/{safe_story}", 200),
    "story-hostile": ("story", "/stories/{hostile_story}", 200),
    "topics": ("topics", "/topics", 200),
    "topic": ("topic", "/topics/uk-us-relations", 200),
    "topic-retired": ("topic", "/topics/retired-topic", 200),
    "feeds": ("feeds", "/feeds", 200),
    "not-found": (None, "/stories/999999", 404),
    "sign-in": ("sign_in_form", "/sign-in", 200),
    # The story page as a signed-in person sees it: with the relevant / not relevant buttons.
    "story-signed-in": ("story", "/stories/{safe_story}", 200),
}
SIGNED_IN = {"story-signed-in"}
PERSON, PASSWORD = "ana", "correct horse battery"

# Sign in from the sign-in page, as its form would (the session cookie stays in the browser).
SIGN_IN = """
(async () => {
  const form = document.querySelector('form.sign-in');
  form.elements['name'].value = %s;
  form.elements['password'].value = %s;
  const answer = await fetch(form.action, {method: 'POST', body: new URLSearchParams(new FormData(form))});
  return answer.status;
})()
"""


def is_page(route: Route) -> bool:
    """An HTML page a person reads: not the API, CSV, Atom or static files."""
    return (
        "GET" in (route.methods or ())
        and not route.path.startswith("/api/")
        and not route.path.endswith((".csv", ".xml"))
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded, Path]]:
    directory = tmp_path_factory.mktemp("a11y")
    people = {"users": {PERSON: hash_password(PASSWORD)}, "secret_key": "a11y-" + "k" * 40}
    with serving_seeded(directory, **people) as (base, ids):
        yield base, ids, directory


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium package)")
    with Browser(binary, tmp_path_factory.mktemp("chromium") / "profile") as driven:
        yield driven


@pytest.fixture(scope="module")
def axe() -> str:
    try:
        return axe_source()
    except AxeUnavailable as exc:
        pytest.fail(f"axe-core could not be loaded: {exc}", pytrace=False)


def test_every_page_route_is_checked(served: tuple[str, Seeded, Path]) -> None:
    _, _, directory = served
    app = create_app(make_settings(directory))
    routes = {route.name for route in app.routes if isinstance(route, Route) and is_page(route)}
    checked = {route for route, _, _ in PAGES.values() if route}
    assert routes - checked == set(), "pages without an accessibility check: add them to PAGES"
    assert checked - routes == set(), "PAGES names routes the app no longer has"


def test_axe_reports_a_known_violation(browser: Browser, axe: str) -> None:
    """The check can fail: a page with an image without text, checked the same way."""
    browser.open("data:text/html,<!doctype html><html lang=en><title>t</title><main><img src=x.png></main></html>", PHONE)
    browser.evaluate(axe)
    assert "image-alt" in {v["rule"] for v in browser.evaluate(RUN_AXE)}


# What the page says about itself, in the browser ----------------------------------------

RUN_AXE = """
axe.run(document).then(result => result.violations.map(v => ({
  rule: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' -> ' + n.failureSummary.replace(/\\s+/g, ' ')),
})))
"""

# The elements reaching past the viewport's right edge, to say what overflows.
OVERFLOWING = """
(() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 0.5 && el.offsetParent !== null) {
      out.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\\s+/g, '.') : '') + ' right=' + Math.round(box.right));
    }
  }
  return out.slice(0, 12);
})()
"""


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {v['rule']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
    )


def page_url(base: str, ids: Seeded, path: str) -> str:
    return base + path.format(**vars(ids))


@pytest.mark.parametrize("width", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_accessible_and_fits(
    served: tuple[str, Seeded, Path], browser: Browser, axe: str, name: str, width: int
) -> None:
    base, ids, _ = served
    _, path, expected_status = PAGES[name]
    browser.call("Network.clearBrowserCookies")
    if name in SIGNED_IN:
        browser.open(base + "/sign-in", width)
        assert browser.evaluate(SIGN_IN % (json.dumps(PERSON), json.dumps(PASSWORD))) == 200
    status = browser.open(page_url(base, ids, path), width, 812 if width == PHONE else 900, mobile=width == PHONE)
    assert status == expected_status

    ARTIFACTS.mkdir(exist_ok=True)
    shot = browser.screenshot(ARTIFACTS / f"a11y-{name}-{width}.png")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    if name in SIGNED_IN:
        assert browser.evaluate("document.querySelectorAll('form.verdict-form button').length") >= 2

    if width == PHONE:
        scroll_width = browser.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= PHONE, (
            f"{name} is {scroll_width} px wide at {PHONE} px; reaching past the edge: "
            f"{browser.evaluate(OVERFLOWING)}"
        )

    browser.evaluate(axe)
    violations = browser.evaluate(RUN_AXE)
    assert violations == [], f"axe-core found {len(violations)} violation(s) on {name} at {width} px:\n{describe(violations)}"


# The chart ------------------------------------------------------------------------------

CHART_LABELS = """
(() => [...document.querySelectorAll('svg.chart')]
  .filter(svg => svg.getBoundingClientRect().width > 0)
  .map(svg => ({
    width: svg.getBoundingClientRect().width,
    labels: [...svg.querySelectorAll('text.axis')].map(t => {
      const box = t.getBoundingClientRect();
      return {text: t.textContent, left: box.left, right: box.right, top: box.top, height: box.height};
    }),
  })))()
"""


@pytest.mark.parametrize("width", [DESKTOP, 1001, 800, PHONE])
def test_chart_labels_are_legible_and_apart(
    served: tuple[str, Seeded, Path], browser: Browser, width: int
) -> None:
    base, ids, _ = served
    browser.open(page_url(base, ids, "/topics/uk-us-relations"), width, mobile=width == PHONE)
    charts = browser.evaluate(CHART_LABELS)
    assert len(charts) == 1, f"one chart should show at {width} px, not {len(charts)}"
    chart = charts[0]
    assert chart["width"] <= width
    labels = chart["labels"]
    assert len(labels) >= 4, json.dumps(labels)
    small = [label["text"] for label in labels if label["height"] < 11]
    assert small == [], f"chart labels drawn under 11 px high at {width} px: {small}"
    dates = sorted((label for label in labels if not label["text"].isdigit()), key=lambda label: label["left"])
    assert len(dates) >= 3
    for before, after in zip(dates, dates[1:], strict=False):
        assert after["left"] - before["right"] >= 4, f"date labels {before['text']} and {after['text']} touch at {width} px"
