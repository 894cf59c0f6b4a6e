"""A compiled set of topics: load once per pass, then match documents quickly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tasks.topics.engine import DocumentIndex
from tasks.topics.errors import TopicDefinitionError
from tasks.topics.loader import Topic, read_topics, read_yaml, split_file
from tasks.topics.model import Document, TopicMatch
from tasks.topics.scoring import TopicScore, score_topic


def shipped_topics_dir() -> Path:
    import config

    return Path(config.__file__).parent / "topics"


class TopicSet:
    """Topics compiled once; :meth:`match` returns the topics that fire on a document."""

    def __init__(self, topics: list[Topic]) -> None:
        self.topics = topics
        self._by_id = {t.id: t for t in topics}

    def __len__(self) -> int:
        return len(self.topics)

    def __iter__(self) -> Iterator[Topic]:
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
        """The topics that fire on ``doc``, each with its score, version and evidence."""
        index = self.index(doc)
        matches = []
        for topic in self.topics:
            scored = score_topic(topic, index)
            if scored.matched:
                matches.append(to_match(scored, index))
        return matches

    def score(self, doc: Document, topic_id: str) -> tuple[TopicScore, DocumentIndex]:
        """One topic's complete score on ``doc`` (every part worked out), with the index."""
        index = self.index(doc)
        return score_topic(self.get(topic_id), index, complete=True), index

    def explain(self, doc: Document, topic_id: str) -> Any:
        from tasks.topics.explain import explain_score

        scored, index = self.score(doc, topic_id)
        return explain_score(scored, index)


def to_match(scored: TopicScore, index: DocumentIndex) -> TopicMatch:
    topic = scored.topic
    learned = scored.learned.to_dict() if scored.learned is not None else None
    return TopicMatch(topic.id, scored.score, topic.version, scored.evidence(index), learned, scored.threshold)


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
        return TopicSet(read_topics([(spec, "config: topics", {})], _shipped_group_layers(), base_dir))
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
