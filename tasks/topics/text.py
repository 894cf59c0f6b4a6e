"""Words, sentences and fields of a document, with character offsets.

Queries and documents go through the same word splitting, so a phrase written in a topic
always lines up with the text: "U.S." and "U.K." become the words US and UK, hyphens and
apostrophes separate words ("UK-US" is the two words UK and US).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Dotted abbreviations first (U.S., U.K., e.g.), then runs of letters and digits.
WORD_PATTERN = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W_]+")
# Where a sentence ends: terminal punctuation, closing quotes, then space.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")
_TRAILING_PUNCTUATION = re.compile(r"[.!?\"'”’)\]]*")
# Words after which a full stop does not end the sentence.
ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "st", "sen", "rep", "gov", "gen", "lt", "col", "sgt", "capt", "cmdr", "adm", "jr", "sr", "prof", "no", "vs", "etc", "rev", "hon", "fig", "jan", "feb", "mar", "apr", "aug", "sept", "sep", "oct", "nov", "dec", "inc", "corp", "ltd", "co"]
)
LEAD_SENTENCES = 2  # the lead: the body's first two sentences


def split_words(text: str) -> list[tuple[str, int, int]]:
    """(word with dots removed, start, end) for each word of ``text``."""
    return [(m.group().replace(".", ""), m.start(), m.end()) for m in WORD_PATTERN.finditer(text)]


@dataclass
class FieldText:
    """One field's words, their positions and sentences, and an index from word to positions."""

    name: str
    text: str
    words: list[str] = field(default_factory=list)
    lowers: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    index: dict[str, list[int]] = field(default_factory=dict)
    sentence_of: list[int] = field(default_factory=list)
    sentence_first: list[int] = field(default_factory=list)  # first word of each sentence

    @classmethod
    def build(cls, name: str, text: str) -> FieldText:
        built = cls(name=name, text=text)
        words, lowers, starts = built.words, built.lowers, built.starts
        ends, index = built.ends, built.index
        sentence_of, sentence_first = built.sentence_of, built.sentence_first
        sentence = -1
        previous_end = 0
        previous_word = ""
        for position, match in enumerate(WORD_PATTERN.finditer(text)):
            word = match.group()
            start, end = match.span()
            if "." in word:
                word = word.replace(".", "")
            if position == 0:
                sentence = 0
                sentence_first.append(0)
            elif start - previous_end != 1 or text[previous_end] != " ":  # fast path: one space
                gap = text[previous_end:start]
                if "\n" in gap or (
                    _SENTENCE_END.search(gap + " ") and previous_word.lower() not in ABBREVIATIONS
                ):
                    sentence += 1
                    sentence_first.append(position)
            words.append(word)
            starts.append(start)
            ends.append(end)
            sentence_of.append(sentence)
            key = word.lower()
            lowers.append(key)
            slot = index.get(key)
            if slot is None:
                index[key] = [position]
            else:
                slot.append(position)
            previous_end = end
            previous_word = word
        return built

    def __len__(self) -> int:
        return len(self.words)

    def sentence_span(self, sentence: int) -> tuple[int, int]:
        """Character offsets of a sentence, closing punctuation included."""
        first = self.sentence_first[sentence]
        if sentence + 1 < len(self.sentence_first):
            last = self.sentence_first[sentence + 1] - 1
        else:
            last = len(self.words) - 1
        end = self.ends[last]
        trailing = _TRAILING_PUNCTUATION.match(self.text, end)
        if trailing:
            end = trailing.end()
        return self.starts[first], end

    def lead_end(self) -> int:
        """Word position where the lead (the first sentences) ends, exclusive."""
        if len(self.sentence_first) > LEAD_SENTENCES:
            return self.sentence_first[LEAD_SENTENCES]
        return len(self.words)
