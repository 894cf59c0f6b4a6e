"""Near-duplicate fingerprints and incremental story clustering (pure; no database, no Prefect).

- :mod:`tasks.stories.fingerprint`: MinHash signatures of bodies, LSH band keys, containment.
- :mod:`tasks.stories.terms`: weighted headline+lead terms, TF-IDF vectors, cosine.
- :mod:`tasks.stories.cluster`: the decision for one new article, with its reason.

The database side (candidates from an index over recent articles, the Story rows) is
:mod:`tasks.stories.assign`. Design and measured thresholds: docs/stories.md.
"""

from tasks.stories.cluster import Decision, IndexedArticle, decide, same_url_decision
from tasks.stories.fingerprint import (
    TextSignature,
    band_keys,
    duplicate_similarity,
    fingerprint64,
    is_same_article_update,
    text_signature,
)
from tasks.stories.terms import cosine, index_terms, story_terms, term_key, weigh

__all__ = [
    "Decision",
    "IndexedArticle",
    "TextSignature",
    "band_keys",
    "cosine",
    "decide",
    "duplicate_similarity",
    "fingerprint64",
    "index_terms",
    "is_same_article_update",
    "same_url_decision",
    "story_terms",
    "term_key",
    "text_signature",
    "weigh",
]
