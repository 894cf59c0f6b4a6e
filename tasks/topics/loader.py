"""Reading topic definitions from YAML (files, folders or inline lists) into :class:`Topic`.

Shapes accepted in a file: one topic (a mapping with ``id``), a list of topics, a mapping
with ``topics:`` (and optional ``groups:``), or a groups-only file (``groups:`` alone),
whose groups every topic in the same folder may use. The shipped group library
(config/topics/groups.yaml) is always available, after a topic's own and its folder's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tasks.topics.errors import TopicDefinitionError
from tasks.topics.features import MEASURES
from tasks.topics.learned import LearnedLayer
from tasks.topics.model import language_code
from tasks.topics.query import (
    And,
    AnyOf,
    DifferentOf,
    GroupRef,
    InField,
    Near,
    Node,
    Not,
    Or,
    Sentence,
    Term,
    parse_query,
    parse_term,
    render,
)

TOPIC_KEYS = {
    "id": "a short name like uk-us-relations",
    "name": "the title shown in alerts",
    "description": "what the topic is about, for people",
    "languages": "a list of language codes, like [en]",
    "sources": "include: / exclude: lists of hosts or feed URLs",
    "groups": "named lists of terms used as @name",
    "match": "one query that makes the topic fire",
    "rules": "a list of named queries with weights",
    "weighted_terms": "a mapping of term or query to weight",
    "max_count_per_term": "how many times one weighted term counts (default 3)",
    "min_score": "the score at which the topic fires (default 1)",
    "exclude": "queries that stop the topic firing",
    "features": "named queries the learned layer measures (headline, lead, sentences, share)",
    "learned": "the learned layer's JSON file, beside the topic (see docs/topics.md)",
}
RULE_KEYS = {"name", "query", "weight", "required", "per_sentence", "max_count", "decisive"}
TOPIC_ID = re.compile(r"[a-z0-9][a-z0-9\-]{0,99}")
GROUP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
DEFAULT_MAX_COUNT = 5
FEATURE_SIDES = {"for": 1, "against": -1, "either": 0}


# Where a value came from in its YAML file ------------------------------------------


class LocatedStr(str):
    """A YAML string that remembers where it was written (1-based line and column)."""

    line: int | None = None
    column: int | None = None
    quoted: bool = False
    single_line: bool = True


# libyaml's parser when PyYAML was built with it (it reads topic files 5–7 × faster, and
# every command reads them); the same safe constructor either way.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LocatingLoader(_BaseLoader):  # type: ignore[valid-type,misc]  # a base chosen at import time
    pass


def _construct_located_str(loader: _LocatingLoader, node: yaml.ScalarNode) -> LocatedStr:
    value = LocatedStr(loader.construct_scalar(node))
    value.line = node.start_mark.line + 1
    value.column = node.start_mark.column + 1
    value.quoted = node.style in ("'", '"')
    value.single_line = node.style in (None, "", "'", '"') and node.start_mark.line == node.end_mark.line
    return value


_LocatingLoader.add_constructor("tag:yaml.org,2002:str", _construct_located_str)


def read_yaml(path: Path) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TopicDefinitionError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicDefinitionError(f"cannot read: {exc}", file=str(path)) from None
    try:
        return yaml.load(raw, Loader=_LocatingLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise TopicDefinitionError(
            f"not valid YAML: {problem}",
            file=str(path),
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None


def _line_of(value: Any) -> int | None:
    return getattr(value, "line", None)


# The compiled topic ----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    query: str
    node: Node
    weight: float = 1.0
    required: bool = False
    # With a learned layer: when this rule fires and the score reaches min_score, the
    # rules decide and the layer cannot hold the topic back (a headline that names the
    # subject is the subject; a kind of story the labelled set rarely shows stays found).
    decisive: bool = False
    per_sentence: bool = False
    max_count: int = DEFAULT_MAX_COUNT


@dataclass(frozen=True)
class WeightedTerm:
    written: str
    node: Node
    weight: float


@dataclass
class Topic:
    id: str
    name: str
    description: str
    version: str
    rules: list[Rule]
    weighted_terms: list[WeightedTerm]
    exclude: list[Rule]
    min_score: float = 1.0
    max_count_per_term: int = 3
    languages: frozenset[str] | None = None
    sources_include: tuple[str, ...] = ()
    sources_exclude: tuple[str, ...] = ()
    file: str | None = None
    definition: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Node] = field(default_factory=dict)
    # The side a feature's evidence is on: +1 for the topic, -1 against it, 0 either.
    feature_sides: dict[str, int] = field(default_factory=dict)
    learned: LearnedLayer | None = None

    @property
    def rules_threshold(self) -> float:
        """The rules' score from which the topic can alert: ``min_score``, or, with a learned
        layer, the score from which the layer is consulted (it then decides)."""
        return self.learned.consult_from if self.learned is not None else self.min_score

    def feature_names(self) -> set[str]:
        """Every feature a learned layer may weigh for this topic."""
        names = {"rules.score"} | {f"rule:{r.name}" for r in self.rules}
        return names | {f"{name}.{m}" for name in self.features for m in MEASURES}

    def side_of(self, feature: str) -> int:
        """+1: may only count for the topic; -1: only against it; 0: either way.

        The editor says which side a feature query is on; a rule's side is the sign of its
        weight, and the rules' score counts for the topic. The learned layer only learns how
        much each counts, so a kind of story the labelled set rarely shows (consultants,
        donations) is never held against the topic because of an accident of that set.
        """
        if feature == "rules.score":
            return 1
        if feature.startswith("rule:"):
            rule = next((r for r in self.rules if r.name == feature[5:]), None)
            return 0 if rule is None else (1 if rule.weight > 0 else -1)
        return self.feature_sides.get(feature.rsplit(".", 1)[0], 0)


# Groups ----------------------------------------------------------------------------


class GroupTable:
    """Named term lists, looked up in layers: the topic's, its file's, its folder's, shipped."""

    def __init__(self, layers: list[tuple[dict[str, Any], str]]) -> None:
        self.layers = layers  # (raw groups, file they came from), first wins
        self._resolved: dict[str, AnyOf] = {}

    def raw(self, name: str) -> tuple[Any, str] | None:
        for groups, origin in self.layers:
            if name in groups:
                return groups[name], origin
        return None

    def names(self) -> list[str]:
        return sorted({name for groups, _ in self.layers for name in groups})

    def resolve(self, name: str, chain: tuple[str, ...] = ()) -> AnyOf:
        if name in self._resolved:
            return self._resolved[name]
        if name in chain:
            raise TopicDefinitionError(
                "groups refer to each other in a circle: @" + " -> @".join((*chain, name))
            )
        found = self.raw(name)
        if found is None:
            known = ", ".join("@" + n for n in self.names()) or "none defined"
            raise TopicDefinitionError(f"unknown group @{name} (known groups: {known})")
        items, origin = found
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items:
            raise TopicDefinitionError(
                "a group is a list of words or phrases", where=f"group @{name}", file=origin,
                line=_line_of(items),
            )
        terms: dict[str, Term] = {}
        entry_of: dict[str, int] = {}
        next_entry = 0
        for item in items:
            # A list entry ([France, French]) is several forms of one name.
            one_name = isinstance(item, list)
            forms = item if one_name and item else [item]
            if not all(isinstance(form, str) for form in forms):
                raise TopicDefinitionError(
                    "group entries are words or phrases in quotes or plain, or a list of"
                    f" the forms of one name like [France, French]; found {item!r}",
                    file=origin, where=f"group @{name}",
                )
            entry = next_entry
            next_entry += 1
            for form in forms:
                written = form.strip()
                try:
                    if written.startswith("@"):
                        included = self.resolve(written[1:].replace("-", "_"), chain + (name,))
                        # An included group's entries stay different names (unless listed as one).
                        offset = next_entry
                        for term in included.terms:
                            sub = included.entry_of[term.key]
                            terms.setdefault(term.key, term)
                            entry_of.setdefault(term.key, entry if one_name else offset + sub)
                        if not one_name:
                            next_entry = offset + len(included.terms)
                    else:
                        term = parse_term(written)
                        terms.setdefault(term.key, term)
                        entry_of.setdefault(term.key, entry)
                except TopicDefinitionError as exc:
                    raise exc.located(file=origin, where=f"group @{name}", line=_line_of(form)) from None
        resolved = AnyOf(name, tuple(terms.values()), tuple(entry_of[k] for k in terms))
        self._resolved[name] = resolved
        return resolved


