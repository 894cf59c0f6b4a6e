"""The topic query language: tokenizer, parser, errors with positions, and property tests."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.topics import TopicDefinitionError, TopicSet, load_topics, parse_query
from tasks.topics.query import (
    And,
    GroupRef,
    InField,
    Near,
    Not,
    Or,
    Sentence,
    Term,
    parse_term,
    render,
)


def error_at(query: str) -> tuple[str, int]:
    with pytest.raises(TopicDefinitionError) as caught:
        parse_query(query)
    return str(caught.value), caught.value.query_position  # type: ignore[attr-defined]


def test_words_phrases_wildcards_and_case_rules_parse_into_terms() -> None:
    node = parse_query('=US OR "special relationship" OR interfer*')
    assert isinstance(node, Or)
    us, phrase, prefix = node.children
    assert isinstance(us, Term) and us.words[0].exact_case and us.words[0].text == "US"
    assert isinstance(phrase, Term) and [w.text for w in phrase.words] == ["special", "relationship"]
    assert isinstance(prefix, Term) and prefix.words[0].prefix and prefix.words[0].text == "interfer"


def test_dotted_and_hyphenated_words_split_like_document_text() -> None:
    assert [w.text for w in parse_term("U.S.").words] == ["US"]
    assert [w.text for w in parse_term("UK-US").words] == ["UK", "US"]


def test_near_binds_tighter_than_not_and_and() -> None:
    node = parse_query("a NEAR/5 b AND NOT c")
    assert isinstance(node, And)
    near, negation = node.children
    assert isinstance(near, Near) and near.distance == 5
    assert isinstance(negation, Not)


def test_parentheses_fields_sentence_and_groups() -> None:
    node = parse_query("title:(a OR b) AND SENTENCE(@uk_actors, cam*, \"d e\")")
    assert isinstance(node, And)
    scoped, sentence = node.children
    assert isinstance(scoped, InField) and scoped.field == "title" and isinstance(scoped.child, Or)
    assert isinstance(sentence, Sentence) and isinstance(sentence.children[0], GroupRef)


def test_keywords_are_case_insensitive() -> None:
    assert isinstance(parse_query("a and b"), And)
    assert isinstance(parse_query("a near/3 b"), Near)


@pytest.mark.parametrize(
    ("query", "position", "says"),
    [
        ("a AND b OR c", 8, "parentheses"),
        ("a OR b AND c", 7, "parentheses"),
        ("foreign interference", 8, "quotes"),
        ('"special relationship', 0, "closing"),
        ("(a OR b", 7, "')'"),
        ("a NEAR b", 2, "NEAR/n"),
        ("a NEAR/0 b", 2, "between 1"),
        ("colour:red", 0, "unknown field"),
        ("inter*ference", 0, "end of a word"),
        ("ab*", 0, "at least 3"),
        ("", 0, "empty"),
        ("a AND", 5, "end of the query"),
        ("(a AND b) NEAR/3 c", 10, "NEAR/3 joins"),
        ("SENTENCE(a)", 0, "at least two"),
        ("@", 0, "group name"),
        ("a )", 2, "')'"),
    ],
)
def test_errors_say_where_and_what_was_expected(query: str, position: int, says: str) -> None:
    message, at = error_at(query)
    assert at == position
    assert says in message


def test_render_writes_back_a_query_that_parses_the_same() -> None:
    query = 'title:(=US OR "trade deal*") AND NOT (x NEAR/4 y) AND SENTENCE(a, b)'
    node = parse_query(query)
    assert parse_query(render(node)) == node


# Property tests --------------------------------------------------------------------

QUERY_ALPHABET = string.ascii_letters + string.digits + ' ()"*=@:,/-._\'\n\t' + "éü’"


@given(st.text(alphabet=QUERY_ALPHABET, max_size=80))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_parses_or_raises_a_definition_error(text: str) -> None:
    try:
        parse_query(text)
    except TopicDefinitionError as exc:
        assert str(exc)  # a message, never an empty error


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_unicode_text_parses_or_raises_a_definition_error(text: str) -> None:
    try:
        node = parse_query(text)
    except TopicDefinitionError as exc:
        assert str(exc)
    else:
        assert parse_query(render(node)) == node


WORDS = st.sampled_from(["russia", "=US", "vote*", '"trade deal"', "@uk_actors", "election", "UK"])


def queries(depth: int = 3) -> st.SearchStrategy[str]:
    leaf = WORDS
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"({p[0]} AND {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
            inner.map(lambda q: f"NOT {q}"),
            st.tuples(leaf, leaf, st.integers(1, 30)).map(lambda p: f"{p[0]} NEAR/{p[2]} {p[1]}"),
            inner.map(lambda q: f"title:({q})"),
        ),
        max_leaves=6,
    )


@given(queries())
@settings(max_examples=200, deadline=None)
def test_generated_valid_queries_round_trip(query: str) -> None:
    node = parse_query(query)
    assert parse_query(render(node)) == node


JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(QUERY_ALPHABET, max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "name", "rules", "query", "weight", "match", "groups", "exclude",
                         "weighted_terms", "min_score", "languages", "sources", "per_sentence", "x"]),
        inner, max_size=5,
    ),
    max_leaves=12,
)


@given(st.lists(JSON_LIKE, max_size=3))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_inline_definition_loads_or_raises_a_definition_error(spec: list) -> None:
    try:
        result = load_topics(spec)
    except TopicDefinitionError as exc:
        assert str(exc)
    else:
        assert isinstance(result, TopicSet)


@given(st.text(alphabet=QUERY_ALPHABET + "{}[]#&!|>-?%", max_size=200))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_any_yaml_file_loads_or_raises_a_definition_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("topics") / "topic.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_topics(str(path))
    except TopicDefinitionError as exc:
        assert str(path) in str(exc)
