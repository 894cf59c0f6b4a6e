"""Watch topics: a readable query language, compiled once, matched fast, with evidence.

    from tasks.topics import load_topics, Document
    topics = load_topics(None)              # the shipped topics
    for match in topics.match(Document(title=..., body=...)):
        print(match.topic_id, match.score, match.evidence)

The language is documented in docs/topics.md.
"""

from tasks.topics.errors import TopicDefinitionError
from tasks.topics.explain import Explanation, render_explanation
from tasks.topics.loader import Rule, Topic, WeightedTerm
from tasks.topics.matcher import TopicSet, load_topics, shipped_topics_dir
from tasks.topics.model import Document, TopicMatch
from tasks.topics.query import parse_query

__all__ = [
    "Document",
    "Explanation",
    "Rule",
    "Topic",
    "TopicDefinitionError",
    "TopicMatch",
    "TopicSet",
    "WeightedTerm",
    "load_topics",
    "parse_query",
    "render_explanation",
    "shipped_topics_dir",
]
