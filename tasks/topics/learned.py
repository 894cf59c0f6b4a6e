"""A topic's learned layer: a small logistic model over named features, read from JSON.

The file lives beside the topic's YAML (the topic names it with ``learned: FILE``). It is
plain JSON, written by ``newswatch topics train`` and readable by a person: every weight
has the name of what it measures (see :mod:`tasks.topics.features`). No pickles, nothing
fetched: loading is reading a file.

    {
      "format": 1, "feature_set": 1, "topic": "uk-us-relations",
      "version": "3f1c0a9be2d4",            # hash of everything below; part of the topic's version
      "created_at": "2026-12-03T10:00:00Z",
      "consult_from": 3.0,                   # the rules' score from which the layer decides
      "threshold": 0.42,                     # probability from which the topic alerts
      "intercept": -1.7,
      "features": {"pair.share": {"mean": 0.05, "scale": 0.07, "weight": 0.61}, ...},
      "words": {"special relationship": {"idf": 4.1, "weight": 0.8}, ...},
      "training": {"labels": [...], "articles": 518, "positives": 18, "settings": {...},
                   "cross_validated": {"precision": 0.9, "recall": 0.88, ...}, "forced": false}
    }

The probability is ``1 / (1 + exp(-(intercept + Σ weight·z + Σ word weight·tfidf)))`` with
``z = (value - mean) / scale`` capped at ±3 (:data:`tasks.topics.features.CLIP`); ``topics explain`` lists the largest terms of that sum.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.topics.engine import DocumentIndex
from tasks.topics.errors import TopicDefinitionError
from tasks.topics.features import FEATURE_SET, measure, standardised, tfidf, word_counts

if TYPE_CHECKING:
    from tasks.topics.loader import Topic
    from tasks.topics.scoring import TopicScore

FORMAT = 1
TOP_CONTRIBUTIONS = 8


@dataclass(frozen=True)
class Contribution:
    """One feature's share of the learned layer's decision (in log-odds)."""

    feature: str
    value: float
    weight: float
    contribution: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": round(self.value, 4),
            "weight": round(self.weight, 4),
            "contribution": round(self.contribution, 4),
        }


@dataclass(frozen=True)
class LearnedOutcome:
    """The learned layer's answer for one document."""

    probability: float
    threshold: float
    version: str
    contributions: tuple[Contribution, ...]  # largest first, by absolute size
    intercept: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.probability >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 4),
            "threshold": round(self.threshold, 4),
            "accepted": self.accepted,
            "version": self.version,
            "intercept": round(self.intercept, 4),
            "contributions": [c.to_dict() for c in self.contributions],
        }


@dataclass(frozen=True)
class FeatureWeight:
    mean: float
    scale: float
    weight: float


