"""Why a topic matched a document or not, term by term: a rendering of its :class:`TopicScore`.

Nothing here decides anything: the verdict, the score and the reasons come from
:func:`tasks.topics.scoring.score_topic`, the one place a topic decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tasks.topics.engine import DocumentIndex
from tasks.topics.query import And, AnyOf, DifferentOf, InField, Near, Node, Not, Or, Sentence, Term
from tasks.topics.scoring import RuleOutcome, TopicScore, rule_outcome

EVIDENCE_PER_RULE = 5


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
    learned: dict[str, Any] | None = None  # probability, threshold, top contributions
    evidence: list[dict[str, Any]] = field(default_factory=list)  # as an alert would carry it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        return render_explanation(self)


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


def _term_counts(node: Node, index: DocumentIndex) -> list[TermCount]:
    counts: dict[str, TermCount] = {}
    for term in leaf_terms(node):
        if term.key in counts:
            continue
        counts[term.key] = TermCount(
            term.key, len(index.term_spans(term, "title")), len(index.term_spans(term, "body"))
        )
    return list(counts.values())


def _sentences(hits: Any, index: DocumentIndex, rule: str, weight: float) -> list[dict[str, Any]]:
    seen: set[tuple[str, int]] = set()
    evidence = []
    for hit in hits:
        place = index.sentence_key(hit)
        if place not in seen:
            seen.add(place)
            evidence.append(index.evidence(hit, rule, weight))
        if len(evidence) >= EVIDENCE_PER_RULE:
            break
    return evidence


def _rule_explanation(outcome: RuleOutcome, index: DocumentIndex, kind: str) -> RuleExplanation:
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
        evidence=_sentences(outcome.hits, index, outcome.rule.name, outcome.rule.weight),
    )


def explain_score(scored: TopicScore, index: DocumentIndex) -> Explanation:
    """The explanation of a complete score (``score_topic(..., complete=True)``)."""
    topic = scored.topic
    exclusions = scored.exclusions or [rule_outcome(r, index) for r in topic.exclude]
    return Explanation(
        topic_id=topic.id,
        topic_name=topic.name,
        version=topic.version,
        matched=scored.matched,
        score=scored.score,
        min_score=scored.threshold,
        reasons=list(scored.reasons),
        rules=[_rule_explanation(o, index, "rule") for o in scored.rules],
        weighted_terms=[
            WeightedExplanation(
                w.term.written, w.term.weight, w.count, w.contribution + 0.0,
                _sentences(w.hits[:3], index, f"weighted term {w.term.written}", w.term.weight),
            )
            for w in scored.weighted
        ],
        exclusions=[_rule_explanation(o, index, "exclude") for o in exclusions],
        learned=scored.learned.to_dict() if scored.learned is not None else None,
        evidence=scored.evidence(index) if scored.matched else [],
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
    if e.learned is not None:
        lines += _render_learned(e.learned)
    if e.evidence:
        lines += ["", "Evidence, strongest first (as an alert carries it):"]
        for item in e.evidence:
            words = ", ".join(item.get("matched_words") or item.get("words") or [])
            lines.append(f"  {item.get('contribution', 0):>5g}  {item['rule']}: {_quote(item)}")
            if words:
                lines.append(f"         words found: {words}")
    return "\n".join(lines)


def _render_learned(learned: dict[str, Any]) -> list[str]:
    verdict = "accepts" if learned["accepted"] else "rejects"
    lines = [
        "",
        f"Learned layer v{learned['version']}: probability {learned['probability']:.2f},"
        f" threshold {learned['threshold']:.2f}: {verdict}",
        "  largest contributions (log-odds; + for the topic, - against):",
    ]
    for part in learned["contributions"]:
        lines.append(
            f"   {part['contribution']:+.2f}  {part['feature']}"
            f" (value {part['value']:.3g} x weight {part['weight']:+.3g})"
        )
    return lines
