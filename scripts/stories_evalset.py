"""The story-clustering evaluation set: written stories plus generated copies and URL variants.

``benchmarks/data/stories_eval.yaml`` holds stories written for this project (several per
subject, so distinct stories on one subject exist) and, for many of them, retellings of
the same event in other words. This module adds what syndication does to a text, with a
fixed seed so every run sees the same set:

- ``copy-wire``: another outlet republishes it: new headline, byline and dateline, a
  republication footer;
- ``copy-trim``: the last paragraph cut, a headline made from the first sentence,
  an agency credit line;
- ``copy-added``: a context paragraph of the outlet's own added (the same paragraph for
  every story of the subject, which makes distinct stories *more* alike), related links;
- ``copy-short``: only the first two paragraphs and a "read more" line (some stories);
- ``url-tracking``: the original URL with tracking parameters (the store merges it);
- ``url-amp``: reached through an aggregator redirect that lands on the AMP page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "stories_eval.yaml"
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SEED = 20260302

OUTLETS = [
    "https://www.riverdalegazette.example", "https://www.coastalobserver.example",
    "https://news.midlandsvoice.example", "https://www.thecapitalpost.example",
    "https://www.eveningcourier.example", "https://www.dailydigest.example",
]
BYLINES = ["By Staff Reporter", "By Hannah Cole, Political Correspondent", "By Agency Staff",
           "By Marco Ruiz and Lena Fischer", "From our correspondent"]
DATELINES = ["LONDON —", "WASHINGTON (Wire) —", "Published 09:41 GMT, updated 11:02 GMT", "Updated 2 hours ago"]
FOOTERS = [
    "This article was originally published by Wire Services and is republished with permission.",
    "Sign up to our free morning briefing for the stories that matter, delivered to your inbox.",
    "Copyright 2026 Wire Services. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "Have a story? Contact our newsdesk in confidence. Follow us on social media for the latest updates.",
]
CREDITS = ["Reporting by Anna Petrova; editing by John Stone", "Additional reporting by Wire Services",
           "Writing by Sam Okoro; editing by Claire Dunn"]
KICKERS = ["Live:", "Breaking:", "Explained:", "Update:", "Analysis:"]
RELATED = ["Related: What the decision means for you", "Read more: Our coverage in full",
           "See also: Five things to know"]
# An outlet's context paragraph, the same for every story of a subject.
CONTEXT = {
    "uk-us-trade": "Britain has been seeking a comprehensive trade agreement with the United States "
    "since leaving the European Union, but negotiations have repeatedly stalled over agriculture, "
    "medicines pricing, digital taxes and tariffs on steel, cars and spirits.",
    "election-interference": "Security services across Europe and North America have warned that "
    "hostile states are using fake accounts, covert funding and artificial intelligence to interfere "
    "in elections, and regulators say their powers have not kept pace.",
    "central-banks": "Central banks raised interest rates sharply after inflation surged following the "
    "pandemic and the energy crisis, and have been cutting cautiously as price growth slows towards "
    "their targets.",
    "extreme-weather": "Scientists say climate change is making extreme weather events such as floods, "
    "heatwaves, wildfires and droughts more frequent and more intense, and that emergency services "
    "must prepare for more of them.",
    "technology-regulation": "Governments on both sides of the Atlantic are stepping up regulation of "
    "large technology companies, from competition rules and online safety laws to export controls "
    "and cyber security requirements.",
    "sport": "The result comes in a season of records and upsets that has drawn record television "
    "audiences and ticket sales across the sport.",
}


@dataclass(frozen=True)
class EvalItem:
    """One article as a feed would list it, with the truth the evaluation checks against."""

    item_id: str
    story: str  # the true story (event)
    subject: str
    kind: str  # original | copy-* | url-* | retelling
    url: str
    title: str
    text: str
    published_at: datetime
    final_url: str | None = None

    @property
    def is_copy(self) -> bool:
        """The original, a syndicated copy or a URL variant: the "copies" of the issue's targets."""
        return self.kind != "retelling"


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.strip().split("\n\n") if p.strip()]


