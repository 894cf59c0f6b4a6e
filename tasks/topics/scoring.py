"""One topic's verdict on one document: the only place a topic decides.

:func:`score_topic` returns a :class:`TopicScore` holding everything the decision used:
the gates (language, source), each rule's outcome and contribution, the weighted terms,
the exclusions, the rules' score, and, for a topic with a learned layer, the features it
read and their contributions to its probability. The pipeline's matches, their evidence,
``topics explain`` and the evaluation all render this one object, so they cannot disagree.

How a topic decides (in this order; the first "no" ends it):

1. the document's language and source pass the topic's filters;
2. every required rule fired;
3. the rules' score reaches ``min_score`` (with a learned layer: its ``consult_from``);
4. no exclusion matched;
5. with a learned layer, its probability reaches its threshold, unless a ``decisive`` rule
   fired and the score reaches ``min_score``: then the rules decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tasks.topics.engine import DocumentIndex, Hit
from tasks.topics.loader import Rule, Topic, WeightedTerm
from tasks.topics.model import Document, language_code

if TYPE_CHECKING:
    from tasks.topics.learned import LearnedOutcome

MAX_EVIDENCE = 12  # per match: enough to explain, short enough for an email
HITS_PER_RULE = 3


@dataclass(frozen=True)
class RuleOutcome:
    """A rule (or exclusion) on one document: did it fire, how many times it counts."""

    rule: Rule
    fired: bool
    count: int
    hits: tuple[Hit, ...]

    @property
    def contribution(self) -> float:
        return self.rule.weight * self.count if self.fired else 0.0


@dataclass(frozen=True)
class WeightedOutcome:
    """A weighted term on one document: how many times it counts (capped)."""

    term: WeightedTerm
    count: int
    hits: tuple[Hit, ...]

    @property
    def contribution(self) -> float:
        return self.term.weight * self.count


@dataclass
class TopicScore:
    """Everything one topic's decision on one document used, and the decision."""

    topic: Topic
    matched: bool = False
    reasons: list[str] = field(default_factory=list)
    rules: list[RuleOutcome] = field(default_factory=list)
    weighted: list[WeightedOutcome] = field(default_factory=list)
    exclusions: list[RuleOutcome] = field(default_factory=list)
    rule_score: float = 0.0
    learned: LearnedOutcome | None = None
    complete: bool = True  # False when scoring stopped at the first "no" (the fast path)
    decided_by_rules: bool = False  # a decisive rule fired at min_score: the layer cannot veto

    @property
    def score(self) -> float:
        return round(self.rule_score, 3)

    @property
    def threshold(self) -> float:
        """The rules' score from which this topic can alert."""
        return self.topic.rules_threshold

    def contributions(self) -> list[tuple[str, float, tuple[Hit, ...], float]]:
        """(what, contribution, hits, weight) of each rule and term that counted, strongest first."""
        found = [(o.rule.name, o.contribution, o.hits, o.rule.weight) for o in self.rules if o.fired]
        found += [
            (f"weighted term {w.term.written}", w.contribution, w.hits, w.term.weight)
            for w in self.weighted if w.count
        ]
        return sorted(found, key=lambda item: -item[1])

    def evidence(self, index: DocumentIndex) -> list[dict[str, Any]]:
        """Evidence sentences, strongest contribution first; a sentence is quoted once."""
        evidence: list[dict[str, Any]] = []
        quoted: set[tuple[str, int]] = set()
        for name, contribution, hits, weight in self.contributions():
            if contribution <= 0:
                continue  # a rule that lowered the score is not a reason to alert
            taken = 0
            for hit in hits:
                place = index.sentence_key(hit)
                if place in quoted or not hit.spans:
                    continue
                quoted.add(place)
                item = index.evidence(hit, name, weight)
                item["contribution"] = round(contribution, 3)
                evidence.append(item)
                taken += 1
                if taken >= HITS_PER_RULE:
                    break
        return evidence[:MAX_EVIDENCE]


def describe_score(score: float, threshold: float) -> str:
    """The score against the threshold in words, for readers: "strong match: 10.5; alerts from 6".

    The strength is the score's ratio to the threshold, so it reads the same for topics
    whose weights differ in scale.
    """
    if threshold <= 0:
        return f"match: {score:g}"
    ratio = score / threshold
    if ratio < 1:
        strength = "below the threshold"
    elif ratio >= 1.5:
        strength = "strong match"
    elif ratio >= 1.15:
        strength = "clear match"
    else:
        strength = "narrow match"
    return f"{strength}: {round(score, 1):g}; alerts from {round(threshold, 1):g}"


# The gates ---------------------------------------------------------------------------


