"""Full-text search over alerts with the database's own engine: SQLite FTS5, PostgreSQL tsvector.

What is searched: an alert's title and evidence, and the titles and text of its story's
articles (``SearchDocument`` rows, written in the alert's transaction). SQLite indexes
them in an FTS5 table kept in step by triggers; PostgreSQL in a stored, generated
``tsvector`` column with a GIN index. Both engines must
find the same alerts, so the words are cut here, once, the same way for documents and
queries: case-folded (``Straße`` is ``strasse``, a final ``ς`` is ``σ``), runs of letters
and digits (``uk-us`` is the two words ``uk us``), accents kept (``café`` is not
``cafe``), no stemming, no stop words. The engines then only look words up.

The query language, for a desk: words (all must appear, anywhere in the alert, its
evidence or its articles), ``"a phrase"`` (those words next to each other), ``tarif*``
(a word starting so), ``-word`` or ``-"a phrase"`` (leave out alerts that have it).
Results are not ranked: lists keep their order (publication time, by default), the same
on both databases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, delete, insert, or_, select, text
from sqlalchemy.orm import Session

from storage.models import Alert, Article, SearchDocument

MAX_QUERY_CHARS = 500
MAX_TERMS = 12
MAX_PHRASE_WORDS = 20
MIN_PREFIX_CHARS = 2
# Words per document piece: PostgreSQL keeps word positions up to 16,383 only (a phrase
# further into a long article would match on one database and not the other).
CHUNK_WORDS = 2000
# PostgreSQL ignores words over 2,047 bytes; nobody searches for anything that long.
MAX_WORD_CHARS = 100

_WORD = re.compile(r"[^\W_]+")
_QUERY_TOKEN = re.compile(r'(-?)"([^"]*)"?(\*?)|(-?)([^\s"]+)')

# Objects the migration creates beyond the models (Alembic's drift check skips them).
FTS_TABLE = "search_documents_fts"
POSTGRES_INDEX = "ix_search_documents_body_tsv"
# PostgreSQL keeps each piece's words as a stored tsvector: a phrase (or any match the
# GIN index cannot settle alone) is checked against it, not by parsing the body again.
POSTGRES_VECTOR = "body_tsv"

SQLITE_DDL = [
    # External content: the words live in search_documents; FTS5 keeps only its index.
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(body, content='search_documents', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body); END",
    f"CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body); END",
    f"CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, body) VALUES ('delete', old.id, old.body); "
    f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (new.id, new.body); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_documents_au",
    "DROP TRIGGER IF EXISTS search_documents_ad",
    "DROP TRIGGER IF EXISTS search_documents_ai",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
POSTGRES_DDL = [
    f"ALTER TABLE search_documents ADD COLUMN {POSTGRES_VECTOR} tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED",
    f"CREATE INDEX {POSTGRES_INDEX} ON search_documents USING gin ({POSTGRES_VECTOR})",
]
POSTGRES_DROP = [
    f"DROP INDEX IF EXISTS {POSTGRES_INDEX}",
    f"ALTER TABLE search_documents DROP COLUMN IF EXISTS {POSTGRES_VECTOR}",
]


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's filter: the search engine's own objects are not in the models."""
    return not (name and (name.startswith(FTS_TABLE) or name in (POSTGRES_INDEX, POSTGRES_VECTOR)))


# Words and documents -----------------------------------------------------------------


def search_words(value: str | None) -> list[str]:
    """The words of ``value`` as both engines index and look them up.

    A word is a run of letters and decimal digits. Other "alphanumeric" characters
    (``½``, ``²``, Roman numerals) separate words: FTS5 would keep them in a word and
    PostgreSQL's parser drops them, so neither engine gets to see them.
    """
    if not value:
        return []
    words: list[str] = []
    for token in _WORD.findall(value.casefold()):
        whole = token.isascii() or token.isalpha() or token.isdecimal()  # the usual cases, fast
        pieces = [token] if whole else _letters_and_digits(token)
        words.extend(w for w in pieces if len(w) <= MAX_WORD_CHARS)
    return words


def _letters_and_digits(token: str) -> list[str]:
    """``token`` cut at characters that are neither letters nor decimal digits (g20 stays whole)."""
    pieces: list[str] = []
    start = 0
    for index, char in enumerate(token):
        if not (char.isalpha() or char.isdecimal()):
            if index > start:
                pieces.append(token[start:index])
            start = index + 1
    if start < len(token):
        pieces.append(token[start:])
    return pieces


def document_bodies(*texts: str | None) -> list[str]:
    """The words of ``texts`` as document bodies of at most CHUNK_WORDS words each."""
    words = [w for value in texts for w in search_words(value)]
    return [" ".join(words[i : i + CHUNK_WORDS]) for i in range(0, len(words), CHUNK_WORDS)]


def alert_text(alert: Alert) -> list[str]:
    texts = [alert.title or ""]
    texts.extend(str(e.get("text") or "") for e in alert.evidence or [] if isinstance(e, dict))
    return texts


# Keeping the index in step (called in the alert's transaction) -------------------------


def index_alert(session: Session, alert: Alert) -> None:
    """(Re)write the alert's own document: its title and evidence."""
    session.execute(delete(SearchDocument).where(SearchDocument.alert_id == alert.id))
    rows = [
        {"story_id": alert.story_id, "alert_id": alert.id, "article_id": None, "body": body}
        for body in document_bodies(*alert_text(alert))
    ]
    if rows:
        session.execute(insert(SearchDocument), rows)


