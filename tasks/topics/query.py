"""The query language: a tokenizer and a recursive-descent parser into a small tree.

    query      := or_expr
    or_expr    := and_expr ( OR and_expr )*
    and_expr   := not_expr ( AND not_expr )*
    not_expr   := NOT not_expr | near_expr
    near_expr  := primary ( NEAR/n primary )*
    primary    := "(" or_expr ")" | FIELD ":" primary | SENTENCE "(" or_expr ( "," or_expr )+ ")"
                | number OF @group | word | "phrase" | @group

Keywords are case-insensitive. AND and OR cannot be mixed without parentheses: an editor
should never have to remember which one binds first. Two words side by side are an error
(did you mean a quoted phrase, AND, or OR?), never a silent guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from tasks.topics.errors import TopicDefinitionError
from tasks.topics.text import WORD_PATTERN

FIELDS = ("title", "lead", "body")
MIN_PREFIX = 3  # "ab*" would match too much to mean anything
MAX_NEAR = 200
MAX_DIFFERENT = 9


# The tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WordPattern:
    """One word of a term: its text (dots removed), whether it ends in * and its case rule."""

    text: str
    prefix: bool = False
    exact_case: bool = False

    def describe(self) -> str:
        return ("=" if self.exact_case else "") + self.text + ("*" if self.prefix else "")

    @cached_property
    def lower(self) -> str:
        return self.text.lower()


@dataclass(frozen=True)
class Term:
    """A word or a phrase (several words in a row)."""

    words: tuple[WordPattern, ...]
    written: str = field(default="", compare=False)
    position: int = field(default=0, compare=False)

    @cached_property
    def key(self) -> str:
        return " ".join(w.describe() for w in self.words)

    @cached_property
    def first_lower(self) -> str:
        return self.words[0].text.lower()


@dataclass(frozen=True)
class GroupRef:
    name: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class AnyOf:
    """A resolved group: any of its terms.

    ``entries`` says which entry of the group each term came from (parallel to ``terms``):
    the forms of one entry (``[France, French]``) are one name for ``n OF @group``.
    """

    name: str
    terms: tuple[Term, ...]
    entries: tuple[int, ...] = field(default=(), compare=False)

    @cached_property
    def entry_of(self) -> dict[str, int]:
        """Term key to entry number (each term its own entry when none were given)."""
        if len(self.entries) != len(self.terms):
            return {t.key: n for n, t in enumerate(self.terms)}
        return {t.key: e for t, e in zip(self.terms, self.entries, strict=True)}

    @cached_property
    def by_first_word(self) -> dict[str, list[Term]]:
        """Terms keyed by their first word (lower case), for one set lookup per document."""
        table: dict[str, list[Term]] = {}
        for term in self.terms:
            if not term.words[0].prefix:
                table.setdefault(term.first_lower, []).append(term)
        return table

    @cached_property
    def fingerprint(self) -> str:
        """Same terms, same fingerprint: topics that share a group share its look-ups."""
        return self.name + "\x00" + "\x00".join(sorted(t.key for t in self.terms))

    @cached_property
    def first_words(self) -> frozenset[str]:
        return frozenset(self.by_first_word)

    @cached_property
    def prefix_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.words[0].prefix)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int


@dataclass(frozen=True)
class Sentence:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class DifferentOf:
    """``2 OF @nations``: one sentence (or the headline) names that many different entries."""

    count: int
    group: GroupRef | AnyOf


@dataclass(frozen=True)
class InField:
    field: str
    child: Node


Node = Term | GroupRef | AnyOf | And | Or | Not | Near | Sentence | DifferentOf | InField


def is_positional(node: Node) -> bool:
    """Whether a node yields places in the text (so it can sit inside NEAR or SENTENCE)."""
    if isinstance(node, Term | GroupRef | AnyOf | Near | Sentence | DifferentOf):
        return True
    if isinstance(node, Or):
        return all(is_positional(c) for c in node.children)
    if isinstance(node, InField):
        return is_positional(node.child)
    return False


def render(node: Node) -> str:
    """The node written back in the query language (normalised)."""
    if isinstance(node, Term):
        text = node.key
        return f'"{text}"' if len(node.words) > 1 else text
    if isinstance(node, GroupRef | AnyOf):
        return "@" + node.name
    if isinstance(node, And):
        return "(" + " AND ".join(render(c) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(render(c) for c in node.children) + ")"
    if isinstance(node, Not):
        return "NOT " + render(node.child)
    if isinstance(node, Near):
        return f"({render(node.left)} NEAR/{node.distance} {render(node.right)})"
    if isinstance(node, Sentence):
        return "SENTENCE(" + ", ".join(render(c) for c in node.children) + ")"
    if isinstance(node, DifferentOf):
        return f"({node.count} OF @{node.group.name})"
    inner = render(node.child)
    if not isinstance(node.child, Term | GroupRef | AnyOf | And | Or):
        inner = f"({inner})"
    return f"{node.field}:{inner}"


# The tokenizer ----------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # WORD PHRASE GROUP AND OR NOT NEAR SENTENCE FIELD ( ) , END
    text: str
    position: int  # 0-based character offset in the query
    number: int = 0  # NEAR distance


_GROUP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_WORD_CHARS = re.compile(r"[^\s()\",:@]+")
_NEAR = re.compile(r"near(?:/(\S*))?", re.IGNORECASE)
_KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT", "sentence": "SENTENCE"}


def _error(detail: str, position: int) -> TopicDefinitionError:
    err = TopicDefinitionError(detail)
    err.query_position = position
    return err


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    length = len(query)
    while i < length:
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char in "(),":
            tokens.append(Token(char, char, i))
            i += 1
            continue
        if char == ":":
            raise _error("a ':' must follow a field name (title:, lead: or body:)", i)
        if char == '"' or (char == "=" and query[i + 1 : i + 2] == '"'):
            start = i
            exact = char == "="
            opening = i + 1 if exact else i
            close = query.find('"', opening + 1)
            if close < 0:
                raise _error('a quoted phrase is not closed: expected a closing "', start)
            tokens.append(Token("PHRASE", ("=" if exact else "") + query[opening + 1 : close], start))
            i = close + 1
            continue
        if char == "@":
            match = _GROUP_NAME.match(query, i + 1)
            if not match:
                raise _error("expected a group name after '@', like @uk_actors", i)
            tokens.append(Token("GROUP", match.group(), i))
            i = match.end()
            continue
        match = _WORD_CHARS.match(query, i)
        assert match is not None  # the character is none of the specials above
        text = match.group()
        near = _NEAR.fullmatch(text)
        if near:
            number = near.group(1)
            if number is None or not number.isdigit():
                raise _error("expected NEAR/n with a number of words, like NEAR/10", i)
            distance = int(number)
            if not 0 < distance <= MAX_NEAR:
                raise _error(f"NEAR/n needs n between 1 and {MAX_NEAR}", i)
            tokens.append(Token("NEAR", text, i, distance))
        elif text.lower() in _KEYWORDS:
            tokens.append(Token(_KEYWORDS[text.lower()], text, i))
        elif match.end() < length and query[match.end()] == ":":
            if text.lower() not in FIELDS:
                raise _error(f"unknown field {text!r}: expected title:, lead: or body:", i)
            tokens.append(Token("FIELD", text.lower(), i))
            i = match.end() + 1
            continue
        else:
            tokens.append(Token("WORD", text, i))
        i = match.end()
    tokens.append(Token("END", "", length))
    return tokens


# Terms ------------------------------------------------------------------------------


def parse_term(written: str, position: int = 0) -> Term:
    """A word or phrase as written: ``word``, ``prefix*``, ``=Exact``, ``"a phrase"``."""
    text = written.strip()
    exact = False
    if text.startswith("="):
        exact = True
        text = text[1:].strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    if '"' in text:
        raise _error(f"unexpected quote in term {written!r}", position)
    words: list[WordPattern] = []
    # Split into words the way documents are split; a trailing * marks a prefix.
    for chunk in text.split():
        prefix = chunk.endswith("*")
        core = chunk[:-1] if prefix else chunk
        if "*" in core:
            raise _error(
                f"a * is allowed only at the end of a word (in {written.strip()!r})", position
            )
        pieces = [m.group().replace(".", "") for m in WORD_PATTERN.finditer(core)]
        if not pieces:
            if prefix and not core:
                raise _error("a * needs some letters before it, like interfer*", position)
            raise _error(f"{chunk!r} has no letters or digits to match", position)
        for n, piece in enumerate(pieces):
            is_prefix = prefix and n == len(pieces) - 1
            if is_prefix and len(piece) < MIN_PREFIX:
                raise _error(
                    f"{chunk!r}: a prefix needs at least {MIN_PREFIX} letters before the *",
                    position,
                )
            words.append(WordPattern(piece, is_prefix, exact))
    if not words:
        raise _error("expected a word or phrase, found nothing", position)
    return Term(tuple(words), written.strip(), position)


# The parser -------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def peek(self, ahead: int) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def different_of(self) -> Node:
        """``n OF @group``: n different entries of the group in one sentence."""
        number = self.advance()
        self.advance()  # OF
        count = int(number.text)
        if not 2 <= count <= MAX_DIFFERENT:
            raise _error(f"'n OF @group' needs n between 2 and {MAX_DIFFERENT}", number.position)
        if self.current.kind != "GROUP":
            raise self.unexpected(f"a @group after '{number.text} OF', like {number.text} OF @nations")
        group = self.advance()
        return DifferentOf(count, GroupRef(group.text.replace("-", "_"), group.position))

    def expect(self, kind: str, what: str) -> Token:
        if self.current.kind != kind:
            raise self.unexpected(what)
        return self.advance()

    def unexpected(self, expected: str) -> TopicDefinitionError:
        token = self.current
        found = "the end of the query" if token.kind == "END" else repr(token.text)
        return _error(f"expected {expected}, found {found}", token.position)

    def parse(self) -> Node:
        if self.current.kind == "END":
            raise _error("the query is empty: expected a word, phrase or @group", 0)
        node = self.or_expr()
        if self.current.kind != "END":
            token = self.current
            if token.kind in ("WORD", "PHRASE", "GROUP", "(", "FIELD", "SENTENCE", "NOT"):
                raise _error(
                    f"expected AND, OR or NEAR/n before {token.text!r}"
                    " (to match words side by side, put them in quotes as a phrase)",
                    token.position,
                )
            raise self.unexpected("AND, OR, NEAR/n or the end of the query")
        return node

    def or_expr(self) -> Node:
        first_and: list[Token] = []
        children = [self.and_expr(first_and)]
        while self.current.kind == "OR":
            or_token = self.advance()
            if first_and:
                raise self.mixed(or_token)
            children.append(self.and_expr(first_and))
            if first_and:
                raise self.mixed(first_and[0])
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, first_and: list[Token]) -> Node:
        children = [self.not_expr()]
        while self.current.kind == "AND":
            token = self.advance()
            if not first_and:
                first_and.append(token)
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    @staticmethod
    def mixed(token: Token) -> TopicDefinitionError:
        return _error(
            f"{token.text!r} mixes AND and OR: add parentheses to say which comes first,"
            " like (a OR b) AND c",
            token.position,
        )

    def not_expr(self) -> Node:
        if self.current.kind == "NOT":
            self.advance()
            return Not(self.not_expr())
        return self.near_expr()

    def near_expr(self) -> Node:
        node = self.primary()
        while self.current.kind == "NEAR":
            token = self.advance()
            right = self.primary()
            for side in (node, right):
                if not is_positional(side):
                    raise _error(
                        f"{token.text} joins words, phrases, groups or OR lists of them;"
                        " AND and NOT cannot sit beside it (use parentheses and SENTENCE(...))",
                        token.position,
                    )
            node = Near(node, right, token.number)
        return node

    def primary(self) -> Node:
        token = self.current
        if token.kind == "(":
            self.advance()
            if self.current.kind == ")":
                raise self.unexpected("a word, phrase or @group inside the parentheses")
            node = self.or_expr()
            self.expect(")", "')' to close the '(' opened at column " + str(token.position + 1))
            return node
        if token.kind == "FIELD":
            self.advance()
            return InField(token.text, self.primary())
        if token.kind == "SENTENCE":
            self.advance()
            self.expect("(", "'(' after SENTENCE, like SENTENCE(a, b)")
            children = [self.or_expr()]
            while self.current.kind == ",":
                self.advance()
                children.append(self.or_expr())
            self.expect(")", "',' or ')' to close SENTENCE(...)")
            if len(children) < 2:
                raise _error("SENTENCE(...) needs at least two parts, like SENTENCE(a, b)", token.position)
            for child in children:
                if not is_positional(child):
                    raise _error(
                        "SENTENCE(...) takes words, phrases, groups or OR lists of them;"
                        " AND and NOT cannot sit inside it",
                        token.position,
                    )
            return Sentence(tuple(children))
        if token.kind == "WORD" and token.text.isdigit() and self.peek(1).text.lower() == "of":
            return self.different_of()
        if token.kind == "WORD":
            self.advance()
            return parse_term(token.text, token.position)
        if token.kind == "PHRASE":
            self.advance()
            exact = token.text.startswith("=")
            body = token.text[1:] if exact else token.text
            return parse_term(("=" if exact else "") + '"' + body + '"', token.position)
        if token.kind == "GROUP":
            self.advance()
            return GroupRef(token.text.replace("-", "_"), token.position)
        raise self.unexpected("a word, phrase, @group, field: or '('")


def parse_query(query: str) -> Node:
    """Parse a query; a :class:`TopicDefinitionError` carries ``query_position`` (0-based)."""
    return _Parser(query).parse()