@dataclass
class LearnedLayer:
    """A trained layer: weights by feature name, the probability threshold and its record."""

    topic_id: str
    threshold: float
    intercept: float
    consult_from: float
    features: dict[str, FeatureWeight]
    words: dict[str, tuple[float, float]]  # word -> (idf, weight)
    training: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    path: str | None = None

    @property
    def version(self) -> str:
        return content_version(self.to_dict(with_version=False))

    @property
    def idf(self) -> dict[str, float]:
        return {w: idf for w, (idf, _) in self.words.items()}

    # Scoring -----------------------------------------------------------------------

    def log_odds(self, values: dict[str, float], word_weights: dict[str, float]) -> list[Contribution]:
        parts = []
        for name, fw in self.features.items():
            value = values.get(name, 0.0)
            parts.append(Contribution(name, value, fw.weight, fw.weight * standardised(value, fw.mean, fw.scale)))
        for word, tfidf_value in word_weights.items():
            weight = self.words[word][1]
            parts.append(Contribution(f"word:{word}", tfidf_value, weight, weight * tfidf_value))
        return parts

    def assess(self, topic: Topic, index: DocumentIndex, score: TopicScore) -> LearnedOutcome:
        values = measure(topic, index, score)
        word_weights = tfidf(word_counts(index.doc), self.idf) if self.words else {}
        parts = self.log_odds(values, word_weights)
        z = self.intercept + sum(p.contribution for p in parts)
        top = sorted((p for p in parts if p.contribution), key=lambda p: -abs(p.contribution))
        return LearnedOutcome(
            probability=sigmoid(z), threshold=self.threshold, version=self.version,
            contributions=tuple(top[:TOP_CONTRIBUTIONS]), intercept=self.intercept,
        )

    # The file ----------------------------------------------------------------------

    def to_dict(self, with_version: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "feature_set": FEATURE_SET,
            "topic": self.topic_id,
            "created_at": self.created_at,
            "consult_from": self.consult_from,
            "threshold": self.threshold,
            "intercept": self.intercept,
            "features": {
                name: {"mean": fw.mean, "scale": fw.scale, "weight": fw.weight}
                for name, fw in sorted(self.features.items())
            },
            "words": {w: {"idf": idf, "weight": weight} for w, (idf, weight) in sorted(self.words.items())},
            "training": self.training,
        }
        if with_version:
            data = {"format": FORMAT, "version": self.version, **data}
        return data

    def write(self, path: Path) -> None:
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False, sort_keys=False)
        path.write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, topic_id: str) -> LearnedLayer:
        """Read and check a layer file; :class:`TopicDefinitionError` names what is wrong."""
        where = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TopicDefinitionError(
                "the learned layer file does not exist (train one with `newswatch topics train`,"
                " or remove learned: from the topic)", file=where, topic=topic_id,
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TopicDefinitionError(f"cannot read the learned layer: {exc}", file=where, topic=topic_id) from None
        except json.JSONDecodeError as exc:
            raise TopicDefinitionError(
                f"the learned layer is not valid JSON ({exc.msg})", file=where, topic=topic_id, line=exc.lineno
            ) from None
        try:
            return cls._from_dict(data, topic_id, where)
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise TopicDefinitionError(f"the learned layer is malformed: {detail}", file=where, topic=topic_id) from None

    @classmethod
    def _from_dict(cls, data: Any, topic_id: str, where: str) -> LearnedLayer:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}; this version of newswatch reads format {FORMAT}")
        if data.get("feature_set") != FEATURE_SET:
            raise ValueError(
                f"trained on feature set {data.get('feature_set')!r}, this version computes set"
                f" {FEATURE_SET}: train the layer again"
            )
        if data.get("topic") != topic_id:
            raise ValueError(f"it was trained for topic {data.get('topic')!r}, not {topic_id!r}")
        features = {
            str(name): FeatureWeight(_number(v["mean"]), _positive(v["scale"]), _number(v["weight"]))
            for name, v in dict(data["features"]).items()
        }
        words = {str(w): (_positive(v["idf"]), _number(v["weight"])) for w, v in dict(data.get("words") or {}).items()}
        layer = cls(
            topic_id=topic_id,
            threshold=_probability(data["threshold"]),
            intercept=_number(data["intercept"]),
            consult_from=_number(data["consult_from"]),
            features=features,
            words=words,
            training=dict(data.get("training") or {}),
            created_at=str(data.get("created_at") or ""),
            path=where,
        )
        written = data.get("version")
        if written is not None and written != layer.version:
            raise ValueError(
                f"its version {written!r} does not match its content ({layer.version}): the file was"
                " edited by hand; train it again or correct the version"
            )
        return layer

    def check_features(self, known: set[str], topic_id: str) -> None:
        """Every feature the layer weighs must be one the topic computes."""
        unknown = sorted(set(self.features) - known)
        if unknown:
            raise TopicDefinitionError(
                f"the learned layer weighs feature(s) the topic does not define: {', '.join(unknown[:5])};"
                " train the layer again after changing the topic's rules or features",
                file=self.path, topic=topic_id,
            )


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def content_version(data: dict[str, Any]) -> str:
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, found {value!r}")
    return float(value)


def _positive(value: Any) -> float:
    number = _number(value)
    if number <= 0:
        raise ValueError(f"expected a positive number, found {value!r}")
    return number


def _probability(value: Any) -> float:
    number = _number(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, found {value!r}")
    return number
