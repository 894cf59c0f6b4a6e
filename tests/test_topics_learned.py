"""The scoring object, the learned layer (file, version, explanation) and its training.

Every article here is written for this test: a toy topic about ambassadors, where an
article *about* an embassy row is relevant and one that mentions an ambassador in
passing (a concert, an obituary of a retired envoy) is not.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks.topics import Document, TopicDefinitionError, load_topics
from tasks.topics.evaluation import read_labels
from tasks.topics.learned import LearnedLayer
from tasks.topics.scoring import score_topic
from tasks.topics.training import (
    TooFewLabels,
    TrainingSettings,
    compare_training,
    examples,
    layer_probability,
    train_layer,
)

TOPIC = {
    "id": "envoy-rows",
    "name": "Envoy rows",
    "min_score": 2,
    "rules": [
        {"name": "an envoy in a sentence with a row", "query": "SENTENCE((ambassador* OR envoy*), (row OR summoned OR protest* OR expel*))", "weight": 2, "per_sentence": True},
        {"name": "an envoy in the headline", "query": "title:(ambassador* OR envoy*)", "weight": 1},
    ],
    "features": {
        "for": {"row": "(row OR summoned OR protest* OR expel*)"},
        "against": {"culture": "(concert OR orchestra OR exhibition OR festival OR gallery)"},
        "either": {"envoy": "(ambassador* OR envoy*)"},
    },
}

COUNTRIES = ["Norway", "Chile", "Kenya", "Japan", "Peru", "Ghana", "Fiji", "Oman", "Laos", "Mali"]


def relevant(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(COUNTRIES, 2)
    title = f"{a} summons {b} ambassador in row over {rng.choice(['fishing', 'visas', 'a spy', 'tariffs'])}"
    body = " ".join([
        f"The foreign ministry of {a} summoned the ambassador of {b} on {rng.choice(['Monday', 'Friday'])}.",
        "Officials said the row had been building for weeks and lodged a formal protest.",
        f"The envoy was told that {a} would expel diplomats if the row went on.",
        f"{b} called the protest an overreaction and said its ambassador would stay.",
    ])
    return title, body


def passing(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(COUNTRIES, 2)
    title = f"{rng.choice(['Orchestra', 'Festival', 'Gallery'])} from {a} opens season in {b}"
    body = " ".join([
        f"A concert hall in {b} opened its season with an orchestra from {a}.",
        f"The ambassador of {a} attended the concert, despite a row over seating at the gallery.",
        "Critics praised the festival and the exhibition that followed.",
        "The orchestra will tour three more cities before the festival ends.",
    ])
    return title, body


def write_labels(path: Path, count: int = 24, seed: int = 7) -> Path:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        for label, make in ((1, relevant), (0, passing)):
            title, body = make(rng)
            rows.append({"id": f"{label}-{n}", "title": title, "text": body, "envoy_rows": label})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def topic_folder(tmp_path: Path, learned: str | None = None) -> Path:
    import yaml

    definition: dict[str, Any] = dict(TOPIC)
    if learned:
        definition["learned"] = learned
    (tmp_path / "envoy-rows.yaml").write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    return tmp_path / "envoy-rows.yaml"


def trained_layer(tmp_path: Path) -> Path:
    topic = load_topics([TOPIC]).get("envoy-rows")
    data = examples(topic, read_labels(write_labels(tmp_path / "labels.jsonl")))
    layer = train_layer(topic, data, TrainingSettings(regularisation=0.1))
    path = tmp_path / "envoy-rows.learned.json"
    layer.write(path)
    return path


# The scoring object ------------------------------------------------------------------


def test_the_score_object_carries_rules_contributions_and_the_verdict() -> None:
    topics = load_topics([TOPIC])
    scored, index = topics.score(Document("Kenya summons Peru ambassador", "Kenya summoned the envoy in a row."), "envoy-rows")
    assert scored.matched and scored.score == 3
    assert [o.rule.name for o in scored.rules if o.fired] == ["an envoy in a sentence with a row", "an envoy in the headline"]
    assert scored.contributions()[0][0] == "an envoy in a sentence with a row"  # strongest first
    evidence = scored.evidence(index)
    assert evidence[0]["rule"] == "an envoy in a sentence with a row"
    assert len({(e["field"], e["text_start"]) for e in evidence}) == len(evidence)  # no sentence twice


def test_fast_and_complete_scoring_give_the_same_verdict() -> None:
    topics = load_topics([TOPIC])
    topic = topics.get("envoy-rows")
    rng = random.Random(3)
    words = ["ambassador", "row", "concert", "summoned", "envoy", "Peru", "the", ".", "protest"]
    for _ in range(300):
        title = " ".join(rng.choices(words, k=rng.randint(0, 5)))
        body = " ".join(rng.choices(words, k=rng.randint(0, 40)))
        index = topics.index(Document(title, body))
        fast, complete = score_topic(topic, index), score_topic(topic, index, complete=True)
        assert fast.matched == complete.matched
        assert bool(topics.match(Document(title, body))) == complete.matched
        assert topics.explain(Document(title, body), "envoy-rows").matched == complete.matched


@pytest.mark.parametrize("written", ["pt_BR", "pt-BR", "PT", "pt"])
@pytest.mark.parametrize("document_language", ["pt", "pt-BR", "pt_BR", "PT-br"])
def test_language_codes_compare_by_primary_language(written: str, document_language: str) -> None:
    topics = load_topics([{"id": "t", "match": "embaixador", "languages": [written]}])
    doc = Document("", "O embaixador chegou.", language=document_language)
    assert topics.match(doc)
    assert topics.explain(doc, "t").matched
    assert not topics.match(replace(doc, language="es"))


# The learned layer's file ------------------------------------------------------------


def test_a_trained_layer_loads_with_its_version_and_decides(tmp_path: Path) -> None:
    trained_layer(tmp_path)
    topics = load_topics(str(topic_folder(tmp_path, "envoy-rows.learned.json")))
    topic = topics.get("envoy-rows")
    assert topic.learned is not None and len(topic.learned.version) == 12
    rng = random.Random(99)  # articles the layer has not seen
    assert topics.match(Document(*relevant(rng)))
    # Passing mentions pass the rules (an ambassador and a row in one sentence) ...
    title, body = passing(rng)
    rules_only = load_topics([TOPIC])
    assert rules_only.match(Document(title, body))
    # ... and the learned layer turns them down, saying why.
    assert not topics.match(Document(title, body))
    explanation = topics.explain(Document(title, body), "envoy-rows")
    assert explanation.learned is not None and not explanation.learned["accepted"]
    assert any("learned layer" in r for r in explanation.reasons)
    features = [c["feature"] for c in explanation.learned["contributions"]]
    assert any(f.startswith("culture.") for f in features)
    assert "Learned layer v" in explanation.render() and "culture." in explanation.render()


def test_the_layer_is_part_of_the_topic_version(tmp_path: Path) -> None:
    path = trained_layer(tmp_path)
    before = load_topics(str(topic_folder(tmp_path, path.name))).get("envoy-rows").version
    data = json.loads(path.read_text())
    data["threshold"] = 0.9
    layer = LearnedLayer._from_dict({k: v for k, v in data.items() if k != "version"}, "envoy-rows", str(path))
    layer.write(path)
    after = load_topics(str(topic_folder(tmp_path, path.name))).get("envoy-rows").version
    assert before != after
    assert load_topics([TOPIC]).get("envoy-rows").version not in (before, after)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(threshold=0.7), "edited by hand"),
        (lambda d: d.update(feature_set=99), "feature set"),
        (lambda d: d.update(topic="other"), "trained for topic 'other'"),
        (lambda d: d["features"].update({"nowhere.share": {"mean": 0, "scale": 1, "weight": 1}}), "edited by hand"),
        (lambda d: d.pop("intercept"), "missing 'intercept'"),
        (lambda d: d.update(threshold="high"), "finite number"),
    ],
)
def test_a_bad_layer_file_is_refused_with_a_clear_message(tmp_path: Path, change: Any, says: str) -> None:
    path = trained_layer(tmp_path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(TopicDefinitionError) as caught:
        load_topics(str(topic_folder(tmp_path, path.name)))
    assert says in str(caught.value) and str(path) in str(caught.value)


def test_a_layer_naming_features_the_topic_lacks_is_refused(tmp_path: Path) -> None:
    path = trained_layer(tmp_path)
    data = json.loads(path.read_text())
    data.pop("version")
    data["features"]["nowhere.share"] = {"mean": 0.0, "scale": 1.0, "weight": 1.0}
    path.write_text(json.dumps(data))
    with pytest.raises(TopicDefinitionError, match="does not define: nowhere.share"):
        load_topics(str(topic_folder(tmp_path, path.name)))


def test_weights_stay_on_the_side_the_editor_gave_them(tmp_path: Path) -> None:
    # Labels in which the "for" feature (a row) is, by accident, commoner among the
    # irrelevant articles: the layer may give it no weight, never a negative one.
    rng = random.Random(11)
    rows = []
    for n in range(20):
        title, body = relevant(rng)
        for word, other in (("row", "dispute"), ("summoned", "called in"), ("protest", "complaint"), ("expel", "send home")):
            title, body = title.replace(word, other), body.replace(word, other)
        rows.append({"id": f"r{n}", "title": title, "text": body, "envoy_rows": 1})
        title, body = passing(rng)
        rows.append({"id": f"p{n}", "title": title, "text": body + " A row, a row, a protest.", "envoy_rows": 0})
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    topic = load_topics([TOPIC]).get("envoy-rows")
    layer = train_layer(topic, examples(topic, read_labels(labels)), TrainingSettings(regularisation=1.0))
    for name, weight in layer.features.items():
        side = topic.side_of(name)
        assert side * weight.weight >= 0, (name, weight)
    # Free to, the model would have counted rows against the topic.
    import numpy as np

    from tasks.topics.training import _Design, fit_logistic

    data = examples(topic, read_labels(labels))
    design = _Design(topic, data, TrainingSettings())
    free, _ = fit_logistic(design.matrix(data), np.array([e.label for e in data], dtype=float), 1.0)
    assert free[design.names.index("row.sentences")] < 0
    assert layer.features["row.sentences"].weight == 0
    assert topic.side_of("culture.share") == -1 and topic.side_of("envoy.title") == 0
    assert topic.side_of("rule:an envoy in the headline") == 1 and topic.side_of("rules.score") == 1


@pytest.mark.parametrize(
    ("features", "says"),
    [
        ({"pair": "a"}, "expected for:, against: and either:"),
        ({"for": ["a"]}, "features.for: expected a mapping"),
        ({"for": {"a": "x"}, "against": {"a": "y"}}, "named twice"),
        ({"for": {"bad name": "x"}}, "letters, digits and _"),
        ({"for": {"a": "x AND y OR z"}}, "parentheses"),
    ],
)
def test_feature_definitions_are_checked(features: dict[str, Any], says: str) -> None:
    with pytest.raises(TopicDefinitionError, match=says):
        load_topics([{"id": "t", "match": "a", "features": features}])


def test_a_missing_layer_file_names_the_command_that_makes_one(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match="newswatch topics train"):
        load_topics(str(topic_folder(tmp_path, "absent.learned.json")))


def test_training_and_matching_compute_the_same_probability(tmp_path: Path) -> None:
    path = trained_layer(tmp_path)
    topics = load_topics(str(topic_folder(tmp_path, path.name)))
    topic = topics.get("envoy-rows")
    assert topic.learned is not None
    for example, article in zip(
        examples(replace(topic, learned=None), read_labels(tmp_path / "labels.jsonl")),
        read_labels(tmp_path / "labels.jsonl"),
        strict=True,
    ):
        scored, _ = topics.score(article.document, "envoy-rows")
        if scored.learned is not None:
            assert scored.learned.probability == pytest.approx(layer_probability(topic.learned, example))


def word_ending_labels(path: Path) -> Path:
    """Relevant and passing articles that differ only in one closing sentence, which no
    rule or feature query looks at: only a layer that weighs words can tell them apart."""
    rng = random.Random(5)
    rows = []
    for n in range(20):
        for label, ending in ((1, "Ministers called it a grave breach."), (0, "Guests later enjoyed the buffet.")):
            title, body = relevant(rng)
            rows.append({"id": f"{label}-{n}", "title": title, "text": f"{body} {ending}", "envoy_rows": label})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_compare_training_finds_settings_worse_than_the_current_layers(tmp_path: Path) -> None:
    labels = read_labels(word_ending_labels(tmp_path / "labels.jsonl"))
    plain = load_topics([TOPIC]).get("envoy-rows")
    with_words = TrainingSettings(words=True, min_document_frequency=2)
    layer = train_layer(plain, examples(plain, labels), with_words)
    topic = replace(plain, learned=layer)
    data = examples(topic, labels)

    same = compare_training(topic, data)  # the current layer's own settings
    assert same.settings == same.base and same.settings.words is True
    assert same.current_settings is same.after and not same.worse
    assert same.current_layer is not None and same.rules_alone.f1 < same.after.f1

    without_words = compare_training(topic, data, words=False)
    assert without_words.settings.words is False and without_words.base.words is True
    assert without_words.current_settings is not None
    assert without_words.after.f1 < without_words.current_settings.f1 and without_words.worse
    report = without_words.to_dict()
    assert report["replaced"] is False and report["settings"]["words"] is False
    assert report["before"]["current_settings_cross_validated"]["f1"] > report["after"]["cross_validated"]["f1"]
    record = without_words.layer_record(["labels.jsonl"], forced=True, replaces=layer.version)
    assert record["forced"] is True and record["replaces"] == layer.version


def test_compare_training_without_a_layer_is_never_worse_and_needs_enough_labels(tmp_path: Path) -> None:
    topic = load_topics([TOPIC]).get("envoy-rows")
    data = examples(topic, read_labels(write_labels(tmp_path / "labels.jsonl")))
    fresh = compare_training(topic, data)
    assert fresh.current_layer is None and fresh.current_settings is None and not fresh.worse
    assert fresh.to_dict()["before"]["current_layer"] is None
    with pytest.raises(TooFewLabels, match="needs at least 5 of each"):
        compare_training(topic, [e for e in data if e.label][:3] + [e for e in data if not e.label])


# The commands ----------------------------------------------------------------------


def test_topics_train_writes_a_layer_and_list_shows_its_figures(tmp_path: Path) -> None:
    runner = CliRunner()
    labels = write_labels(tmp_path / "labels.jsonl")
    topic_file = topic_folder(tmp_path)
    config = tmp_path / "newswatch.yaml"
    config.write_text(f"topics: {topic_file.name}\n", encoding="utf-8")
    result = runner.invoke(app, ["topics", "train", "envoy-rows", "--labels", str(labels), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "before  rules alone" in result.output and "after   new layer" in result.output
    assert "learned: envoy-rows.learned.json" in result.output
    assert (tmp_path / "envoy-rows.learned.json").exists()

    topic_folder(tmp_path, "envoy-rows.learned.json")
    listed = runner.invoke(app, ["topics", "list", "--config", str(config), "--format", "json"])
    learned = json.loads(listed.output)[0]["learned"]
    assert learned["file"].endswith("envoy-rows.learned.json")
    assert learned["figures"]["cross_validated"]["precision"] > 0.5
    text = runner.invoke(app, ["topics", "list", "--config", str(config)]).output
    assert f"learned layer v{learned['version']}" in text and "cross_validated: precision" in text


def test_topics_train_refuses_a_worse_layer_unless_forced(tmp_path: Path) -> None:
    labels = word_ending_labels(tmp_path / "labels.jsonl")
    topic = load_topics([TOPIC]).get("envoy-rows")
    train_layer(topic, examples(topic, read_labels(labels)), TrainingSettings(words=True, min_document_frequency=2)).write(
        tmp_path / "envoy-rows.learned.json"
    )
    topic_folder(tmp_path, "envoy-rows.learned.json")
    config = tmp_path / "newswatch.yaml"
    config.write_text("topics: envoy-rows.yaml\n", encoding="utf-8")
    runner = CliRunner()
    without_words = ["topics", "train", "envoy-rows", "--labels", str(labels), "--config", str(config), "--no-words"]
    before = (tmp_path / "envoy-rows.learned.json").read_text()
    refused = runner.invoke(app, without_words)
    assert refused.exit_code == 1, refused.output
    assert "not replacing the layer" in refused.output and "--force" in refused.output
    assert (tmp_path / "envoy-rows.learned.json").read_text() == before

    forced = runner.invoke(app, [*without_words, "--force"])
    assert forced.exit_code == 0, forced.output
    data = json.loads((tmp_path / "envoy-rows.learned.json").read_text())
    assert data["training"]["forced"] is True and data["training"]["replaces"] == json.loads(before)["version"]
    assert data["words"] == {}


def test_topics_train_with_the_same_settings_on_more_labels_replaces_the_layer(tmp_path: Path) -> None:
    # A layer trained on half the labels, then retrained on all of them with its own
    # settings: the yardstick is those settings cross-validated on the same labels, not the
    # old layer scored on articles it was trained on, so this is never refused as worse.
    rng = random.Random(7)
    rows = []
    for n in range(20):
        for label, ending in ((1, "Ministers called it a grave breach."), (0, "Guests later enjoyed the buffet.")):
            title, body = relevant(rng)
            rows.append({"id": f"{label}-{n}", "title": title, "text": f"{body} {ending}", "envoy_rows": label})
    half, whole = tmp_path / "half.jsonl", tmp_path / "whole.jsonl"
    half.write_text("\n".join(json.dumps(r) for r in rows[:20]) + "\n", encoding="utf-8")
    whole.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    topic = load_topics([TOPIC]).get("envoy-rows")
    settings = TrainingSettings(words=True, min_document_frequency=2)
    train_layer(topic, examples(topic, read_labels(half)), settings).write(tmp_path / "envoy-rows.learned.json")
    topic_folder(tmp_path, "envoy-rows.learned.json")
    config = tmp_path / "newswatch.yaml"
    config.write_text("topics: envoy-rows.yaml\n", encoding="utf-8")
    before = json.loads((tmp_path / "envoy-rows.learned.json").read_text())

    result = CliRunner().invoke(app, ["topics", "train", "envoy-rows", "--labels", str(whole), "--config", str(config),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["replaced"] is True
    assert report["before"]["current_settings_cross_validated"] == report["after"]["cross_validated"]
    after = json.loads((tmp_path / "envoy-rows.learned.json").read_text())
    assert after["version"] != before["version"] and after["training"]["forced"] is False


def test_topics_train_needs_enough_labels(tmp_path: Path) -> None:
    labels = tmp_path / "few.jsonl"
    labels.write_text(json.dumps({"id": "1", "title": "Envoy row", "text": "The ambassador was summoned.", "envoy_rows": 1}) + "\n")
    topic_folder(tmp_path)
    config = tmp_path / "newswatch.yaml"
    config.write_text("topics: envoy-rows.yaml\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["topics", "train", "envoy-rows", "--labels", str(labels), "--config", str(config)])
    assert result.exit_code == 2 and "needs at least 5 of each" in result.output


def test_a_definition_with_features_can_be_shown_as_yaml(tmp_path: Path) -> None:
    # The web's topic page prints the normalised definition of a topic file with yaml.safe_dump.
    import yaml

    topic = load_topics(str(topic_folder(tmp_path))).get("envoy-rows")
    shown = yaml.safe_load(yaml.safe_dump(topic.definition))
    assert shown["features"]["culture"][0] == -1


def test_a_words_only_layer_is_written_loaded_and_decides_by_words(tmp_path: Path) -> None:
    # named_features=False: a plain text model used as a veto on the rules' candidates. Its
    # file weighs words alone, loads like any layer and tells apart articles that differ
    # only in a closing sentence no rule or feature query reads.
    rng = random.Random(11)
    rows = []
    for n in range(20):
        for label, ending in ((1, "Ministers called it a grave breach."), (0, "Guests later enjoyed the buffet.")):
            title, body = relevant(rng)
            rows.append({"id": f"{label}-{n}", "title": title, "text": f"{body} {ending}", "envoy_rows": label})
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    topic = load_topics([TOPIC]).get("envoy-rows")
    data = examples(topic, read_labels(labels))
    settings = TrainingSettings(named_features=False, words=True, word_scale=1.0, regularisation=10.0,
                                threshold=0.5, min_document_frequency=2)
    train_layer(topic, data, settings).write(tmp_path / "envoy-rows.learned.json")
    written = json.loads((tmp_path / "envoy-rows.learned.json").read_text())
    assert written["features"] == {} and "buffet" in written["words"]
    assert written["training"]["settings"]["named_features"] is False

    topics = load_topics(str(topic_folder(tmp_path, "envoy-rows.learned.json")))
    loaded = topics.get("envoy-rows")
    assert loaded.learned is not None and loaded.learned.version == written["version"]
    title, body = relevant(random.Random(99))
    breach = score_topic(loaded, topics.index(Document(title, f"{body} Ministers called it a grave breach.")), complete=True)
    buffet = score_topic(loaded, topics.index(Document(title, f"{body} Guests later enjoyed the buffet.")), complete=True)
    assert breach.matched and not buffet.matched
    assert breach.learned is not None and buffet.learned is not None
    assert breach.learned.probability > buffet.learned.probability
    assert all(c.feature.startswith("word:") for c in buffet.learned.contributions)

    with pytest.raises(ValueError, match="nothing to learn from"):
        train_layer(topic, data, TrainingSettings(named_features=False))