def _check_groups(raw: Any, origin: str, topic: str | None = None) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TopicDefinitionError(
            "groups: expected a mapping of group name to a list of terms", file=origin, topic=topic
        )
    checked: dict[str, Any] = {}
    for name, items in raw.items():
        if not isinstance(name, str) or not GROUP_NAME.fullmatch(name.replace("-", "_")):
            raise TopicDefinitionError(
                f"group name {name!r} should be letters, digits and _ (like uk_actors)",
                file=origin, topic=topic, line=_line_of(name),
            )
        checked[name.replace("-", "_")] = items
    return checked


def resolve_groups(node: Node, groups: GroupTable) -> Node:
    """The query with every @group replaced by its terms."""
    if isinstance(node, GroupRef):
        try:
            return groups.resolve(node.name)
        except TopicDefinitionError as exc:
            err = exc.located()
            err.query_position = node.position
            raise err from None
    if isinstance(node, And):
        return And(tuple(resolve_groups(c, groups) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(resolve_groups(c, groups) for c in node.children))
    if isinstance(node, Sentence):
        return Sentence(tuple(resolve_groups(c, groups) for c in node.children))
    if isinstance(node, Not):
        return Not(resolve_groups(node.child, groups))
    if isinstance(node, Near):
        return Near(resolve_groups(node.left, groups), resolve_groups(node.right, groups), node.distance)
    if isinstance(node, InField):
        return InField(node.field, resolve_groups(node.child, groups))
    if isinstance(node, DifferentOf):
        return DifferentOf(node.count, resolve_groups(node.group, groups))  # type: ignore[arg-type]  # a resolved group is an AnyOf
    return node


def used_groups(node: Node) -> dict[str, list[str]]:
    """Resolved groups a query uses, with their terms (they are part of the version)."""
    found: dict[str, list[str]] = {}
    if isinstance(node, AnyOf):
        # Which forms make one entry matters to `n OF @group`, so it is part of the version.
        found[node.name] = [f"{t.key}#{node.entry_of[t.key]}" for t in node.terms]
    elif isinstance(node, And | Or | Sentence):
        for child in node.children:
            found.update(used_groups(child))
    elif isinstance(node, Near):
        found.update(used_groups(node.left))
        found.update(used_groups(node.right))
    elif isinstance(node, Not | InField):
        found.update(used_groups(node.child))
    elif isinstance(node, DifferentOf):
        found.update(used_groups(node.group))
    return found


# Topics ----------------------------------------------------------------------------


class _TopicReader:
    def __init__(self, raw: dict[str, Any], origin: str, groups: GroupTable, base_dir: Path | None = None) -> None:
        self.raw = raw
        self.origin = origin
        self.topic_id: str | None = None
        self.groups = groups
        # Files a topic names (its learned layer) are found beside the topic's own file.
        origin_path = Path(origin)
        self.base_dir = origin_path.parent if origin_path.is_file() else (base_dir or Path.cwd())

    def fail(self, detail: str, where: str | None = None, at: Any = None) -> TopicDefinitionError:
        return TopicDefinitionError(
            detail, file=self.origin, topic=self.topic_id, where=where, line=_line_of(at),
            column=getattr(at, "column", None),
        )

    def query(self, text: Any, where: str) -> Node:
        if not isinstance(text, str) or not text.strip():
            raise self.fail("expected a query (text), like: interfer* NEAR/10 election*", where, text)
        try:
            return resolve_groups(parse_query(text), self.groups)
        except TopicDefinitionError as exc:
            offset = getattr(exc, "query_position", None)
            line = _line_of(text)
            column = None
            if offset is not None and getattr(text, "single_line", False) and line is not None:
                # A single-line query is a located YAML string: it knows its column and quoting.
                column = (getattr(text, "column", None) or 1) + offset + (1 if getattr(text, "quoted", False) else 0)
            elif offset is not None:
                where = f"{where}, character {offset + 1} of the query"
            raise exc.located(
                file=self.origin, topic=self.topic_id, where=where, line=line, column=column
            ) from None

    def term(self, text: Any, where: str) -> Node:
        """A word, phrase (no quotes needed) or @group, as in a group list."""
        if not isinstance(text, str) or not text.strip():
            raise self.fail("expected a word, phrase or @group", where, text)
        written = text.strip()
        try:
            if written.startswith("@"):
                return self.groups.resolve(written[1:].replace("-", "_"))
            return parse_term(written)
        except TopicDefinitionError as exc:
            raise exc.located(file=self.origin, topic=self.topic_id, where=where, line=_line_of(text)) from None

    def number(self, value: Any, key: str, where: str | None = None, minimum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key}: expected a number, found {value!r}", where, value)
        if minimum is not None and value < minimum:
            raise self.fail(f"{key}: must be at least {minimum}, found {value}", where, value)
        return float(value)

    def flag(self, value: Any, key: str, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(f"{key}: expected true or false, found {value!r}", where, value)
        return value

    def rule(self, raw: Any, index: int, kind: str) -> Rule:
        where = f"{kind}[{index + 1}]"
        if isinstance(raw, str):
            return Rule(name=f"{kind} {index + 1}", query=str(raw).strip(), node=self.query(raw, where))
        if not isinstance(raw, dict):
            raise self.fail("expected a query or a mapping with name: and query:", where)
        unknown = sorted(set(map(str, raw)) - RULE_KEYS)
        if unknown:
            raise self.fail(
                f"unknown key {unknown[0]!r}: a rule has {', '.join(sorted(RULE_KEYS))}", where, unknown[0]
            )
        name = raw.get("name", f"{kind} {index + 1}")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("name: expected text", where, name)
        where = f"{kind} {name!r}"
        if "query" not in raw:
            raise self.fail("missing query:", where)
        node = self.query(raw["query"], where)
        weight = self.number(raw.get("weight", 1.0), "weight", where)
        max_count = raw.get("max_count", DEFAULT_MAX_COUNT)
        if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 1:
            raise self.fail(f"max_count: expected a whole number of at least 1, found {max_count!r}", where, max_count)
        return Rule(
            name=str(name).strip(),
            query=str(raw["query"]).strip(),
            node=node,
            weight=weight,
            required=self.flag(raw.get("required", False), "required", where),
            decisive=self.flag(raw.get("decisive", False), "decisive", where),
            per_sentence=self.flag(raw.get("per_sentence", False), "per_sentence", where),
            max_count=max_count,
        )

    def read(self) -> Topic:
        raw = self.raw
        topic_id = self.identify(raw)
        rules = self.rules(raw)
        weighted = self.weighted_terms(raw.get("weighted_terms") or {})
        exclude = self.excludes(raw.get("exclude") or [])

        if not rules and not weighted:
            raise self.fail("a topic needs match:, rules: or weighted_terms: to say what it matches")
        min_score = self.number(raw.get("min_score", 1.0), "min_score", minimum=0.000001)
        max_count_per_term = raw.get("max_count_per_term", 3)
        if isinstance(max_count_per_term, bool) or not isinstance(max_count_per_term, int) or max_count_per_term < 1:
            raise self.fail("max_count_per_term: expected a whole number of at least 1", at=max_count_per_term)

        languages = self.languages(raw.get("languages"))
        include, exclude_sources = self.sources(raw.get("sources"))
        features, feature_sides = self.features(raw.get("features"))

        name = raw.get("name", topic_id)
        description = raw.get("description", "")
        if not isinstance(name, str) or not isinstance(description, str):
            raise self.fail("name: and description: are text")
        definition: dict[str, Any] = {
            "id": topic_id,
            "rules": [
                {"name": r.name, "query": r.query, "weight": r.weight, "required": r.required, "decisive": r.decisive,
                 "per_sentence": r.per_sentence, "max_count": r.max_count} for r in rules
            ],
            "weighted_terms": {w.written: w.weight for w in weighted},
            "exclude": [{"name": r.name, "query": r.query} for r in exclude],
            "min_score": min_score,
            "max_count_per_term": max_count_per_term,
            "languages": sorted(languages) if languages else None,
            "sources": {"include": list(include), "exclude": list(exclude_sources)},
            "groups": {},
        }
        if features:
            definition["features"] = {
                name: [feature_sides[name], render(node)] for name, node in features.items()
            }
        groups_used: dict[str, list[str]] = {}
        for node in [r.node for r in rules + exclude] + [w.node for w in weighted] + list(features.values()):
            groups_used.update(used_groups(node))
        definition["groups"] = dict(sorted(groups_used.items()))
        learned = self.learned_layer(raw.get("learned"))
        if learned is not None:
            definition["learned"] = learned.version
        version = hashlib.sha256(
            json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:12]
        topic = Topic(
            id=topic_id,
            name=str(name).strip(),
            description=" ".join(str(description).split()),
            version=version,
            rules=rules,
            weighted_terms=weighted,
            exclude=exclude,
            min_score=min_score,
            max_count_per_term=max_count_per_term,
            languages=languages,
            sources_include=include,
            sources_exclude=exclude_sources,
            file=self.origin,
            definition=definition,
            features=features,
            feature_sides=feature_sides,
            learned=learned,
        )
        if learned is not None:
            learned.check_features(topic.feature_names(), topic.id)
        return topic

    def identify(self, raw: dict[str, Any]) -> str:
        """The topic's id and keys checked; its own groups: layered over the shared ones."""
        topic_id = raw.get("id")
        if not isinstance(topic_id, str) or not TOPIC_ID.fullmatch(topic_id):
            raise self.fail(
                f"id: expected a short name of lowercase letters, digits and dashes (like uk-us-relations), found {topic_id!r}",
                at=topic_id,
            )
        self.topic_id = str(topic_id)
        unknown = sorted(set(map(str, raw)) - set(TOPIC_KEYS))
        if unknown:
            known = "; ".join(f"{k} ({v})" for k, v in TOPIC_KEYS.items())
            raise self.fail(f"unknown key {unknown[0]!r}; a topic has: {known}", at=unknown[0])
        local = _check_groups(raw.get("groups"), self.origin, self.topic_id)
        if local:
            self.groups = GroupTable([(local, self.origin), *self.groups.layers])
        return self.topic_id

    def rules(self, raw: dict[str, Any]) -> list[Rule]:
        """``match:`` (a rule named match) and ``rules:``, their names all different."""
        rules: list[Rule] = []
        if "match" in raw:
            rules.append(Rule(name="match", query=str(raw["match"]).strip(), node=self.query(raw["match"], "match")))
        raw_rules = raw.get("rules") or []
        if not isinstance(raw_rules, list):
            raise self.fail("rules: expected a list of rules", at=raw_rules)
        rules += [self.rule(item, n, "rule") for n, item in enumerate(raw_rules)]
        names = [r.name for r in rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise self.fail(f"rule name {repeated[0]!r} is used twice; rule names must differ")
        return rules

    def weighted_terms(self, raw_weighted: Any) -> list[WeightedTerm]:
        if not isinstance(raw_weighted, dict):
            raise self.fail("weighted_terms: expected a mapping of term to weight, like  interfer*: 2", at=raw_weighted)
        weighted: list[WeightedTerm] = []
        for written, weight in raw_weighted.items():
            where = f"weighted term {str(written)!r}"
            node = self.term(written, where)
            weighted.append(WeightedTerm(str(written).strip(), node, self.number(weight, "weight", where)))
        return weighted

    def excludes(self, raw_exclude: Any) -> list[Rule]:
        if isinstance(raw_exclude, str):
            raw_exclude = [raw_exclude]
        if not isinstance(raw_exclude, list):
            raise self.fail("exclude: expected a list of queries", at=raw_exclude)
        return [self.rule(item, n, "exclude") for n, item in enumerate(raw_exclude)]

    def languages(self, languages: Any) -> frozenset[str] | None:
        if languages is None:
            return None
        if isinstance(languages, str):
            languages = [languages]
        if not isinstance(languages, list) or not all(isinstance(x, str) and x.strip() for x in languages):
            raise self.fail("languages: expected a list of language codes, like [en, fr]", at=languages)
        return frozenset(language_code(x) for x in languages)

    def features(self, raw: Any) -> tuple[dict[str, Node], dict[str, int]]:
        """Feature queries, under ``for:``, ``against:`` or ``either:`` (see :meth:`Topic.side_of`)."""
        if raw is None:
            return {}, {}
        example = "for: {pair: SENTENCE(@uk, @us)}, against: {…}, either: {…}"
        if not isinstance(raw, dict) or set(map(str, raw)) - set(FEATURE_SIDES):
            raise self.fail(f"features: expected for:, against: and either: mappings of name to query, like  {example}", at=raw)
        features: dict[str, Node] = {}
        sides: dict[str, int] = {}
        for side_name, side in FEATURE_SIDES.items():
            named = raw.get(side_name) or {}
            if not isinstance(named, dict):
                raise self.fail(f"features.{side_name}: expected a mapping of name to query", at=named)
            for name, query in named.items():
                if not isinstance(name, str) or not GROUP_NAME.fullmatch(name):
                    raise self.fail(f"feature name {name!r} should be letters, digits and _ (like pair_in_title)", at=name)
                if name in features:
                    raise self.fail(f"feature {name!r} is named twice")
                features[str(name)] = self.query(query, f"feature {name!r}")
                sides[str(name)] = side
        return features, sides

    def learned_layer(self, raw: Any) -> LearnedLayer | None:
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail("learned: expected the file name of the topic's learned layer (JSON)", at=raw)
        path = Path(raw.strip()).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        assert self.topic_id is not None
        return LearnedLayer.load(path, self.topic_id)

    def sources(self, raw: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if raw is None:
            return (), ()
        if not isinstance(raw, dict) or set(map(str, raw)) - {"include", "exclude"}:
            raise self.fail("sources: expected include: and/or exclude: lists of hosts or feed URLs", at=raw)
        lists = []
        for key in ("include", "exclude"):
            value = raw.get(key) or []
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise self.fail(f"sources.{key}: expected a list of hosts or feed URLs", at=value)
            lists.append(tuple(v.strip().lower() for v in value))
        return lists[0], lists[1]


def split_file(data: Any, origin: str) -> tuple[list[Any], dict[str, Any]]:
    """(topic mappings, groups) from one file's YAML, whatever its shape."""
    if data is None:
        return [], {}
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict):
        if "id" in data:
            return [data], {}
        unknown = sorted(set(map(str, data)) - {"topics", "groups"})
        if unknown:
            raise TopicDefinitionError(
                f"unknown top-level key {unknown[0]!r}: a file holds one topic (with id:),"
                " a list of topics, or topics: and groups:",
                file=origin, line=_line_of(unknown[0]),
            )
        topics = data.get("topics") or []
        if not isinstance(topics, list):
            raise TopicDefinitionError("topics: expected a list of topics", file=origin)
        return topics, _check_groups(data.get("groups"), origin)
    raise TopicDefinitionError(
        "expected a topic (a mapping with id:), a list of topics, or topics: and groups:", file=origin
    )


def read_topics(
    entries: list[tuple[list[Any], str, dict[str, Any]]],
    shared: list[tuple[dict[str, Any], str]],
    base_dir: Path | None = None,
) -> list[Topic]:
    """Topics from (raw topics, origin, file groups) entries, with shared group layers."""
    topics: list[Topic] = []
    seen: dict[str, str] = {}
    for raw_topics, origin, file_groups in entries:
        layers = ([(file_groups, origin)] if file_groups else []) + shared
        for n, raw in enumerate(raw_topics):
            if not isinstance(raw, dict):
                raise TopicDefinitionError(
                    f"topic {n + 1}: expected a mapping with id:, name:, rules: …", file=origin
                )
            topic = _TopicReader(raw, origin, GroupTable(layers), base_dir).read()
            if topic.id in seen:
                raise TopicDefinitionError(
                    f"the id is already used by a topic in {seen[topic.id]}", file=origin, topic=topic.id
                )
            seen[topic.id] = origin
            topics.append(topic)
    return topics
