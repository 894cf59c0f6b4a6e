"""Full-text search: the query language, the index kept in step by writes, and the same
alerts found on SQLite (FTS5) and PostgreSQL (tsvector), however awkward the text."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from config.settings import Settings, load_settings
from storage.alert_list import AlertQuery, find_alerts, iter_alerts
from storage.articles import ExtractionRecord, store_result
from storage.db import Database, open_database
from storage.models import Alert, Article, SearchDocument
from storage.search import (
    CHUNK_WORDS,
    SearchError,
    Term,
    document_bodies,
    parse_search,
    search_words,
)
from tests.conftest import postgres_admin_url
from tests.support.alerts import join_story, raise_alert

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# The query language ------------------------------------------------------------------


def test_words_are_lower_case_runs_of_letters_and_digits() -> None:
    assert search_words("UK-US talks: Britain's G20 café, 3.5% — naïve_x") == [
        "uk", "us", "talks", "britain", "s", "g20", "café", "3", "5", "naïve", "x",
    ]
    assert search_words("a\x00b\u200bc " + "z" * 101) == ["a", "b", "c"]  # too long a word is dropped


def test_documents_are_cut_into_pieces_both_engines_can_hold() -> None:
    body = " ".join(f"w{i}" for i in range(CHUNK_WORDS * 2 + 5))
    pieces = document_bodies("Title", body)
    assert [len(p.split()) for p in pieces] == [CHUNK_WORDS, CHUNK_WORDS, 6]
    assert pieces[0].startswith("title w0 ")
    assert document_bodies(None, "", "!!!") == []


def test_parse_search_forms() -> None:
    query = parse_search('  Steel  "trade deal" tarif* -Brexit -"free trade" uk-us "open phrase ')
    assert query.terms == (
        Term(("steel",)),
        Term(("trade", "deal")),
        Term(("tarif",), prefix=True),
        Term(("brexit",), exclude=True),
        Term(("free", "trade"), exclude=True),
        Term(("uk", "us")),  # a hyphenated word is the phrase the engines index it as
        Term(("open", "phrase")),  # an unclosed quote runs to the end
    )
    assert parse_search('"trade de"*').terms == (Term(("trade", "de"), prefix=True),)
    assert parse_search("steel steel STEEL").terms == (Term(("steel",)),)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "q: no words to search for"),
        ('!!! "" - *', "q: no words to search for"),
        ("-steel -tariffs", "q: give at least one word to find"),
        ("a*", "q: a word ending in * needs at least 2 letters"),
        ("x" * 501, "q: at most 500 characters"),
        (" ".join(f"w{i}" for i in range(13)), "q: at most 12 words or phrases"),
        ('"' + " ".join(f"w{i}" for i in range(21)) + '"', "q: a phrase may have at most 20 words"),
    ],
)
def test_parse_search_errors_say_what_to_type(value: str, message: str) -> None:
    with pytest.raises(SearchError) as raised:
        parse_search(value)
    assert str(raised.value).startswith(message)


# Alerts found, on both databases ----------------------------------------------------

CORPUS = [
    # topic, title, article text, evidence
    ("uk-us-relations", "UK-US trade deal talks resume in London",
     "Negotiators from Britain and the United States met on Monday. Tariffs on steel were discussed.",
     "Britain and the US agreed to resume trade talks."),
    ("uk-us-relations", "Café owners hit by tariff rise",
     "The naïve assumption that tariffs would fall proved wrong, said the café's owner.",
     "Tariffs on coffee imports from the US rose 3.5% on Monday."),
    ("foreign-campaigning", "Foreign consultancy ran Peru runoff campaign",
     "A Madrid consultancy advised the campaign; the G20 summit was mentioned in passing.",
     "A foreign consultancy ran the candidate's campaign."),
    ("foreign-campaigning", "北京 election interference claims",
     "Claims of interference from 北京 in the Taiwan election were denied. Trade-offs discussed.",
     "Officials denied foreign interference in the election."),
    ("uk-us-relations", "Steel tariffs: free trade hopes dashed",
     "Free-trade advocates said the steel tariffs would stay. Brexit was not discussed.",
     "The US kept tariffs on British steel."),
]
QUERIES = {
    "steel": [0, 4],
    "STEEL tariffs": [0, 4],
    '"trade deal"': [0],
    '"trade talks"': [0],
    "tarif*": [0, 1, 4],
    "steel -brexit": [0],
    'tariffs -"free trade"': [0, 1],
    "uk-us": [0],
    "café": [1],
    "cafe": [],  # accents are kept: café is not cafe, on both databases
    "naïve": [1],
    "3.5%": [1],
    "g20": [2],
    "北京": [3],
    "trade-offs": [3],
    "interference election": [3],
    '"interference election"': [],
    "monday": [0, 1],
    "consult*": [2],
    "nothing-like-this": [],
}


@pytest.fixture
def corpus(database_url: str, tmp_path: Path) -> Iterator[tuple[Database, list[int]]]:
    db = open_database(database_url, migrate=True)
    settings = load_settings(None, base_dir=tmp_path)
    ids = []
    with db.session() as session:
        for index, (topic, title, body, evidence) in enumerate(CORPUS):
            alert = raise_alert(session, settings, topic=topic, title=title, text=body, evidence=evidence,
                                now=NOW - timedelta(hours=index), published_at=NOW - timedelta(hours=index))
            ids.append(alert.id)
    yield db, ids
    db.dispose()


def found(db: Database, search: str) -> list[int]:
    with db.reader() as session:
        return [a.id for a in find_alerts(session, AlertQuery(search=parse_search(search))).alerts]


@pytest.mark.parametrize("search", list(QUERIES))
def test_search_finds_the_alerts_holding_every_term(corpus, search: str) -> None:
    db, ids = corpus
    assert found(db, search) == [ids[i] for i in QUERIES[search]]  # newest published first


def test_words_may_come_from_the_evidence_and_different_articles(corpus, tmp_path: Path) -> None:
    db, ids = corpus
    settings = load_settings(None, base_dir=tmp_path)
    with db.session() as session:
        alert = session.get(Alert, ids[2])
        join_story(session, settings, alert, title="Lima reacts", text="Electoral authorities in Lima opened an inquiry.",
                   now=NOW + timedelta(minutes=5))
    # "inquiry" is in the joined article only, "candidate's" in the evidence only.
    assert found(db, "inquiry candidate") == [ids[2]]
    assert found(db, '"electoral authorities" madrid') == [ids[2]]


def test_search_combines_with_filters_sort_and_pages(corpus) -> None:
    db, ids = corpus
    with db.reader() as session:
        query = AlertQuery(search=parse_search("tariffs"), topics=("uk-us-relations",), sort="published", limit=1)
        pages = [[a.id for a in batch] for batch in iter_alerts(session, query, page_size=1)]
        assert pages == [[ids[0]], [ids[1]], [ids[4]]]
        since = AlertQuery(search=parse_search("tariffs"), since=NOW - timedelta(hours=1, minutes=30))
        assert [a.id for a in find_alerts(session, since).alerts] == [ids[0], ids[1]]


# The index kept in step by writes ----------------------------------------------------


def fts_is_consistent(db: Database) -> None:
    if db.dialect == "sqlite":  # FTS5 checks its index against search_documents
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO search_documents_fts(search_documents_fts) VALUES ('integrity-check')"))


def test_the_index_follows_new_articles_new_versions_and_deletions(corpus, tmp_path: Path) -> None:
    db, ids = corpus
    settings = load_settings(None, base_dir=tmp_path)
    with db.session() as session:
        joined = join_story(session, settings, session.get(Alert, ids[0]), title="Whisky exporters wait",
                            text="Scotch distillers await relief.", now=NOW + timedelta(minutes=1))
    assert found(db, "distillers") == [ids[0]]

    with db.session() as session:  # a new version of the article: the old words go
        store_result(session, joined.id, ExtractionRecord(
            status="fetched", title="Whisky exporters wait", text="Bourbon makers are worried.",
            content_hash="new",
        ), NOW + timedelta(minutes=2))
        article = session.get(Article, joined.id)
        from storage.alerts import record_matches

        record_matches(session, article, [], NOW + timedelta(minutes=2), settings, joined_story=False)
    assert found(db, "distillers") == [] and found(db, "bourbon") == [ids[0]]

    with db.session() as session:  # retention deletes an article; deleting an alert takes its text
        session.execute(delete(Article).where(Article.id == joined.id))
        session.execute(delete(Alert).where(Alert.id == ids[3]))
    assert found(db, "bourbon") == [] and found(db, "北京") == []
    with db.reader() as session:
        assert session.scalar(select(func.count()).where(SearchDocument.alert_id == ids[3])) == 0
    fts_is_consistent(db)


def test_a_new_matching_source_adds_its_evidence_to_the_index_strongest_first(corpus, tmp_path: Path) -> None:
    from storage.alerts import MatchRecord

    db, ids = corpus
    settings = load_settings(None, base_dir=tmp_path)
    better = MatchRecord("uk-us-relations", 50.0, "v2", [
        {"text": "Ambassadors exchanged notes.", "terms": [], "contribution": 50.0},
    ])
    with db.session() as session:
        join_story(session, settings, session.get(Alert, ids[4]), title="More on steel", text="Mills closed.",
                   now=NOW + timedelta(minutes=1), matches=[better])
    assert found(db, "ambassadors") == [ids[4]]
    assert found(db, '"kept tariffs"') == [ids[4]]  # the first source's evidence stays the alert's too
    with db.reader() as session:
        texts = [item["text"] for item in session.get(Alert, ids[4]).evidence]
    assert texts[0] == "Ambassadors exchanged notes." and len(texts) == 2
    fts_is_consistent(db)


# SQLite and PostgreSQL, side by side ---------------------------------------------------

VOCABULARY = [
    "steel", "Steel", "STEEL", "tariff", "tariffs", "tariffé", "café", "cafe", "Café", "naïve", "G20", "g-20",
    "uk-us", "U.S.", "US", "us", "3.5", "3,5", "2026", "x_y", "北京", "東京", "Ölpreis", "ölpreis",
    "straße", "STRASSE", "İstanbul", "istanbul", "co-operate", "e-mail", "bbc.co.uk", "a@b.example",
    "http://x.example/a?b=c", "<b>bold</b>", "&amp;", "Britain's", "don't", "l'Élysée", "élysée",
    "ΟΔΟΣ", "οδός", "Привет", "привет", "١٢٣", "½", "x²", "naïveté", "deal", "talks", "trade",
]


def random_text(rng: random.Random, words: int) -> str:
    separators = [" ", " ", " ", ", ", ". ", "-", "/", " — ", "\n", ":", "'", "’"]
    return "".join(rng.choice(VOCABULARY) + rng.choice(separators) for _ in range(words))


def random_query(rng: random.Random) -> str:
    terms = []
    for _ in range(rng.randint(1, 3)):
        word = rng.choice(VOCABULARY)
        kind = rng.random()
        if kind < 0.2:
            terms.append(f'"{word} {rng.choice(VOCABULARY)}"')
        elif kind < 0.35 and len(search_words(word)) == 1 and len(search_words(word)[0]) > 2:
            terms.append(search_words(word)[0][:3] + "*")
        elif kind < 0.45 and terms:
            terms.append("-" + word)
        else:
            terms.append(word)
    return " ".join(terms)


def build_random_corpus(db: Database, settings: Settings, seed: int) -> None:
    rng = random.Random(seed)
    with db.session() as session:
        for index in range(40):
            alert = raise_alert(
                session, settings, topic=rng.choice(["a-topic", "b-topic"]), title=random_text(rng, 6),
                text=random_text(rng, rng.randint(5, 60)), evidence=random_text(rng, 8),
                now=NOW - timedelta(minutes=index), published_at=NOW - timedelta(minutes=index),
            )
            if rng.random() < 0.3:
                join_story(session, settings, alert, title=random_text(rng, 5), text=random_text(rng, 30),
                           now=NOW - timedelta(minutes=index) + timedelta(seconds=30))


@pytest.mark.postgres
def test_sqlite_and_postgresql_find_the_same_alerts(postgres_url: str, tmp_path: Path) -> None:
    assert postgres_admin_url()
    settings = load_settings(None, base_dir=tmp_path)
    sqlite_db = open_database(f"sqlite:///{tmp_path / 'side.db'}", migrate=True)
    postgres_db = open_database(postgres_url, migrate=True)
    try:
        for db in (sqlite_db, postgres_db):
            build_random_corpus(db, settings, seed=16)
        rng = random.Random(1616)
        queries = [random_query(rng) for _ in range(300)] + [w for w in VOCABULARY]
        compared = hits = 0
        for search in queries:
            try:
                parsed = parse_search(search)
            except SearchError:
                continue
            results = []
            for db in (sqlite_db, postgres_db):
                with db.reader() as session:
                    results.append([a.id for a in find_alerts(session, AlertQuery(search=parsed, limit=1000)).alerts])
            assert results[0] == results[1], f"{search!r}: SQLite {results[0]} != PostgreSQL {results[1]}"
            compared += 1
            hits += bool(results[0])
        assert compared > 250 and hits > 100  # the comparison saw plenty of matches, not only empty lists
    finally:
        sqlite_db.dispose()
        postgres_db.dispose()
