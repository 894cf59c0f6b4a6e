"""Evaluating a parsed query on one document: places in the text, counts and evidence.

A document is split once into fields (title, body; the lead is the body's first
sentences) with a word index; each term is looked up once per document and cached, so
matching many topics costs little more than matching one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.topics.model import Document
from tasks.topics.query import And, AnyOf, InField, Near, Node, Not, Or, Sentence, Term, WordPattern
from tasks.topics.text import FieldText

SNIPPET_LIMIT = 400  # longest sentence quoted as evidence; longer ones are cut around the match


@dataclass(frozen=True)
class Hit:
    """Where a query part matched: a field, word spans (start, end exclusive) and the terms."""

    field: str  # "title" or "body" (the lead is part of the body)
    spans: tuple[tuple[int, int], ...]
    terms: tuple[str, ...]
    in_lead: bool = False

    @property
    def first(self) -> int:
        return min(s for s, _ in self.spans)

    @property
    def last(self) -> int:
        return max(e for _, e in self.spans)


@dataclass(frozen=True)
class Result:
    ok: bool
    hits: tuple[Hit, ...] = ()


FALSE = Result(False)
SCOPES = {"any": ("title", "body"), "title": ("title",), "body": ("body",), "lead": ("body",)}


def narrow(outer: str, inner: str) -> str | None:
    """The scope of ``inner:`` written inside ``outer:``; None when they cannot overlap."""
    if outer == "any" or outer == inner:
        return inner
    if {outer, inner} == {"body", "lead"}:
        return "lead"
    return None


class DocumentIndex:
    """One document, split and indexed, with a per-document cache of term places."""

    def __init__(self, doc: Document, prefix_lengths: frozenset[int] = frozenset()) -> None:
        self.doc = doc
        self.fields = {
            "title": FieldText.build("title", doc.title or ""),
            "body": FieldText.build("body", doc.body or ""),
        }
        self._lead_end = self.fields["body"].lead_end()
        self._terms: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._prefix_lengths = prefix_lengths
        self._prefixes: dict[str, dict[str, list[int]]] = {}

    # Words and terms ------------------------------------------------------------------

    def _prefix_positions(self, field: FieldText, prefix: str) -> list[int]:
        table = self._prefixes.get(field.name)
        if table is None:
            # One pass over the document's vocabulary serves every prefix of every topic.
            table = {}
            lengths = self._prefix_lengths
            for word, positions in field.index.items():
                for length in lengths if lengths else range(3, len(word) + 1):
                    if length <= len(word):
                        table.setdefault(word[:length], []).extend(positions)
            self._prefixes[field.name] = table
        found = table.get(prefix)
        if found is None and len(prefix) not in self._prefix_lengths:
            found = sorted(p for w, ps in field.index.items() if w.startswith(prefix) for p in ps)
            table[prefix] = found
        return found or []

    @staticmethod
    def _case_ok(pattern: WordPattern, word: str) -> bool:
        if not pattern.exact_case:
            return True
        if pattern.prefix:
            if word.startswith(pattern.text):
                return True
        elif word == pattern.text:
            return True
        # A shouted headline ("LABOUR STAFF…") still names Labour.
        return word.isupper() and len(word) > 3 and word.lower().startswith(pattern.text.lower())

    def _word_ok(self, pattern: WordPattern, field: FieldText, position: int) -> bool:
        lower = field.lowers[position]
        wanted = pattern.text.lower()
        if pattern.prefix:
            if not lower.startswith(wanted):
                return False
        elif lower != wanted:
            return False
        return self._case_ok(pattern, field.words[position])

    def term_spans(self, term: Term, field_name: str) -> list[tuple[int, int]]:
        key = (term.key, field_name)
        cached = self._terms.get(key)
        if cached is not None:
            return cached
        field = self.fields[field_name]
        first = term.words[0]
        if first.prefix:
            candidates = self._prefix_positions(field, first.text.lower())
        else:
            candidates = field.index.get(first.text.lower(), [])
        spans: list[tuple[int, int]] = []
        size = len(term.words)
        words = field.words
        for position in candidates:
            if first.exact_case and not self._case_ok(first, words[position]):
                continue
            if size > 1:
                if position + size > len(words):
                    continue
                if not all(
                    self._word_ok(term.words[k], field, position + k) for k in range(1, size)
                ):
                    continue
            spans.append((position, position + size))
        spans.sort()
        self._terms[key] = spans
        return spans

    # Queries --------------------------------------------------------------------------

    def evaluate(self, node: Node, scope: str = "any") -> Result:
        if isinstance(node, Term):
            return self._term(node, scope)
        if isinstance(node, AnyOf):
            hits: list[Hit] = []
            for term in node.terms:
                hits.extend(self._term(term, scope).hits)
            return Result(bool(hits), tuple(hits))
        if isinstance(node, And):
            hits = []
            for child in node.children:
                result = self.evaluate(child, scope)
                if not result.ok:
                    return FALSE
                hits.extend(result.hits)
            return Result(True, tuple(hits))
        if isinstance(node, Or):
            hits = []
            ok = False
            for child in node.children:
                result = self.evaluate(child, scope)
                if result.ok:
                    ok = True
                    hits.extend(result.hits)
            return Result(ok, tuple(hits))
        if isinstance(node, Not):
            return Result(not self.evaluate(node.child, scope).ok)
        if isinstance(node, InField):
            inner = narrow(scope, node.field)
            return FALSE if inner is None else self.evaluate(node.child, inner)
        if isinstance(node, Near):
            return self._near(node, scope)
        if isinstance(node, Sentence):
            return self._sentence(node, scope)
        raise TypeError(f"unresolved query part: {node!r}")  # group references are resolved at load

    def _term(self, term: Term, scope: str) -> Result:
        hits: list[Hit] = []
        for field_name in SCOPES[scope]:
            spans = self.term_spans(term, field_name)
            if scope == "lead":
                spans = [s for s in spans if s[0] < self._lead_end]
            lead = field_name == "body" and scope == "lead"
            hits.extend(Hit(field_name, (span,), (term.key,), lead) for span in spans)
        return Result(bool(hits), tuple(hits))

    def _near(self, node: Near, scope: str) -> Result:
        left = self.evaluate(node.left, scope)
        if not left.ok:
            return FALSE
        right = self.evaluate(node.right, scope)
        if not right.ok:
            return FALSE
        hits: list[Hit] = []
        for a in left.hits:
            for b in right.hits:
                if a.field != b.field:
                    continue
                gap = max(a.first, b.first) - min(a.last, b.last)
                if gap <= node.distance:
                    hits.append(Hit(a.field, a.spans + b.spans, a.terms + b.terms, a.in_lead))
        return Result(bool(hits), tuple(hits))

    def _sentence(self, node: Sentence, scope: str) -> Result:
        by_part: list[dict[tuple[str, int], list[Hit]]] = []
        for child in node.children:
            result = self.evaluate(child, scope)
            if not result.ok:
                return FALSE
            places: dict[tuple[str, int], list[Hit]] = {}
            for hit in result.hits:
                places.setdefault(self.sentence_key(hit), []).append(hit)
            by_part.append(places)
        common = set(by_part[0])
        for places in by_part[1:]:
            common &= set(places)
        hits = []
        for place in sorted(common):
            chosen = [places[place][0] for places in by_part]  # first of each part per sentence
            spans = tuple(s for hit in chosen for s in hit.spans)
            terms = tuple(t for hit in chosen for t in hit.terms)
            hits.append(Hit(place[0], spans, terms, chosen[0].in_lead))
        return Result(bool(hits), tuple(hits))

    # Counting and evidence ------------------------------------------------------------

    def sentence_key(self, hit: Hit) -> tuple[str, int]:
        if hit.field == "title":
            return ("title", 0)
        return (hit.field, self.fields[hit.field].sentence_of[hit.first])

    def count_sentences(self, hits: tuple[Hit, ...]) -> int:
        return len({self.sentence_key(hit) for hit in hits})

    def evidence(self, hit: Hit, rule: str, weight: float | None = None) -> dict[str, Any]:
        field = self.fields[hit.field]
        start = field.starts[hit.first]
        end = field.ends[hit.last - 1]
        if hit.field == "title":
            text_start, text_end = 0, len(field.text)
        else:
            text_start, text_end = field.sentence_span(field.sentence_of[hit.first])
            text_end = max(text_end, end)
        if text_end - text_start > SNIPPET_LIMIT:
            margin = max(0, (SNIPPET_LIMIT - (end - start)) // 2)
            text_start = max(text_start, start - margin)
            text_end = min(text_end, max(end, start + SNIPPET_LIMIT - margin))
        words = [field.text[field.starts[s] : field.ends[e - 1]] for s, e in sorted(hit.spans)]
        item: dict[str, Any] = {
            "text": field.text[text_start:text_end],
            "field": "lead" if hit.in_lead else hit.field,
            "start": start,
            "end": end,
            "match": field.text[start:end],
            "text_start": text_start,
            "rule": rule,
            "terms": list(dict.fromkeys(hit.terms)),
            "words": list(dict.fromkeys(words)),
        }
        if weight is not None:
            item["weight"] = weight
        return item
