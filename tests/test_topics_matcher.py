"""Matcher semantics, case rules, groups, scoring, filters, evidence offsets and explain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.topics import Document, TopicDefinitionError, load_topics


def fires(query: str, title: str = "", body: str = "", **topic: Any) -> bool:
    topics = load_topics([{"id": "t", "match": query, **topic}])
    return bool(topics.match(Document(title=title, body=body)))


def only_match(topics: Any, doc: Document) -> Any:
    found = topics.match(doc)
    assert len(found) == 1
    return found[0]


# Operators -------------------------------------------------------------------------


def test_and_or_not() -> None:
    body = "Ministers met the ambassador. Trade was discussed."
    assert fires("ambassador AND trade", body=body)
    assert not fires("ambassador AND tariffs", body=body)
    assert fires("tariffs OR trade", body=body)
    assert fires("ambassador AND NOT tariffs", body=body)
    assert not fires("ambassador AND NOT trade", body=body)


def test_phrases_match_consecutive_words_only() -> None:
    assert fires('"special relationship"', body="They praised the special relationship.")
    assert not fires('"special relationship"', body="A special and lasting relationship.")


def test_prefix_wildcards() -> None:
    assert fires("interfer*", body="Officials warned of interference.")
    assert fires('"foreign interfer*"', body="foreign interfering was alleged")
    assert not fires("interfer*", body="An interview.")


def test_near_counts_the_words_between() -> None:
    body = "Russia had tried for years to meddle"  # five words between Russia and meddle
    assert fires("russia NEAR/5 meddl*", body=body)
    assert not fires("russia NEAR/4 meddl*", body=body)
    assert fires("meddl* NEAR/5 russia", body=body)  # either order


def test_sentence_requires_one_sentence() -> None:
    assert fires("SENTENCE(labour, canvass*)", body="Labour staff went canvassing in Nevada.")
    assert not fires("SENTENCE(labour, canvass*)", body="Labour staff flew out. They went canvassing.")


# n OF @group: different entries of a group in one sentence --------------------------

COUNTRIES = {"countries": [["France", "French", "Paris"], ["Spain", "Spanish"], "@capitals"],
             "capitals": ["Lima", "Quito"]}


def test_n_of_group_needs_different_entries_in_one_sentence() -> None:
    query = "SENTENCE(2 OF @countries, backed)"
    assert fires(query, body="The French president backed a Spanish candidate.", groups=COUNTRIES)
    # The forms of one entry ([France, French, Paris]) are one name, however many appear.
    assert not fires(query, body="The French president backed a candidate in France.", groups=COUNTRIES)
    assert not fires(query, body="Paris backed the French candidate.", groups=COUNTRIES)
    # Two countries, but not in the same sentence.
    assert not fires(query, body="The French president backed her. Spain objected.", groups=COUNTRIES)
    # An included group's plain entries stay different names.
    assert fires(query, body="Lima backed Quito.", groups=COUNTRIES)
    assert fires("3 OF @countries", body="Paris, Madrid? No: Lima, Spain and France.", groups=COUNTRIES)
    assert not fires("3 OF @countries", body="Lima, Lima and Spain.", groups=COUNTRIES)


def test_n_of_group_in_the_headline_and_near() -> None:
    assert fires("title:(2 OF @countries)", title="Spanish firm ran French campaign", groups=COUNTRIES)
    assert not fires("title:(2 OF @countries)", body="Spanish firm ran French campaign", groups=COUNTRIES)
    assert fires("(2 OF @countries) NEAR/3 meddl*", body="Spain accused France of meddling.", groups=COUNTRIES)


def test_n_of_group_evidence_quotes_both_names() -> None:
    topics = load_topics([{"id": "t", "match": "SENTENCE(2 OF @countries, backed)", "groups": COUNTRIES}])
    body = "Nothing here. The French president backed a Spanish candidate."
    match = only_match(topics, Document(title="", body=body))
    item = match.evidence[0]
    assert body[item["start"] : item["end"]] == item["match"]
    assert {"French", "Spanish"} <= set(item["words"])


@pytest.mark.parametrize(
    ("query", "says"),
    [("2 OF labour", "a @group after '2 OF'"), ("1 OF @countries", "between 2 and"),
     ("SENTENCE(2 OF, x)", "a @group after")],
)
def test_n_of_group_errors(query: str, says: str) -> None:
    with pytest.raises(TopicDefinitionError, match=says):
        load_topics([{"id": "t", "match": query, "groups": COUNTRIES}])


def test_n_of_group_renders_back_to_the_same_query() -> None:
    from tasks.topics.query import parse_query, render

    node = parse_query("SENTENCE(2 of @nations, backed) OR title:(3 OF @nations)")
    assert parse_query(render(node)) == node
    assert "2 OF @nations" in render(node)


def test_a_group_entry_list_must_hold_words() -> None:
    with pytest.raises(TopicDefinitionError, match="forms of one name"):
        load_topics([{"id": "t", "match": "@g", "groups": {"g": [["France", 3]]}}])


def test_abbreviations_do_not_end_sentences() -> None:
    body = "Mr. Smith said the U.S. Senate would vote on it."
    assert fires("SENTENCE(smith, senate, vote)", body=body)


def test_field_scoping() -> None:
    doc = {"title": "Trade talks resume", "body": "Officials met. Nothing changed. Later, tariffs rose."}
    assert fires("title:trade", **doc)
    assert not fires("title:tariffs", **doc)
    assert fires("body:tariffs", **doc)
    assert not fires("body:trade", **doc)
    assert fires("lead:officials", **doc)
    assert not fires("lead:tariffs", **doc)  # the third sentence is past the lead


def test_case_rules_for_names() -> None:
    assert fires("=US", body="The US and Britain agreed.")
    assert fires("=US", body="The U.S. and Britain agreed.")
    assert not fires("=US", body="He told us nothing.")
    assert fires("us", body="He told us nothing.")  # without = the case is ignored
    assert fires("=Labour", title="LABOUR STAFF HEAD TO NEVADA")  # a shouted headline
    assert not fires("=Labour", body="the labour market is tight")


def test_groups_shared_nested_and_local() -> None:
    topics = load_topics([
        {"id": "t", "match": "SENTENCE(@uk, @us)",
         "groups": {"uk": ["Britain", "@uk_names"], "uk_names": ["=Starmer", "Downing Street"], "us": ["=US", "White House"]}}
    ])
    assert topics.match(Document("", "Downing Street called the White House."))
    assert not topics.match(Document("", "Downing Street called us."))


def test_shipped_groups_are_available_to_inline_topics() -> None:
    topics = load_topics([{"id": "t", "match": "@uk_actors AND @us_actors"}])
    assert topics.match(Document("", "Britain and the United States signed."))


# Scoring ---------------------------------------------------------------------------


def scored_topic(**extra: Any) -> Any:
    return load_topics([{
        "id": "scored",
        "rules": [{"name": "vote meddling", "query": "SENTENCE(meddl*, vote*)", "weight": 2, "per_sentence": True, "max_count": 2}],
        "weighted_terms": {"russia": 1, "sport": -1},
        "min_score": 4,
        **extra,
    }])


def test_weighted_rules_and_terms_reach_the_threshold() -> None:
    topics = scored_topic()
    one = "Russia meddled in the vote."
    assert not topics.match(Document("", one))  # 2 + 1 = 3 < 4
    match = only_match(topics, Document("", one + " Again they meddled with votes."))
    assert match.score == 2 * 2 + 1  # two sentences, then Russia once


def test_per_sentence_counts_are_capped() -> None:
    topics = scored_topic()
    body = " ".join(["They meddled in the vote."] * 6)
    assert only_match(topics, Document("", body)).score == 2 * 2  # max_count 2


def test_negative_weights_and_term_caps() -> None:
    topics = scored_topic()
    body = "Russia meddled in the vote. Russia meddled in votes. Sport sport sport sport."
    assert not topics.match(Document("", body))  # 4 + 2 - 3 (capped at 3) = 3


def test_required_rules_and_exclusions() -> None:
    topics = load_topics([{
        "id": "t",
        "rules": [{"name": "must", "query": "treaty", "required": True}, {"name": "extra", "query": "signed", "weight": 5}],
        "exclude": ["title:obituary"],
    }])
    assert not topics.match(Document("", "They signed it."))  # the required rule is missing
    assert topics.match(Document("", "They signed the treaty."))
    assert not topics.match(Document("Obituary: a diplomat", "They signed the treaty."))


def test_language_and_source_filters() -> None:
    topics = load_topics([{
        "id": "t", "match": "treaty", "languages": ["en"],
        "sources": {"include": ["example.org", "https://feeds.example.net/world"], "exclude": ["blog.example.org"]},
    }])
    body = "The treaty was signed."
    assert topics.match(Document("", body, language="en-GB", source="https://news.example.org/rss"))
    assert topics.match(Document("", body, source="https://feeds.example.net/world/rss.xml"))
    assert topics.match(Document("", body, language=None, source="example.org"))
    assert not topics.match(Document("", body, language="fr", source="example.org"))
    assert not topics.match(Document("", body, source="https://blog.example.org/feed"))
    assert not topics.match(Document("", body, source="https://other.example.com/feed"))


def test_version_changes_with_the_definition_and_its_groups() -> None:
    def version(**groups: Any) -> str:
        return load_topics([{"id": "t", "match": "@g", "groups": groups}]).topics[0].version

    assert version(g=["a"]) == version(g=["a"])
    assert version(g=["a"]) != version(g=["b"])


# Evidence --------------------------------------------------------------------------


def test_evidence_names_rule_terms_field_and_exact_offsets() -> None:
    topics = load_topics([{"id": "t", "rules": [{"name": "staff abroad", "query": "SENTENCE(=Labour, canvass*)"}]}])
    doc = Document("A quiet week", "Parliament rose. In Nevada, Labour staff were canvassing for votes.")
    evidence = only_match(topics, doc).evidence[0]
    assert evidence["rule"] == "staff abroad"
    assert evidence["field"] == "body"
    assert set(evidence["terms"]) == {"=Labour", "canvass*"}
    assert doc.body[evidence["start"] : evidence["end"]] == evidence["match"] == "Labour staff were canvassing"
    assert evidence["text"] == "In Nevada, Labour staff were canvassing for votes."
    offset = evidence["start"] - evidence["text_start"]
    assert evidence["text"][offset : offset + len(evidence["match"])] == evidence["match"]


def test_title_evidence_is_the_title() -> None:
    topics = load_topics([{"id": "t", "match": "title:tariff*"}])
    doc = Document("New tariffs on steel", "Body text.")
    evidence = only_match(topics, doc).evidence[0]
    assert evidence["field"] == "title" and doc.title[evidence["start"] : evidence["end"]] == "tariffs"


VOCABULARY = ["Russia", "meddled", "in", "the", "U.S.", "vote", "Labour", "staff", "canvassing", "and", "trade"]


@given(
    st.lists(st.sampled_from(VOCABULARY + [".", ",", "\n", "“", "’s"]), max_size=60),
    st.sampled_from(["russia NEAR/3 meddl*", "SENTENCE(=US, vote)", '"labour staff"', "=US OR trade", "lead:labour"]),
)
@settings(max_examples=200, deadline=None)
def test_evidence_offsets_always_point_at_the_match(tokens: list[str], query: str) -> None:
    body = " ".join(tokens)
    topics = load_topics([{"id": "t", "match": query}])
    for match in topics.match(Document("", body)):
        for item in match.evidence:
            assert body[item["start"] : item["end"]] == item["match"]
            assert body[item["text_start"] : item["text_start"] + len(item["text"])] == item["text"]


# Explain and errors ----------------------------------------------------------------


def test_explain_says_why_not() -> None:
    topics = scored_topic()
    explanation = topics.explain(Document("", "Russia meddled in the vote."), "scored")
    assert not explanation.matched and explanation.score == 3
    assert any("below the threshold 4" in r for r in explanation.reasons)
    text = explanation.render()
    assert "does not match" in text and "vote meddling" in text and "meddl* (title 0, body 1)" in text


def test_explain_names_the_exclusion() -> None:
    topics = load_topics([{"id": "t", "match": "treaty", "exclude": [{"name": "obituaries", "query": "title:dies"}]}])
    explanation = topics.explain(Document("Envoy dies", "He signed the treaty."), "t")
    assert not explanation.matched
    assert any("obituaries" in r for r in explanation.reasons)


def test_errors_name_file_topic_and_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: bad-topic\nrules:\n  - name: r\n    query: russia AND vote OR poll\n", encoding="utf-8")
    with pytest.raises(TopicDefinitionError) as caught:
        load_topics(str(path))
    message = str(caught.value)
    assert str(path) in message and "'bad-topic'" in message
    assert "line 4, column 28" in message  # the OR, counted from the start of the line
    assert "parentheses" in message


@pytest.mark.parametrize(
    ("definition", "says"),
    [
        ({"id": "Bad Id", "match": "a"}, "lowercase"),
        ({"id": "t"}, "match:, rules: or weighted_terms:"),
        ({"id": "t", "match": "@nowhere"}, "unknown group @nowhere"),
        ({"id": "t", "match": "@a", "groups": {"a": ["@b"], "b": ["@a"]}}, "circle"),
        ({"id": "t", "match": "a", "colour": "red"}, "unknown key 'colour'"),
        ({"id": "t", "match": "a", "min_score": "high"}, "min_score: expected a number"),
        ({"id": "t", "rules": [{"query": "a", "weight": "x"}]}, "weight: expected a number"),
    ],
)
def test_definition_errors_are_clear(definition: dict[str, Any], says: str) -> None:
    with pytest.raises(TopicDefinitionError) as caught:
        load_topics([definition])
    assert says in str(caught.value)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(TopicDefinitionError, match="already used"):
        load_topics([{"id": "t", "match": "a"}, {"id": "t", "match": "b"}])


def test_folder_with_shared_group_file(tmp_path: Path) -> None:
    (tmp_path / "groups.yaml").write_text("groups:\n  envoys: [ambassador, envoy]\n", encoding="utf-8")
    (tmp_path / "envoys.yaml").write_text("id: envoys\nmatch: '@envoys'\n", encoding="utf-8")
    for spec in ("envoys.yaml", "."):  # a single file sees the group file beside it too
        topics = load_topics(spec, base_dir=tmp_path)
        assert [t.id for t in topics.topics] == ["envoys"]
        assert topics.match(Document("", "The envoy left."))


def test_shipped_topics_load_and_the_seed_scenario_matches_both() -> None:
    topics = load_topics(None)
    assert {t.id for t in topics.topics} == {"foreign-campaigning", "uk-us-relations"}
    # Written for this test: a foreign party's staff canvassing in another country's swing states.
    doc = Document(
        title="Labour staff head to US swing states to campaign for the Democrats",
        body=(
            "Dozens of Labour Party staffers are travelling to the US to campaign for the Democratic"
            " candidate in the presidential election, knocking on doors in swing states.\n"
            "Labour volunteers will be canvassing in Pennsylvania and North Carolina, a party figure said.\n"
            "The trip comes weeks after the Prime Minister Keir Starmer met Donald Trump in New York,"
            " where the two men discussed the special relationship between Britain and the US.\n"
            "Downing Street said the UK government would work with whoever wins the White House,"
            " and officials stressed the close ties and security partnership between the two allies.\n"
            "Republicans accused Labour of interfering in the US election; Trump's campaign called it"
            " foreign interference in an American election."
        ),
    )
    assert {m.topic_id for m in topics.match(doc)} == {"foreign-campaigning", "uk-us-relations"}


def test_describe_score_puts_the_score_against_the_threshold_in_words() -> None:
    from tasks.topics.scoring import describe_score

    assert describe_score(10.5, 6) == "strong match: 10.5; alerts from 6"
    assert describe_score(7.2, 6) == "clear match: 7.2; alerts from 6"
    assert describe_score(6, 6) == "narrow match: 6; alerts from 6"
    assert describe_score(3, 6).startswith("below the threshold")
    assert describe_score(2, 0) == "match: 2"
