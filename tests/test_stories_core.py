"""The pure story core: fingerprints, terms, the clustering decision (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.stories.cluster import IndexedArticle, decide
from tasks.stories.fingerprint import (
    MIN_SHINGLES,
    SIGNATURE_SIZE,
    TextSignature,
    band_keys,
    duplicate_similarity,
    exact_containment,
    fingerprint64,
    is_same_article_update,
    jaccard_estimate,
    text_signature,
)
from tasks.stories.terms import cosine, lead_of, stem, story_terms, term_key, weigh

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)

BODY = (
    "Britain and the United States have agreed to remove the 25 per cent tariff on British steel and "
    "aluminium, ending a dispute that cost mills in Sheffield and south Wales an estimated 400 million "
    "pounds a year. Trade Secretary Helen Marsh announced the deal in Washington after two days of talks.\n\n"
    "Under the agreement, the quota for duty-free UK steel will rise to 500,000 tonnes from the first of "
    "next month. Marsh said the deal protects thousands of skilled jobs and showed the value of patience.\n\n"
    "Industry body Steel UK welcomed the announcement but warned that high energy costs remained the "
    "biggest threat to the sector, with producers paying twice as much for electricity as rivals.\n\n"
    "The Port Talbot works, which employs about 4,000 people, is expected to be among the first to benefit."
)
OTHER = (
    "Scotch whisky producers are still paying a 10 per cent American tariff on single malts, the Scotch "
    "Whisky Association said, as negotiators moved on to other parts of the trade talks without a deal on "
    "spirits. Its chief executive said Islay and Speyside distillers had lost 60 million pounds in sales "
    "since the duty was imposed, and urged Downing Street to make whisky a priority in the next round. "
    "Several distilleries in Moray have frozen recruitment, and exports fell by a fifth last quarter."
)


def test_signature_of_the_same_text_is_identical_and_round_trips() -> None:
    first, second = text_signature(BODY), text_signature(BODY)
    assert first == second and first.usable and len(first.values) == SIGNATURE_SIZE
    assert TextSignature.from_bytes(first.to_bytes(), first.shingle_count) == first
    assert jaccard_estimate(first, second) == 1.0


def test_syndicated_copy_is_a_near_duplicate() -> None:
    paragraphs = BODY.split("\n\n")
    copy = "\n\n".join(
        ["By Agency Staff", "LONDON —", *paragraphs[:-1], "Sign up to our newsletter for more business news."]
    )
    similarity = duplicate_similarity(text_signature(BODY), text_signature(copy))
    assert similarity >= 0.8
    assert exact_containment(BODY, copy) >= 0.8


def test_distinct_story_on_the_same_subject_is_not_a_duplicate() -> None:
    assert duplicate_similarity(text_signature(BODY), text_signature(OTHER)) < 0.2


def test_short_text_is_never_called_a_copy() -> None:
    short = text_signature("Steel tariffs lifted, minister says.")
    assert not short.usable and short.shingle_count < MIN_SHINGLES
    assert duplicate_similarity(short, short) == 0.0
    assert band_keys(short) == [] and fingerprint64(short) is None


def test_copies_share_lsh_bands_and_close_fingerprints() -> None:
    copy = BODY + "\n\nThis article was originally published by Wire Services."
    a, b = text_signature(BODY), text_signature(copy)
    assert set(band_keys(a)) & set(band_keys(b))
    assert not set(band_keys(a)) & set(band_keys(text_signature(OTHER)))
    fa, fb = fingerprint64(a), fingerprint64(b)
    assert fa is not None and fb is not None and -(2**63) <= fa < 2**63
    assert bin((fa ^ fb) & (2**64 - 1)).count("1") < 16


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=400))
def test_signature_never_raises_and_similarity_is_bounded(text: str) -> None:
    signature = text_signature(text)
    assert 0.0 <= duplicate_similarity(signature, text_signature(BODY)) <= 1.0


def test_update_in_place_is_recognised() -> None:
    revised = BODY.replace("two days of talks", "three days of talks") + "\n\nUpdated with reaction."
    assert is_same_article_update(BODY, revised)
    assert not is_same_article_update(BODY, OTHER)
    assert is_same_article_update(None, BODY)


def test_stems_and_terms() -> None:
    assert stem("tariffs") == stem("tariff") == "tariff"
    assert stem("agreed") == stem("agree")
    assert stem("bus") == "bus"
    terms = story_terms("UK and US agree steel deal", BODY)
    assert {"steel", "tariff", "marsh", "helen", "usa", "uk"} <= set(terms)
    assert "the" not in terms and "said" not in terms
    assert terms["marsh"] > terms["cost"]  # a name counts more than a plain word


def test_lead_skips_bylines_and_datelines() -> None:
    text = "By Hannah Cole, Political Correspondent\nPublished 09:41 GMT\n" + BODY
    assert lead_of(text).startswith("Britain and the United States")
    assert "hannah" not in story_terms("", text)


def test_rare_terms_weigh_more_than_common_ones() -> None:
    vector = weigh({"steel": 1.0, "marsh": 1.0}, {"steel": 90, "marsh": 1}, documents=100)
    assert vector["marsh"] > vector["steel"]
    assert abs(sum(w * w for w in vector.values()) - 1.0) < 1e-3


def test_cosine_names_the_shared_terms() -> None:
    similarity, shared = cosine({"steel": 0.8, "marsh": 0.6}, {"marsh": 1.0})
    assert abs(similarity - 0.6) < 1e-9 and shared == ["marsh"]
    assert cosine({"a": 1.0}, {"b": 1.0}) == (0.0, [])
    assert term_key("steel") == term_key("steel") != term_key("whisky")


def _indexed(article_id: int, story_id: int, text: str, title: str, hours: float = 0.0) -> IndexedArticle:
    return IndexedArticle(
        article_id=article_id, story_id=story_id, at=AT + timedelta(hours=hours),
        signature=text_signature(text), vector=weigh(story_terms(title, text), {}, 0),
    )


def test_decide_prefers_a_near_duplicate_and_explains() -> None:
    candidates = [_indexed(1, 10, BODY, "UK and US lift steel tariffs"), _indexed(2, 20, OTHER, "Whisky waits")]
    copy = BODY + "\n\nRead more on our website."
    decision = decide(
        text_signature(copy), weigh(story_terms("A new headline", copy), {}, 0), AT, candidates,
        window=WINDOW, duplicate_threshold=0.8, story_threshold=0.35,
    )
    assert decision.kind == "duplicate" and decision.story_id == 10 and decision.duplicate_of_id == 1
    assert decision.reason.startswith("near-duplicate of article 1 (similarity ")


def test_decide_joins_a_story_on_shared_terms_and_names_them() -> None:
    candidate = _indexed(1, 10, BODY, "UK and US lift steel tariffs")
    retold = ("US duties on UK steel and aluminium are going after Helen Marsh struck a deal in Washington; "
              "500,000 tonnes of British steel will enter duty free, helping Port Talbot and Sheffield.")
    decision = decide(
        text_signature(retold), weigh(story_terms("Marsh clinches steel deal", retold), {}, 0), AT,
        [candidate], window=WINDOW, duplicate_threshold=0.8, story_threshold=0.3,
    )
    assert decision.kind == "story" and decision.story_id == 10 and decision.duplicate_of_id is None
    assert "steel" in decision.shared_terms and "shared terms" in decision.reason


def test_decide_ignores_candidates_outside_the_window_and_unrelated_ones() -> None:
    late = _indexed(1, 10, BODY, "UK and US lift steel tariffs", hours=100)
    decision = decide(
        text_signature(BODY), weigh(story_terms("UK and US lift steel tariffs", BODY), {}, 0), AT, [late],
        window=WINDOW, duplicate_threshold=0.8, story_threshold=0.35,
    )
    assert decision.kind == "new" and decision.reason == "new story" and decision.story_id is None
    unrelated = decide(
        text_signature(OTHER), weigh(story_terms("Whisky waits", OTHER), {}, 0), AT,
        [_indexed(1, 10, BODY, "UK and US lift steel tariffs")],
        window=WINDOW, duplicate_threshold=0.8, story_threshold=0.35,
    )
    assert unrelated.kind == "new"