def _first_sentence_headline(paragraphs: list[str], words: int = 11) -> str:
    sentence = paragraphs[0].split(". ")[0]
    parts = sentence.split()
    return " ".join(parts[:words]).rstrip(",;") + ("…" if len(parts) > words else "")


def _slug(title: str) -> str:
    return "-".join("".join(c for c in w.lower() if c.isalnum()) for w in title.split()[:7]).strip("-")


def _amp_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    return f"https://amp.{host}{parts.path.rstrip('/')}/amp/"


def load_items(path: Path = DATA, seed: int = SEED) -> list[EvalItem]:
    """Every item of the set, ordered by publication time."""
    stories = yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]
    rng = random.Random(seed)
    items: list[EvalItem] = []
    for index, story in enumerate(stories):
        items.extend(_story_items(story, index, rng))
    items.sort(key=lambda item: (item.published_at, item.item_id))
    return items


def _story_items(story: dict, index: int, rng: random.Random) -> list[EvalItem]:
    sid, subject, title, url = story["id"], story["subject"], story["title"], story["url"]
    paragraphs = _paragraphs(story["body"])
    at = START + timedelta(hours=float(story["hours"]))
    outlets = rng.sample(OUTLETS, 4)

    def item(kind: str, item_url: str, item_title: str, parts: list[str], hours: float, **extra: str) -> EvalItem:
        return EvalItem(
            item_id=f"{sid}/{kind}", story=sid, subject=subject, kind=kind, url=item_url,
            title=item_title, text="\n\n".join(parts), published_at=at + timedelta(hours=hours), **extra,
        )

    out = [item("original", url, title, paragraphs, 0)]
    wire_title = f"{rng.choice(KICKERS)} {_first_sentence_headline(paragraphs, 9)}"
    out.append(item(
        "copy-wire", f"{outlets[0]}/news/{index}/{_slug(wire_title)}", wire_title,
        [rng.choice(BYLINES), rng.choice(DATELINES), *paragraphs, rng.choice(FOOTERS)],
        rng.uniform(0.5, 6),
    ))
    trim_title = _first_sentence_headline(paragraphs)
    out.append(item(
        "copy-trim", f"{outlets[1]}/{index}-{_slug(trim_title)}?utm_source=rss", trim_title,
        [*paragraphs[:-1], rng.choice(CREDITS)], rng.uniform(1, 12),
    ))
    added = [*paragraphs[:2], CONTEXT[subject], *paragraphs[2:], rng.choice(RELATED), rng.choice(FOOTERS)]
    out.append(item(
        "copy-added", f"{outlets[2]}/articles/{_slug(title)}-{index}", f"{title} | {outlets[2].split('.')[1]}",
        added, rng.uniform(2, 20),
    ))
    if index % 2 == 0 and len(paragraphs) >= 3:
        out.append(item(
            "copy-short", f"{outlets[3]}/brief/{index}", rng.choice(KICKERS) + " " + title,
            [*paragraphs[:2], "Read the full story on our website."], rng.uniform(1, 8),
        ))
    out.append(item(
        "url-tracking", f"{url}?utm_source=twitter&utm_medium=social&fbclid=IwAR{index}x", title,
        paragraphs, rng.uniform(0.2, 3),
    ))
    out.append(item(
        "url-amp", f"https://news.aggregator.example/r/{index:04d}{rng.randrange(10**6):06d}", title,
        paragraphs, rng.uniform(0.2, 5), final_url=_amp_url(url),
    ))
    for number, retelling in enumerate(story.get("retellings") or [], start=1):
        out.append(EvalItem(
            item_id=f"{sid}/retelling-{number}", story=sid, subject=subject, kind="retelling",
            url=retelling["outlet"], title=retelling["title"],
            text="\n\n".join(_paragraphs(retelling["body"])),
            published_at=at + timedelta(hours=rng.uniform(3, 30)),
        ))
    return out
