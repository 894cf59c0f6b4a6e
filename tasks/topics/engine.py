"""Evaluating a parsed query on one document: places in the text, counts and evidence.

A document is split once into fields (title, body; the lead is the body's first
sentences) with a word index; each term is looked up once per document and cached, so
matching many topics costs little more than matching one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, NamedTuple

from tasks.topics.model import Document
from tasks.topics.query import (
    And,
    AnyOf,
    DifferentOf,
    InField,
    Near,
    Node,
    Not,
    Or,
    Sentence,
    Term,
    WordPattern,
)
from tasks.topics.text import FieldText

SNIPPET_LIMIT = 400  # longest sentence quoted as evidence; longer ones are cut around the match


class Hit(NamedTuple):
    """Where a query part matched: a field, word spans (start, end exclusive) and the terms.

    A tuple, not a dataclass: documents dense with topic words produce thousands of these.
    """

    field: str  # "title" or "body" (the lead is part of the body)
    first: int  # first word position
    last: int  # one past the last word position
    spans: tuple[tuple[int, int], ...]
    terms: tuple[str, ...]
    in_lead: bool = False


def joined(field: str, parts: list[Hit] | tuple[Hit, ...], in_lead: bool) -> Hit:
    spans = tuple(s for hit in parts for s in hit.spans)
    return Hit(
        field, min(h.first for h in parts), max(h.last for h in parts), spans,
        tuple(t for hit in parts for t in hit.terms), in_lead,
    )


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

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.fields = {
            "title": FieldText.build("title", doc.title or ""),
            "body": FieldText.build("body", doc.body or ""),
        }
        self._lead: int | None = None
        self._terms: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._results: dict[tuple[int, str], Result] = {}
        self._groups: dict[tuple[str, str], Result] = {}
        self._different: dict[tuple[str, int, str], Result] = {}
        self._entries: dict[tuple[str, str], dict[tuple[str, int], dict[int, Hit]]] = {}
        self._body_sentences = self.fields["body"].sentence_of


    @property
    def lead_end(self) -> int:
        if self._lead is None:
            self._lead = self.fields["body"].lead_end()
        return self._lead

    # Words and terms ------------------------------------------------------------------

    def _prefix_positions(self, field: FieldText, prefix: str) -> list[int]:
        candidates = field.first_letters.get(prefix[:3])
        if not candidates:
            return []
        found: list[int] = []
        for word in candidates:
            if word.startswith(prefix):
                found.extend(field.index[word])
        return found

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

    def term_spans(self, term: Term, field_name: str) -> list[tuple[int, int]]:
        key = (term.key, field_name)
        cached = self._terms.get(key)
        if cached is not None:
            return cached
        field = self.fields[field_name]
        first = term.words[0]
        if first.prefix:
            candidates = sorted(self._prefix_positions(field, term.first_lower))
        else:
            candidates = field.index.get(term.first_lower, [])
        size = len(term.words)
        if size == 1 and not first.exact_case:
            spans = [(p, p + 1) for p in candidates]  # the common case, kept cheap
        else:
            spans = self._phrase_spans(term, field, candidates)
        self._terms[key] = spans
        return spans

    def _phrase_spans(self, term: Term, field: FieldText, candidates: list[int]) -> list[tuple[int, int]]:
        words, lowers = field.words, field.lowers
        size = len(term.words)
        first = term.words[0]
        rest = term.words[1:]
        spans: list[tuple[int, int]] = []
        for position in candidates:
            if first.exact_case and not self._case_ok(first, words[position]):
                continue
            if position + size > len(words):
                continue
            for offset, pattern in enumerate(rest, start=position + 1):
                lower = lowers[offset]
                if pattern.prefix:
                    if not lower.startswith(pattern.lower):
                        break
                elif lower != pattern.lower:
                    break
                if pattern.exact_case and not self._case_ok(pattern, words[offset]):
                    break
            else:
                spans.append((position, position + size))
        return spans

    # Queries --------------------------------------------------------------------------

    def evaluate(self, node: Node, scope: str = "any") -> Result:
        # Rules share groups and sub-queries: each is worked out once per document.
        key = (id(node), scope)
        cached = self._results.get(key)
        if cached is None:
            cached = self._evaluate(node, scope)
            self._results[key] = cached
        return cached

    def _evaluate(self, node: Node, scope: str) -> Result:
        if isinstance(node, Term):
            return self._term(node, scope)
        if isinstance(node, AnyOf):
            return self._any_of(node, scope)
        if isinstance(node, And):
            hits: list[Hit] = []
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
        if isinstance(node, DifferentOf):
            return self._different_of(node, scope)
        raise TypeError(f"unresolved query part: {node!r}")  # group references are resolved at load

    def _term(self, term: Term, scope: str) -> Result:
        hits: list[Hit] = []
        first_prefix = term.words[0].prefix
        first = term.first_lower
        for field_name in SCOPES[scope]:
            field = self.fields[field_name]
            # The common case: the word is not in this document at all.
            if first_prefix:
                if first[:3] not in field.first_letters:
                    continue
            elif first not in field.index:
                continue
            spans = self.term_spans(term, field_name)
            if scope == "lead":
                lead_end = self.lead_end
                spans = [s for s in spans if s[0] < lead_end]
            lead = field_name == "body" and scope == "lead"
            key = (term.key,)
            hits.extend([Hit(field_name, span[0], span[1], (span,), key, lead) for span in spans])
        return Result(bool(hits), tuple(hits))

    def _any_of(self, group: AnyOf, scope: str) -> Result:
        key = (group.fingerprint, scope)
        cached = self._groups.get(key)
        if cached is not None:
            return cached
        hits: list[Hit] = []
        lead_end = self.lead_end if scope == "lead" else None
        for field_name in SCOPES[scope]:
            field = self.fields[field_name]
            # Only the group's terms whose first word occurs in the document are looked at.
            terms = [t for word in group.first_words & field.index.keys() for t in group.by_first_word[word]]
            letters = field.first_letters
            terms += [t for t in group.prefix_terms if t.first_lower[:3] in letters]
            in_lead = lead_end is not None
            for term in terms:
                spans = self.term_spans(term, field_name)
                if not spans:
                    continue
                if lead_end is not None:
                    spans = [s for s in spans if s[0] < lead_end]
                terms_key = (term.key,)
                hits.extend([Hit(field_name, s[0], s[1], (s,), terms_key, in_lead) for s in spans])
        result = Result(bool(hits), tuple(hits))
        self._groups[key] = result
        return result

    def _near(self, node: Near, scope: str) -> Result:
        left = self.evaluate(node.left, scope)
        if not left.ok:
            return FALSE
        right = self.evaluate(node.right, scope)
        if not right.ok:
            return FALSE
        distance = node.distance
        by_field: dict[str, tuple[list[int], list[Hit], int]] = {}
        for field_name in {h.field for h in right.hits}:
            ordered = sorted((h for h in right.hits if h.field == field_name), key=lambda h: h.first)
            longest = max(h.last - h.first for h in ordered)
            by_field[field_name] = ([h.first for h in ordered], ordered, longest)
        hits: list[Hit] = []
        for a in left.hits:
            found = by_field.get(a.field)
            if found is None:
                continue
            firsts, ordered, longest = found
            # Only right-hand hits that start within reach of this one can be near it.
            low = bisect_left(firsts, a.first - distance - longest)
            high = bisect_right(firsts, a.last + distance)
            for b in ordered[low:high]:
                gap = max(a.first, b.first) - min(a.last, b.last)
                if gap <= distance:
                    hits.append(joined(a.field, (a, b), a.in_lead))
        return Result(bool(hits), tuple(hits))

    def _sentence(self, node: Sentence, scope: str) -> Result:
        # The first hit of each part per sentence; sentences a part misses are dropped at
        # once, and the later parts are not even evaluated when no sentence is left.
        by_part: list[dict[tuple[str, int], Hit]] = []
        common: set[tuple[str, int]] | None = None
        sentences = self._body_sentences
        for child in node.children:
            result = self.evaluate(child, scope)
            if not result.ok:
                return FALSE
            places: dict[tuple[str, int], Hit] = {}
            for hit in result.hits:
                place = ("title", 0) if hit.field == "title" else ("body", sentences[hit.first])
                if place not in places and (common is None or place in common):
                    places[place] = hit
            if not places:
                return FALSE
            common = set(places)
            by_part.append(places)
        hits = []
        for place in sorted(common or ()):
            chosen = [places[place] for places in by_part]
            hits.append(joined(place[0], chosen, chosen[0].in_lead))
        return Result(bool(hits), tuple(hits))

    def _different_of(self, node: DifferentOf, scope: str) -> Result:
        group = node.group
        if not isinstance(group, AnyOf):
            raise TypeError(f"unresolved group: {group!r}")
        # Topics repeat "2 OF @nations" in many rules: one answer per group, count and scope.
        key = (group.fingerprint, node.count, scope)
        cached = self._different.get(key)
        if cached is not None:
            return cached
        hits = []
        for place, firsts in self._entries_by_sentence(group, scope).items():
            if len(firsts) >= node.count:
                chosen = sorted(firsts.values(), key=lambda h: h.first)
                hits.append(joined(place[0], chosen, chosen[0].in_lead))
        result = Result(bool(hits), tuple(hits))
        self._different[key] = result
        return result

    def _entries_by_sentence(self, group: AnyOf, scope: str) -> dict[tuple[str, int], dict[int, Hit]]:
        """Per sentence (in text order), the first hit of each different entry of the group."""
        key = (group.fingerprint, scope)
        cached = self._entries.get(key)
        if cached is not None:
            return cached
        entry_of = group.entry_of
        places: dict[tuple[str, int], dict[int, Hit]] = {}
        for hit in self.evaluate(group, scope).hits:
            firsts = places.setdefault(self.sentence_key(hit), {})
            firsts.setdefault(entry_of[hit.terms[0]], hit)
        ordered = dict(sorted(places.items()))
        self._entries[key] = ordered
        return ordered

    # Counting and evidence ------------------------------------------------------------

    def sentence_key(self, hit: Hit) -> tuple[str, int]:
        if hit.field == "title":
            return ("title", 0)
        return ("body", self._body_sentences[hit.first])

    def count_sentences(self, hits: tuple[Hit, ...]) -> int:
        sentences = self._body_sentences
        return len({-1 if hit.field == "title" else sentences[hit.first] for hit in hits})

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
            "terms": list(dict.fromkeys(hit.terms)),  # the patterns that matched: interfer*
            "words": list(dict.fromkeys(words)),
            "matched_words": list(dict.fromkeys(words)),  # what the text says: interfere
        }
        if weight is not None:
            item["weight"] = weight
        return item