def index_article(session: Session, article: Article) -> None:
    """(Re)write an article's document (its title and text) under its story."""
    session.execute(delete(SearchDocument).where(SearchDocument.article_id == article.id))
    if article.story_id is None:
        return
    rows = [
        {"story_id": article.story_id, "alert_id": None, "article_id": article.id, "body": body}
        for body in document_bodies(article.title, article.text)
    ]
    if rows:
        session.execute(insert(SearchDocument), rows)


def index_story_articles(session: Session, story_id: int) -> int:
    """Index the story's articles that are not indexed yet (its first alert was just raised)."""
    indexed = select(SearchDocument.article_id).where(
        SearchDocument.story_id == story_id, SearchDocument.article_id.is_not(None)
    )
    rows = session.execute(
        select(Article.id, Article.title, Article.text).where(
            Article.story_id == story_id, Article.id.not_in(indexed)
        )
    ).all()
    documents = [
        {"story_id": story_id, "alert_id": None, "article_id": article_id, "body": body}
        for article_id, title, body_text in rows
        for body in document_bodies(title, body_text)
    ]
    if documents:
        session.execute(insert(SearchDocument), documents)
    return len(rows)


# Queries ---------------------------------------------------------------------------


class SearchError(ValueError):
    """A search the user can fix; the message says how."""


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase: the words next to each other
    prefix: bool = False  # the last word is a prefix
    exclude: bool = False


@dataclass(frozen=True)
class SearchQuery:
    text: str
    terms: tuple[Term, ...]


def parse_search(value: str, name: str = "q") -> SearchQuery:
    """A search as typed into the box (``name`` is how errors refer to it)."""
    text = " ".join(value.split())
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError(f"{name}: at most {MAX_QUERY_CHARS} characters")
    terms: list[Term] = []
    for match in _QUERY_TOKEN.finditer(text):
        quoted_minus, quoted, quoted_star, bare_minus, bare = match.groups()
        raw = quoted if quoted is not None else bare
        exclude = bool(quoted_minus or bare_minus)
        prefix = bool(quoted_star) or (quoted is None and raw.endswith("*"))
        words = tuple(search_words(raw))
        if not words:
            continue
        if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
            raise SearchError(f"{name}: a word ending in * needs at least {MIN_PREFIX_CHARS} letters before the *")
        if len(words) > MAX_PHRASE_WORDS:
            raise SearchError(f"{name}: a phrase may have at most {MAX_PHRASE_WORDS} words")
        term = Term(words=words, prefix=prefix, exclude=exclude)
        if term not in terms:
            terms.append(term)
    if not terms:
        raise SearchError(f"{name}: no words to search for; type words, \"a phrase\" or a prefix like tarif*")
    if len(terms) > MAX_TERMS:
        raise SearchError(f"{name}: at most {MAX_TERMS} words or phrases")
    if all(t.exclude for t in terms):
        raise SearchError(f"{name}: give at least one word to find, not only words to leave out (-word)")
    return SearchQuery(text=text, terms=tuple(terms))


def _fts5_expression(term: Term) -> str:
    # Words are letters and digits only (no quotes), so quoting them is all FTS5 needs.
    return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")


def _tsquery_expression(term: Term) -> str:
    lexemes = [f"'{w}'" for w in term.words]
    if term.prefix:
        lexemes[-1] += ":*"
    return " <-> ".join(lexemes)


def _matching_documents(dialect: str, term: Term, key: str) -> Any:
    """A subquery of the ids of the document pieces holding ``term``."""
    if dialect == "postgresql":
        return text(
            f"SELECT id FROM search_documents WHERE {POSTGRES_VECTOR} @@ to_tsquery('simple'::regconfig, :{key})"
        ).bindparams(**{key: _tsquery_expression(term)}).columns(id=Integer)
    if dialect == "sqlite":
        return (
            text(f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :{key}")
            .bindparams(**{key: _fts5_expression(term)})
            .columns(id=Integer)
        )
    raise SearchError(f"search needs SQLite or PostgreSQL, not {dialect}")


def _alerts_holding(dialect: str, term: Term, key: str) -> ColumnElement[bool]:
    """Alerts whose own text, or one of whose story's articles, holds ``term``.

    The engine's match is a CTE of the statement, evaluated once (both databases
    materialise a CTE used twice); the alerts are then looked up in it. Nested in a
    correlated subquery instead, SQLite ran the FTS5 match again for every alert.
    """
    documents = _matching_documents(dialect, term, key).subquery()
    matched = (
        select(SearchDocument.story_id, SearchDocument.alert_id, SearchDocument.article_id)
        .where(SearchDocument.id.in_(select(documents.c.id)))
        .cte(f"{key}_documents")
    )
    return or_(
        Alert.story_id.in_(select(matched.c.story_id).where(matched.c.article_id.is_not(None))),
        # alert_id IS NOT NULL: a NULL in an IN list makes NOT IN unknown for every row.
        Alert.id.in_(select(matched.c.alert_id).where(matched.c.alert_id.is_not(None))),
    )


def search_conditions(dialect: str, query: SearchQuery) -> list[ColumnElement[bool]]:
    """WHERE conditions on ``Alert`` for a parsed search: every term found, none excluded."""
    conditions: list[ColumnElement[bool]] = []
    for index, term in enumerate(query.terms):
        holds = _alerts_holding(dialect, term, f"search_{index}")
        conditions.append(~holds if term.exclude else holds)
    return conditions
