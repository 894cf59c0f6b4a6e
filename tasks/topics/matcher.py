"""A compiled set of topics: load once per pass, then match documents quickly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasks.topics.engine import DocumentIndex, Hit
from tasks.topics.errors import TopicDefinitionError
from tasks.topics.loader import Rule, Topic, read_topics, read_yaml, split_file
from tasks.topics.model import Document, TopicMatch
from tasks.topics.query import And, AnyOf, DifferentOf, InField, Near, Node, Not, Or, Sentence, Term

MAX_EVIDENCE = 12  # per match: enough to explain, short enough for an email
HITS_PER_RULE = 3


def shipped_topics_dir() -> Path:
    import config

    return Path(config.__file__).parent / "topics"


def leaf_terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, AnyOf):
        return list(node.terms)
    if isinstance(node, And | Or | Sentence):
        return [t for c in node.children for t in leaf_terms(c)]
    if isinstance(node, Near):
        return leaf_terms(node.left) + leaf_terms(node.right)
    if isinstance(node, Not | InField):
        return leaf_terms(node.child)
    if isinstance(node, DifferentOf):
        return leaf_terms(node.group)
    return []


@dataclass
class RuleOutcome:
    rule: Rule
    fired: bool
    count: int
    hits: tuple[Hit, ...]

    @property
    def contribution(self) -> float:
        return self.rule.weight * self.count if self.fired else 0.0


def source_allowed(topic: Topic, doc: Document) -> bool:
    if not topic.sources_include and not topic.sources_exclude:
        return True
    places = [p.lower() for p in (doc.source, doc.url) if p]
    hosts = [urlsplit(p).hostname or p for p in places]

    def listed(entry: str) -> bool:
        if "/" in entry:  # a feed URL or URL prefix
            return any(p.startswith(entry) or p.split("://", 1)[-1].startswith(entry) for p in places)
        return any(h == entry or h.endswith("." + entry) for h in hosts)

    if any(listed(e) for e in topic.sources_exclude):
        return False
    return not topic.sources_include or any(listed(e) for e in topic.sources_include)


def language_allowed(topic: Topic, doc: Document) -> bool:
    if topic.languages is None or not doc.language:
        return True  # an unknown language is not a reason to miss an article
    return doc.language.strip().lower().split("-")[0].split("_")[0] in topic.languages


class TopicSet:
    """Topics compiled once; :meth:`match` returns the topics that fire on a document."""

    def __init__(self, topics: list[Topic]) -> None:
        self.topics = topics
        self._by_id = {t.id: t for t in topics}

    def __len__(self) -> int:
        return len(self.topics)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.topics)

    def get(self, topic_id: str) -> Topic:
        try:
            return self._by_id[topic_id]
        except KeyError:
            known = ", ".join(sorted(self._by_id)) or "none"
            raise KeyError(f"no topic {topic_id!r} (known: {known})") from None

    def index(self, doc: Document) -> DocumentIndex:
        return DocumentIndex(doc)

    def match(self, doc: Document) -> list[TopicMatch]:
        index = self.index(doc)
        matches = []
        for topic in self.topics:
            found = self._match_topic(topic, index)
            if found is not None:
                matches.append(found)
        return matches

    # Scoring --------------------------------------------------------------------------

    @staticmethod
    def rule_outcome(rule: Rule, index: DocumentIndex) -> RuleOutcome:
        result = index.evaluate(rule.node)
        if not result.ok:
            return RuleOutcome(rule, False, 0, ())
        count = 1
        if rule.per_sentence and result.hits:
            count = min(index.count_sentences(result.hits), rule.max_count)
        return RuleOutcome(rule, True, count, result.hits)

    @staticmethod
    def weighted_counts(topic: Topic, index: DocumentIndex) -> list[tuple[Any, int, tuple[Hit, ...]]]:
        counted = []
        for weighted in topic.weighted_terms:
            hits = index.evaluate(weighted.node).hits
            counted.append((weighted, min(len(hits), topic.max_count_per_term), hits))
        return counted

    def _match_topic(self, topic: Topic, index: DocumentIndex) -> TopicMatch | None:
        if not language_allowed(topic, index.doc) or not source_allowed(topic, index.doc):
            return None
        outcomes = []
        for rule in topic.rules:
            outcome = self.rule_outcome(rule, index)
            if rule.required and not outcome.fired:
                return None
            outcomes.append(outcome)
        counted = self.weighted_counts(topic, index)
        score = sum(o.contribution for o in outcomes) + sum(w.weight * n for w, n, _ in counted)
        if score < topic.min_score:
            return None
        if any(index.evaluate(rule.node).ok for rule in topic.exclude):
            return None
        return TopicMatch(topic.id, round(score, 3), topic.version, self._evidence(index, outcomes, counted))

    @staticmethod
    def _evidence(
        index: DocumentIndex, outcomes: list[RuleOutcome], counted: list[tuple[Any, int, tuple[Hit, ...]]]
    ) -> list[dict[str, Any]]:
        evidence: list[dict[str, Any]] = []
        for outcome in sorted(outcomes, key=lambda o: -o.contribution):
            if not outcome.fired:
                continue
            seen: set[tuple[str, int]] = set()
            for hit in outcome.hits:
                place = index.sentence_key(hit)
                if place in seen or not hit.spans:
                    continue
                seen.add(place)
                evidence.append(index.evidence(hit, outcome.rule.name, outcome.rule.weight))
                if len(seen) >= HITS_PER_RULE:
                    break
        for weighted, count, hits in sorted(counted, key=lambda c: -abs(c[0].weight * c[1])):
            if count and hits:
                evidence.append(index.evidence(hits[0], f"weighted term {weighted.written}", weighted.weight))
        return evidence[:MAX_EVIDENCE]

    def explain(self, doc: Document, topic_id: str):  # type: ignore[no-untyped-def]
        from tasks.topics.explain import explain_topic

        return explain_topic(self, self.get(topic_id), doc)


# Loading ----------------------------------------------------------------------------


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _shipped_group_layers() -> list[tuple[dict[str, Any], str]]:
    layers = []
    folder = shipped_topics_dir()
    if folder.is_dir():
        for path in _yaml_files(folder):
            topics, groups = split_file(read_yaml(path), str(path))
            if groups and not topics:
                layers.append((groups, str(path)))
    return layers


def _read_paths(files: Iterable[Path]) -> TopicSet:
    entries = []
    folder_groups: list[tuple[dict[str, Any], str]] = []
    for path in files:
        topics, groups = split_file(read_yaml(path), str(path))
        if topics:
            entries.append((topics, str(path), groups))
        elif groups:
            folder_groups.append((groups, str(path)))
    shipped = [layer for layer in _shipped_group_layers() if layer[1] not in {o for _, o in folder_groups}]
    return TopicSet(read_topics(entries, folder_groups + shipped))


def load_topics(spec: str | Path | list[Any] | None, base_dir: Path | None = None) -> TopicSet:
    """Topics from ``spec``: None (the shipped ones), a file or folder path, or inline dicts.

    Raises :class:`TopicDefinitionError` with file, topic and position for any problem.
    """
    if spec is None:
        return _read_paths(_yaml_files(shipped_topics_dir()))
    if isinstance(spec, list):
        return TopicSet(read_topics([(spec, "config: topics", {})], _shipped_group_layers()))
    if not isinstance(spec, str | Path) or not str(spec).strip():
        raise TopicDefinitionError("topics: expected a file or folder path, or a list of topics")
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if path.is_dir():
        files = _yaml_files(path)
        if not files:
            raise TopicDefinitionError("no .yaml topic files in this folder", file=str(path))
        return _read_paths(files)
    if not path.exists():
        raise TopicDefinitionError("no such file or folder", file=str(path))
    # A single file still sees the group files beside it.
    siblings = [p for p in _yaml_files(path.parent) if p != path] if path.parent.is_dir() else []
    group_files = []
    for sibling in siblings:
        try:
            topics, groups = split_file(read_yaml(sibling), str(sibling))
        except TopicDefinitionError:
            continue  # a broken neighbour is that file's problem, reported when it is loaded
        if groups and not topics:
            group_files.append(sibling)
    return _read_paths([path, *group_files])


def check_group_file(path: Path) -> int:
    """Resolve every group a file defines (so `topics check groups.yaml` finds bad entries)."""
    from tasks.topics.loader import GroupTable

    _, groups = split_file(read_yaml(path), str(path))
    table = GroupTable([(groups, str(path)), *_shipped_group_layers()])
    for name in groups:
        table.resolve(name)
    return len(groups)
