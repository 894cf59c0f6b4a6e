"""The evaluation set generator: deterministic, every variant kind present, truth consistent."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from stories_evalset import load_items  # noqa: E402

from tasks.urls import canonical_url, story_url_key  # noqa: E402


def test_the_set_is_deterministic_and_complete() -> None:
    items = load_items()
    assert [i.item_id for i in items] == [i.item_id for i in load_items()]
    kinds = Counter(i.kind for i in items)
    for kind in ("original", "copy-wire", "copy-trim", "copy-added", "copy-short", "url-tracking", "url-amp",
                 "retelling"):
        assert kinds[kind] > 0, kind
    stories = {i.story for i in items}
    assert len(stories) >= 30 and kinds["original"] == len(stories)
    subjects = Counter(i.subject for i in items if i.kind == "original")
    assert min(subjects.values()) >= 4  # distinct stories on one subject exist
    assert len({i.item_id for i in items}) == len(items)


def test_variants_look_like_what_syndication_does() -> None:
    items = load_items()
    by_id = {i.item_id: i for i in items}
    original = by_id["trade-steel/original"]
    wire, trim = by_id["trade-steel/copy-wire"], by_id["trade-steel/copy-trim"]
    assert wire.title != original.title and trim.title != original.title
    assert original.text.split("\n\n")[0] in wire.text
    assert original.text.split("\n\n")[-1] not in trim.text
    tracking = by_id["trade-steel/url-tracking"]
    assert canonical_url(tracking.url) == canonical_url(original.url)
    amp = by_id["trade-steel/url-amp"]
    assert amp.final_url and story_url_key(amp.final_url) == story_url_key(original.url)
    assert all(i.published_at >= original.published_at for i in items if i.story == "trade-steel")
