"""Why a topic matched a document or not, term by term, as data and as plain text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasks.topics.engine import DocumentIndex
from tasks.topics.loader import Topic
from tasks.topics.matcher import RuleOutcome, language_allowed, leaf_terms, source_allowed
from tasks.topics.model import Document

if TYPE_CHECKING:
    from tasks.topics.matcher import TopicSet


@dataclass
class TermCount:
    term: str
    title: int
    body: int


@dataclass
class RuleExplanation:
    name: str
    query: str
    kind: str  # rule | exclude
    fired: bool
    weight: float
    count: int
    contribution: float
    required: bool
    terms: list[TermCount]
    evidence: list[dict[str, Any]]


@dataclass
class WeightedExplanation:
    term: str
    weight: float
    count: int
    contribution: float
    evidence: list[dict[str, Any]]


@dataclass
class Explanation:
    topic_id: str
    topic_name: str
    version: str
    matched: bool
    score: float
    min_score: float
    reasons: list[str]
    rules: list[RuleExplanation] = field(default_factory=list)
    weighted_terms: list[WeightedExplanation] = field(default_factory=list)
    exclusions: list[RuleExplanation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def render(self) -> str:
        return render_explanation(self)


def _term_counts(node: Any, index: DocumentIndex) -> list[TermCount]:
    counts: dict[str, TermCount] = {}
    for term in leaf_terms(node):
        if term.key in counts:
            continue
        counts[term.key] = TermCount(
            term.key, len(index.term_spans(term, "title")), len(index.term_spans(term, "body"))
        )
    return list(counts.values())


def _rule_explanation(outcome: RuleOutcome, index: DocumentIndex, kind: str) -> RuleExplanation:
    seen: set[tuple[str, int]] = set()
    evidence = []
    for hit in outcome.hits:
        place = index.sentence_key(hit)
        if place not in seen:
            seen.add(place)
            evidence.append(index.evidence(hit, outcome.rule.name, outcome.rule.weight))
        if len(evidence) >= 5:
            break
    return RuleExplanation(
        name=outcome.rule.name,
        query=outcome.rule.query,
        kind=kind,
        fired=outcome.fired,
        weight=outcome.rule.weight,
        count=outcome.count,
        contribution=outcome.contribution + 0.0,
        required=outcome.rule.required,
        terms=_term_counts(outcome.rule.node, index),
        evidence=evidence,
    )


def explain_topic(topic_set: TopicSet, topic: Topic, doc: Document) -> Explanation:
    index = topic_set.index(doc)
    reasons: list[str] = []
    rules = [_rule_explanation(topic_set.rule_outcome(r, index), index, "rule") for r in topic.rules]
    weighted = [
        WeightedExplanation(
            w.written, w.weight, n, w.weight * n + 0.0,
            [index.evidence(h, f"weighted term {w.written}", w.weight) for h in hits[:3]],
        )
        for w, n, hits in topic_set.weighted_counts(topic, index)
    ]
    exclusions = [_rule_explanation(topic_set.rule_outcome(r, index), index, "exclude") for r in topic.exclude]
    score = round(sum(r.contribution for r in rules) + sum(w.contribution for w in weighted), 3)
    matched = True
    if not language_allowed(topic, doc):
        matched = False
        reasons.append(f"language {doc.language!r} is not one of {sorted(topic.languages or [])}")
    if not source_allowed(topic, doc):
        matched = False
        reasons.append(f"source {doc.source or doc.url!r} is excluded by the topic's sources")
    for rule in rules:
        if rule.required and not rule.fired:
            matched = False
            reasons.append(f"required rule {rule.name!r} did not match")
    if score < topic.min_score:
        matched = False
        reasons.append(f"score {score:g} is below the threshold {topic.min_score:g}")
    for rule in exclusions:
        if rule.fired:
            matched = False
            words = ", ".join(rule.evidence[0]["words"]) if rule.evidence else ""
            reasons.append(f"exclusion {rule.name!r} matched" + (f" ({words})" if words else ""))
    if matched:
        fired = [r.name for r in rules if r.fired] + [w.term for w in weighted if w.count]
        reasons.append(
            f"score {score:g} reaches the threshold {topic.min_score:g} ({', '.join(fired)})"
        )
    return Explanation(
        topic_id=topic.id, topic_name=topic.name, version=topic.version, matched=matched,
        score=score, min_score=topic.min_score, reasons=reasons, rules=rules,
        weighted_terms=weighted, exclusions=exclusions,
    )


def _quote(item: dict[str, Any]) -> str:
    text = " ".join(item["text"].split())
    match = " ".join(item["match"].split())
    if match and match in text:
        text = text.replace(match, f"[{match}]", 1)
    return f'{item["field"]} @{item["start"]}-{item["end"]}: "{text}"'


def render_explanation(explanation: Explanation) -> str:
    """A plain-text report for a terminal: verdict first, then each rule and term."""
    e = explanation
    verdict = "MATCHES" if e.matched else "does not match"
    lines = [
        f"{e.topic_id} ({e.topic_name}) version {e.version}: {verdict}",
        f"score {e.score:g} / threshold {e.min_score:g}",
    ]
    lines += [f"  - {reason}" for reason in e.reasons]
    for title, items in (("Rules", e.rules), ("Exclusions", e.exclusions)):
        if not items:
            continue
        lines += ["", f"{title}:"]
        for rule in items:
            mark = "+" if rule.fired else "-"
            extra = " (required)" if rule.required else ""
            if rule.kind == "rule":
                extra += f"  weight {rule.weight:g} x {rule.count} = {rule.contribution:g}"
            lines.append(f" {mark} {rule.name}{extra}: {'matched' if rule.fired else 'no match'}")
            lines.append(f"     query: {rule.query}")
            found = [t for t in rule.terms if t.title or t.body]
            missing = [t.term for t in rule.terms if not (t.title or t.body)]
            if found:
                lines.append(
                    "     found: " + ", ".join(f"{t.term} (title {t.title}, body {t.body})" for t in found)
                )
            if missing:
                shown = ", ".join(missing[:12]) + (f" … {len(missing) - 12} more" if len(missing) > 12 else "")
                lines.append(f"     absent: {shown}")
            for item in rule.evidence[:3]:
                lines.append(f"     > {_quote(item)}")
    if e.weighted_terms:
        lines += ["", "Weighted terms:"]
        for w in e.weighted_terms:
            mark = "+" if w.count else "-"
            lines.append(f" {mark} {w.term}: weight {w.weight:g} x {w.count} = {w.contribution:g}")
            for item in w.evidence[:1]:
                lines.append(f"     > {_quote(item)}")
    return "\n".join(lines)