def source_allowed(topic: Topic, doc: Document) -> bool:
    """Whether the topic's ``sources_include``/``sources_exclude`` let the article through.

    Each feed that carried the article is weighed with the article's own URL: the article
    passes when at least one of them passes (that feed and the URL not excluded, and one
    of the two included when the topic lists includes). An excluded URL or host of the
    article itself therefore excludes it whatever carried it; a feed excluded by the topic
    does not hide an article another, allowed, feed carried too. A feed that carries the
    article later can only let it through, never withdraw an alert already made.
    """
    if not topic.sources_include and not topic.sources_exclude:
        return True
    carriers: tuple[str | None, ...] = doc.carriers or (None,)
    return any(_one_source_allowed(topic, carrier, doc.url) for carrier in carriers)


def _source_refused(doc: Document) -> str:
    """Why the topic's source filter kept the article out, naming what carried it."""
    if len(doc.carriers) > 1:
        return f"no source of {', '.join(doc.carriers)} is allowed by the topic's sources"
    return f"source {doc.source or doc.url!r} is excluded by the topic's sources"


def _one_source_allowed(topic: Topic, source: str | None, url: str | None) -> bool:
    places = [p.lower() for p in (source, url) if p]
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
    return language_code(doc.language) in topic.languages


# Scoring -----------------------------------------------------------------------------


def rule_outcome(rule: Rule, index: DocumentIndex) -> RuleOutcome:
    result = index.evaluate(rule.node)
    if not result.ok:
        return RuleOutcome(rule, False, 0, ())
    count = 1
    if rule.per_sentence and result.hits:
        count = min(index.count_sentences(result.hits), rule.max_count)
    return RuleOutcome(rule, True, count, result.hits)


def weighted_outcome(term: WeightedTerm, cap: int, index: DocumentIndex) -> WeightedOutcome:
    hits = index.evaluate(term.node).hits
    return WeightedOutcome(term, min(len(hits), cap), hits)


def score_topic(topic: Topic, index: DocumentIndex, complete: bool = False) -> TopicScore:
    """The topic's verdict on the indexed document.

    With ``complete=False`` (the pipeline) scoring stops at the first reason not to match;
    with ``complete=True`` (explain, evaluation reports) every part is worked out. The
    verdict is the same either way.
    """
    result = TopicScore(topic, complete=complete)
    doc = index.doc

    def stop(reason: str) -> bool:
        result.matched = False
        result.reasons.append(reason)
        return not complete  # True: the caller may return now

    language_reason = f"language {doc.language!r} is not one of {sorted(topic.languages or [])}"
    if not language_allowed(topic, doc) and stop(language_reason):
        return result
    if not source_allowed(topic, doc) and stop(_source_refused(doc)):
        return result
    blocked = bool(result.reasons)

    for rule in topic.rules:
        outcome = rule_outcome(rule, index)
        result.rules.append(outcome)
        if rule.required and not outcome.fired:
            blocked = True
            if stop(f"required rule {rule.name!r} did not match"):
                return result
    result.weighted = [weighted_outcome(w, topic.max_count_per_term, index) for w in topic.weighted_terms]
    result.rule_score = sum(o.contribution for o in result.rules) + sum(w.contribution for w in result.weighted)

    threshold = topic.rules_threshold
    if result.rule_score < threshold:
        blocked = True
        if stop(f"score {result.score:g} is below the threshold {threshold:g}"):
            return result

    for rule in topic.exclude:
        outcome = rule_outcome(rule, index)
        if complete or outcome.fired:
            result.exclusions.append(outcome)
        if outcome.fired:
            blocked = True
            words = ", ".join(index.evidence(outcome.hits[0], rule.name)["words"]) if outcome.hits else ""
            if stop(f"exclusion {rule.name!r} matched" + (f" ({words})" if words else "")):
                return result

    decisive = [o.rule.name for o in result.rules if o.fired and o.rule.decisive]
    result.decided_by_rules = bool(decisive) and result.rule_score >= topic.min_score
    if topic.learned is not None and (complete or not blocked):
        result.learned = topic.learned.assess(topic, index, result)
        if not result.learned.accepted and not result.decided_by_rules:
            blocked = True
            if stop(
                f"the learned layer gives {result.learned.probability:.2f},"
                f" below its threshold {result.learned.threshold:.2f}"
            ):
                return result

    if blocked:
        return result
    result.matched = True
    fired = [o.rule.name for o in result.rules if o.fired] + [w.term.written for w in result.weighted if w.count]
    reason = f"score {result.score:g} reaches the threshold {threshold:g} ({', '.join(fired)})"
    if result.learned is not None:
        reason += (
            f"; the learned layer gives {result.learned.probability:.2f}"
            f" (threshold {result.learned.threshold:.2f})"
        )
        if result.decided_by_rules and not result.learned.accepted:
            reason += f", but the decisive rule {decisive[0]!r} fired, so the rules decide"
    result.reasons.append(reason)
    return result
