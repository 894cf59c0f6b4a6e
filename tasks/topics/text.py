"""Words, sentences and fields of a document, with character offsets.

Queries and documents go through the same word splitting, so a phrase written in a topic
always lines up with the text: "U.S." and "U.K." become the words US and UK, hyphens and
apostrophes separate words ("UK-US" is the two words UK and US).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Runs of letters and digits; a dotted abbreviation (U.S., U.K.) stays one word.
WORD_PATTERN = re.compile(r"[^\W_]+(?:\.[^\W\d_]\b)*")
# Words after which a full stop does not end the sentence.
ABBREVIATIONS = (
    "mr", "mrs", "ms", "dr", "st", "sen", "rep", "gov", "gen", "lt", "col", "sgt", "capt",
    "cmdr", "adm", "jr", "sr", "prof", "no", "vs", "etc", "rev", "hon", "fig", "jan", "feb",
    "mar", "apr", "aug", "sept", "sep", "oct", "nov", "dec", "inc", "corp", "ltd", "co",
)
# Where a sentence ends: terminal punctuation (not after an abbreviation, an initial or
# U.S.) and closing quotes before a space; or a line break. One regex, so it runs at C speed.
_NOT_AFTER = "".join(rf"(?<!\b{word}\.)" for word in ABBREVIATIONS)
_CLOSING = r"[\"'”’)\]]*(?=\s)"
# The single character class first lets the regex engine skip ahead quickly.
_SENTENCE_END = re.compile(
    r"[.!?\n](?:(?<=\n)|(?<=[!?])" + _CLOSING
    + r"|(?<=\.)(?<!\b[^\W\d_]\.)" + _NOT_AFTER + _CLOSING + ")",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = re.compile(r"[.!?\"'”’)\]]*")
LEAD_SENTENCES = 2  # the lead: the body's first two sentences


def sentence_ends(text: str) -> list[int]:
    """Character offsets where sentences end (exclusive)."""
    return [m.end() for m in _SENTENCE_END.finditer(text)]


@dataclass
class FieldText:
    """One field's words, their positions and sentences, and an index from word to positions."""

    name: str
    text: str
    words: list[str] = field(default_factory=list)
    lowers: list[str] = field(default_factory=list)
    index: dict[str, list[int]] = field(default_factory=dict)
    _sentence_of: list[int] | None = None
    _sentence_first: list[int] | None = None
    _starts: list[int] | None = None
    _ends: list[int] | None = None
    _first_letters: dict[str, list[str]] | None = None

    @classmethod
    def build(cls, name: str, text: str) -> FieldText:
        # Split into sentences first, then words per sentence: two C-speed regex passes.
        words: list[str] = []
        sentence_of: list[int] = []
        sentence_first: list[int] = []
        previous = 0
        findall = WORD_PATTERN.findall
        for end in [*sentence_ends(text), len(text)]:
            found = findall(text, previous, end)
            previous = end
            if found:
                sentence_first.append(len(words))
                sentence_of.extend([len(sentence_first) - 1] * len(found))
                words.extend(found)
        if "." in text:
            words = [w.replace(".", "") if "." in w else w for w in words]
        lowers = [w.lower() for w in words]
        index: dict[str, list[int]] = {}
        for position, key in enumerate(lowers):
            slot = index.get(key)
            if slot is None:
                index[key] = [position]
            else:
                slot.append(position)
        built = cls(name=name, text=text, words=words, lowers=lowers, index=index)
        built._sentence_of = sentence_of
        built._sentence_first = sentence_first
        return built

    def __len__(self) -> int:
        return len(self.words)

    def _offsets(self) -> None:
        # Character offsets are needed only for evidence, so they are found on demand.
        self._starts = []
        self._ends = []
        for match in WORD_PATTERN.finditer(self.text):
            self._starts.append(match.start())
            self._ends.append(match.end())

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._offsets()
        return self._starts  # type: ignore[return-value]  # _offsets() has just set it

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._offsets()
        return self._ends  # type: ignore[return-value]  # _offsets() has just set it

    @property
    def sentence_of(self) -> list[int]:
        return self._sentence_of  # type: ignore[return-value]  # set by the constructor (build)

    @property
    def sentence_first(self) -> list[int]:
        return self._sentence_first  # type: ignore[return-value]  # set by the constructor (build)

    @property
    def first_letters(self) -> dict[str, list[str]]:
        """The vocabulary grouped by its first three letters, for prefix look-ups."""
        if self._first_letters is None:
            table: dict[str, list[str]] = {}
            for word in self.index:
                table.setdefault(word[:3], []).append(word)
            self._first_letters = table
        return self._first_letters

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
