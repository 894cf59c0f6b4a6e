"""Training a topic's learned layer from labelled articles, and figures that are honest.

The layer is an L2-regularised logistic regression with balanced class weights over the
named features of :mod:`tasks.topics.features`. Its probability threshold is chosen on
out-of-fold predictions inside the training data (so a threshold is never chosen on the
articles it is scored on), and :func:`cross_validate` repeats the whole procedure,
threshold choice included, inside each training fold: nested cross-validation.

Only the rules' candidates matter (an article the rules do not put forward never alerts),
but the model learns from every labelled article: the many easy negatives teach it what
ordinary news looks like.

numpy is needed here, and only here: matching never imports this module.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from storage.clock import utcnow
from tasks.topics.engine import DocumentIndex
from tasks.topics.evaluation import LabelledArticle, PrecisionRecall, label_column, wilson_interval
from tasks.topics.features import CLIP, measure, tfidf, word_counts
from tasks.topics.learned import FeatureWeight, LearnedLayer, sigmoid
from tasks.topics.loader import Topic
from tasks.topics.scoring import score_topic


@dataclass(frozen=True)
class TrainingSettings:
    """Everything a training run chooses; recorded in the layer file."""

    regularisation: float = 0.03  # C: smaller is simpler (stronger L2 penalty)
    consult_from: float | None = None  # the rules' score from which the layer decides; None: min_score
    words: bool = False  # also weigh words and word pairs (TF-IDF)
    named_features: bool = True  # False: words alone (a plain text model used as a veto)
    word_scale: float = 5.0  # how loud words are beside the standardised features
    # The probability from which the topic alerts. With balanced class weights 0.5 is the
    # natural boundary; None chooses it by F1 on out-of-fold predictions (inner CV).
    threshold: float | None = 0.5
    min_document_frequency: int = 3
    max_vocabulary: int = 3000
    folds: int = 5
    repeats: int = 3
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Example:
    """One labelled article as training sees it."""

    id: str
    label: int
    eligible: bool  # passes the topic's filters, required rules and exclusions
    decided: bool  # a decisive rule alerts on it whatever the layer says
    rule_score: float
    values: dict[str, float]
    words: Counter[str]

    def candidate(self, consult_from: float) -> bool:
        return self.eligible and self.rule_score >= consult_from

    def alerts(self, consult_from: float, accepted: bool) -> bool:
        """Whether the topic alerts, given the layer's answer: as :func:`score_topic` decides."""
        return self.eligible and (self.decided or (self.rule_score >= consult_from and accepted))


@dataclass
class Figures(PrecisionRecall):
    """Precision and recall pooled over folds (and repeats), with 95 % Wilson intervals."""

    true_positives: float = 0
    false_positives: float = 0
    false_negatives: float = 0
    runs: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


    def to_dict(self) -> dict[str, Any]:
        # Intervals from one run's counts (the mean over repeats): repeats are not new data.
        tp, fp, fn = (round(x / self.runs) for x in (self.true_positives, self.false_positives, self.false_negatives))
        return {
            "precision": round(self.precision, 4),
            "precision_95": [round(x, 4) for x in wilson_interval(tp, tp + fp)],
            "recall": round(self.recall, 4),
            "recall_95": [round(x, 4) for x in wilson_interval(tp, tp + fn)],
            "f1": round(self.f1, 4),
            "true_positives": round(self.true_positives / self.runs, 2),
            "false_positives": round(self.false_positives / self.runs, 2),
            "false_negatives": round(self.false_negatives / self.runs, 2),
            **self.extra,
        }


# Examples -------------------------------------------------------------------------


def examples(topic: Topic, articles: Sequence[LabelledArticle]) -> list[Example]:
    """The articles that carry a label for the topic, measured once by the rules alone."""
    column = label_column(topic.id)
    rules_only = replace(topic, learned=None)
    found = []
    for article in articles:
        label = article.labels.get(column)
        if label is None:
            continue
        index = DocumentIndex(article.document)
        scored = score_topic(rules_only, index, complete=True)
        blocked = any(o.rule.required and not o.fired for o in scored.rules) or any(
            o.fired for o in scored.exclusions
        )
        gated = any(r.startswith(("language ", "source ")) for r in scored.reasons)
        found.append(
            Example(
                id=article.id, label=int(label), eligible=not (blocked or gated),
                decided=scored.decided_by_rules,
                rule_score=scored.rule_score, values=measure(rules_only, index, scored),
                words=word_counts(article.document),
            )
        )
    return found


# The model ------------------------------------------------------------------------


class _Design:
    """Turns examples into a matrix the way a layer file will read them back."""

    def __init__(self, topic: Topic, train: Sequence[Example], settings: TrainingSettings) -> None:
        self.names = sorted(topic.feature_names()) if settings.named_features else []
        values = np.array([[e.values.get(n, 0.0) for n in self.names] for e in train]).reshape(
            len(train), len(self.names)
        )
        self.mean = values.mean(axis=0)
        self.scale = values.std(axis=0)
        self.scale[self.scale < 1e-6] = 1.0  # a constant feature: weight stays 0 under L2
        self.vocabulary: list[str] = []
        self.idf = np.zeros(0)
        if settings.words:
            df: Counter[str] = Counter()
            for e in train:
                df.update(e.words.keys())
            ranked = sorted(
                (w for w, n in df.items() if n >= settings.min_document_frequency), key=lambda w: (-df[w], w)
            )
            self.vocabulary = ranked[: settings.max_vocabulary]
            n = len(train)
            self.idf = np.array([math.log((1 + n) / (1 + df[w])) + 1.0 for w in self.vocabulary])
        self.column = {w: i for i, w in enumerate(self.vocabulary)}
        self.sides = np.array([topic.side_of(n) for n in self.names] + [0] * len(self.vocabulary))
        self.word_scale = settings.word_scale

    def matrix(self, batch: Sequence[Example]) -> np.ndarray:
        values = np.array([[e.values.get(n, 0.0) for n in self.names] for e in batch]).reshape(
            len(batch), len(self.names)
        )
        parts = [np.clip((values - self.mean) / self.scale, -CLIP, CLIP)]
        if self.vocabulary:
            words = np.zeros((len(batch), len(self.vocabulary)))
            for row, e in enumerate(batch):
                for w, count in e.words.items():
                    col = self.column.get(w)
                    if col is not None:
                        words[row, col] = (1.0 + math.log(count)) * self.idf[col]
            norms = np.linalg.norm(words, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            parts.append(words / norms * self.word_scale)
        return np.hstack(parts)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))
    return result


def fit_logistic(x: np.ndarray, y: np.ndarray, regularisation: float) -> tuple[np.ndarray, float]:
    """L2 logistic regression, balanced class weights, intercept not penalised.

    Truncated Newton (conjugate gradient on Hessian-vector products), as liblinear does:
    exact to the tolerance and deterministic, with no solver library to install.
    """
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    positives = max(int(y.sum()), 1)
    negatives = max(n - int(y.sum()), 1)
    sample = np.where(y == 1, n / (2 * positives), n / (2 * negatives))
    penalty = np.full(d + 1, 1.0 / regularisation)
    penalty[-1] = 1e-8
    w = np.zeros(d + 1)
    for _ in range(50):
        p = _sigmoid(xb @ w)
        gradient = xb.T @ (sample * (p - y)) + penalty * w
        if np.linalg.norm(gradient) < 1e-7:
            break
        curvature = sample * p * (1 - p)
        step = np.zeros_like(w)
        residual = -gradient
        direction = residual.copy()
        rr = residual @ residual
        for _ in range(100):
            hd = xb.T @ (curvature * (xb @ direction)) + penalty * direction
            alpha = rr / (direction @ hd)
            step += alpha * direction
            residual -= alpha * hd
            rr_next = residual @ residual
            if rr_next < 1e-12 * max(1.0, rr):
                break
            direction = residual + (rr_next / rr) * direction
            rr = rr_next
        w += step
    return w[:-1], float(w[-1])


@dataclass
class _Model:
    design: _Design
    weights: np.ndarray
    intercept: float

    def probabilities(self, batch: Sequence[Example]) -> np.ndarray:
        if not batch:
            return np.zeros(0)
        return _sigmoid(self.design.matrix(batch) @ self.weights + self.intercept)


def fit_on_sides(
    x: np.ndarray, y: np.ndarray, sides: np.ndarray, regularisation: float
) -> tuple[np.ndarray, float]:
    """:func:`fit_logistic` with each weight kept on its feature's side (+1, -1; 0: free).

    Active set: fit, drop the features whose weight came out on the wrong side (their
    weight is 0), fit again on the rest, until every weight is on its side.
    """
    free = np.ones(x.shape[1], dtype=bool)
    while True:
        weights = np.zeros(x.shape[1])
        fitted, intercept = fit_logistic(x[:, free], y, regularisation)
        weights[free] = fitted
        wrong = free & (sides * weights < 0)
        if not wrong.any():
            return weights, intercept
        free &= ~wrong


def _fit(topic: Topic, train: Sequence[Example], settings: TrainingSettings) -> _Model:
    design = _Design(topic, train, settings)
    y = np.array([e.label for e in train], dtype=float)
    weights, intercept = fit_on_sides(design.matrix(train), y, design.sides, settings.regularisation)
    return _Model(design, weights, intercept)


def stratified_folds(labels: Sequence[int], k: int, seed: int) -> list[int]:
    rng = np.random.RandomState(seed)
    fold = np.zeros(len(labels), dtype=int)
    labels_array = np.array(labels)
    for value in (0, 1):
        members = np.where(labels_array == value)[0]
        rng.shuffle(members)
        fold[members] = np.arange(len(members)) % k
    return [int(f) for f in fold]


def best_threshold(
    probabilities: np.ndarray, labels: np.ndarray, candidates: np.ndarray, decided: np.ndarray
) -> float:
    """The probability threshold with the best F1 of the topic's alerts."""
    best_f1, best = -1.0, 0.5
    wanted = int(labels.sum())
    for threshold in np.unique(probabilities[candidates]):
        alert = decided | (candidates & (probabilities >= threshold))
        tp = int((alert & (labels == 1)).sum())
        found = int(alert.sum())
        if not found or not wanted:
            continue
        p, r = tp / found, tp / wanted
        f1 = 2 * p * r / (p + r) if tp else 0.0
        if f1 > best_f1 + 1e-12:
            best_f1, best = f1, float(threshold)
    return best


def _choose_threshold(topic: Topic, train: Sequence[Example], settings: TrainingSettings, seed: int) -> float:
    consult_from = _consult_from(topic, settings)
    folds = stratified_folds([e.label for e in train], settings.folds, seed)
    out_of_fold = np.zeros(len(train))
    for fold in range(settings.folds):
        inside = [e for e, f in zip(train, folds, strict=True) if f != fold]
        held = [i for i, f in enumerate(folds) if f == fold]
        model = _fit(topic, inside, settings)
        out_of_fold[held] = model.probabilities([train[i] for i in held])
    labels = np.array([e.label for e in train])
    candidates = np.array([e.candidate(consult_from) for e in train])
    decided = np.array([e.eligible and e.decided for e in train])
    return best_threshold(out_of_fold, labels, candidates, decided)


def _consult_from(topic: Topic, settings: TrainingSettings) -> float:
    return topic.min_score if settings.consult_from is None else settings.consult_from


# Public ---------------------------------------------------------------------------


def train_layer(
    topic: Topic, train: Sequence[Example], settings: TrainingSettings, record: dict[str, Any] | None = None
) -> LearnedLayer:
    """A layer trained on ``train``; its threshold chosen by cross-validation inside ``train``."""
    if not any(e.label for e in train) or all(e.label for e in train):
        raise ValueError(f"{topic.id}: training needs both relevant and not relevant articles")
    if not (settings.named_features or settings.words):
        raise ValueError(f"{topic.id}: nothing to learn from: set named_features or words")
    if settings.threshold is None:
        threshold = _choose_threshold(topic, train, settings, settings.seed + 1000)
    else:
        threshold = settings.threshold
    model = _fit(topic, train, settings)
    design = model.design
    count = len(design.names)
    features = {
        name: FeatureWeight(_r(design.mean[i]), _r(design.scale[i]), _r(model.weights[i]))
        for i, name in enumerate(design.names)
    }
    words = {
        w: (_r(design.idf[i]), _r(model.weights[count + i] * design.word_scale))
        for i, w in enumerate(design.vocabulary)
    }
    training = {
        "articles": len(train),
        "positives": sum(e.label for e in train),
        "settings": settings.to_dict(),
        **(record or {}),
    }
    return LearnedLayer(
        topic_id=topic.id, threshold=_r(threshold), intercept=_r(model.intercept),
        consult_from=float(_consult_from(topic, settings)), features=features, words=words,
        training=training, created_at=utcnow().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )


def rules_figures(topic: Topic, data: Sequence[Example]) -> Figures:
    """The rules alone, as the topic without a learned layer decides."""
    figures = Figures()
    for e in data:
        alert = e.candidate(topic.min_score)
        _count(figures, alert, e.label)
    return figures


def layer_figures(layer: LearnedLayer, topic: Topic, data: Sequence[Example]) -> Figures:
    """A trained layer on examples it was not trained on."""
    figures = Figures()
    for e in data:
        alert = e.alerts(layer.consult_from, layer_probability(layer, e) >= layer.threshold)
        _count(figures, alert, e.label)
    return figures


def layer_probability(layer: LearnedLayer, example: Example) -> float:
    """The probability the layer gives an example: the same sum as at matching time."""
    word_weights = tfidf(example.words, layer.idf) if layer.words else {}
    z = layer.intercept + sum(c.contribution for c in layer.log_odds(example.values, word_weights))
    return sigmoid(z)


def cross_validate(topic: Topic, data: Sequence[Example], settings: TrainingSettings) -> Figures:
    """Nested cross-validation of the whole training procedure (threshold choice included)."""
    figures = Figures(runs=settings.repeats)
    for repeat in range(settings.repeats):
        folds = stratified_folds([e.label for e in data], settings.folds, settings.seed + repeat)
        for fold in range(settings.folds):
            train = [e for e, f in zip(data, folds, strict=True) if f != fold]
            test = [e for e, f in zip(data, folds, strict=True) if f == fold]
            layer = train_layer(topic, train, replace(settings, seed=settings.seed + repeat))
            fold_figures = layer_figures(layer, topic, test)
            figures.true_positives += fold_figures.true_positives
            figures.false_positives += fold_figures.false_positives
            figures.false_negatives += fold_figures.false_negatives
    return figures


def _count(figures: Figures, alert: bool, label: int) -> None:
    if alert and label:
        figures.true_positives += 1
    elif alert:
        figures.false_positives += 1
    elif label:
        figures.false_negatives += 1


def _r(value: float) -> float:
    return float(round(float(value), 6))


# Retraining: the figures before and after, and whether the new layer is worse -------------


class TooFewLabels(ValueError):
    """Too few relevant or not relevant articles for the folds of cross-validation."""


@dataclass(frozen=True)
class TrainingComparison:
    """What ``topics train`` weighs before it replaces a topic's layer.

    ``current_layer`` is the current layer scored as it stands: shown, but no fair
    yardstick, since it may have been trained on some of these very articles. The refusal
    compares like with like instead: ``current_settings``, the current layer's settings
    cross-validated on these labels by the same folds as the new layer (``after``). The
    same settings on more labels are therefore never "worse".
    """

    topic_id: str
    articles: int
    relevant: int
    base: TrainingSettings  # the current layer's settings (the defaults without a layer)
    settings: TrainingSettings  # the new layer's
    rules_alone: Figures
    current_layer: Figures | None
    current_settings: Figures | None
    after: Figures

    @property
    def worse(self) -> bool:
        """The new settings cross-validate below the current layer's on these labels."""
        return self.current_settings is not None and self.after.f1 < self.current_settings.f1

    def to_dict(self) -> dict[str, Any]:
        """The report of ``topics train --format json`` (before the layer is written)."""
        return {
            "topic": self.topic_id,
            "articles": self.articles,
            "relevant": self.relevant,
            "settings": self.settings.to_dict(),
            "before": {
                "rules_alone": self.rules_alone.to_dict(),
                "current_layer": self.current_layer.to_dict() if self.current_layer else None,
                "current_settings_cross_validated": (
                    self.current_settings.to_dict() if self.current_settings else None
                ),
            },
            "after": {"cross_validated": self.after.to_dict()},
            "replaced": False,
        }

    def layer_record(self, labels: Sequence[str], *, forced: bool, replaces: str | None) -> dict[str, Any]:
        """What the new layer records of its training (beside its settings and counts)."""
        record: dict[str, Any] = {
            "labels": list(labels),
            "figures": {"cross_validated": self.after.to_dict(), "rules_alone": self.rules_alone.to_dict()},
            "forced": forced,
        }
        if replaces is not None:
            record["replaces"] = replaces
        return record


def training_settings(
    current: LearnedLayer | None, *, words: bool | None = None, regularisation: float | None = None
) -> tuple[TrainingSettings, TrainingSettings]:
    """The current layer's settings (the defaults without one) and the new run's: the
    current ones with ``words`` and ``regularisation`` changed where given."""
    base = TrainingSettings(**(current.training.get("settings") or {})) if current is not None else TrainingSettings()
    chosen = replace(
        base,
        words=base.words if words is None else words,
        regularisation=base.regularisation if regularisation is None else regularisation,
    )
    return base, chosen


def compare_training(
    topic: Topic, data: Sequence[Example], *, words: bool | None = None, regularisation: float | None = None
) -> TrainingComparison:
    """The figures before (rules alone, the current layer, its settings cross-validated)
    and after (the new settings, by the same folds). Raises :class:`TooFewLabels` when
    either side has fewer articles than folds."""
    current = topic.learned
    base, settings = training_settings(current, words=words, regularisation=regularisation)
    relevant = sum(e.label for e in data)
    if relevant < settings.folds or len(data) - relevant < settings.folds:
        raise TooFewLabels(
            f"{topic.id}: {len(data)} article(s) carry a {label_column(topic.id)} label, {relevant} relevant;"
            f" training needs at least {settings.folds} of each (label more articles)"
        )
    without_layer = replace(topic, learned=None)
    after = cross_validate(without_layer, data, settings)
    current_settings = None
    if current is not None:
        current_settings = after if settings == base else cross_validate(without_layer, data, base)
    return TrainingComparison(
        topic_id=topic.id, articles=len(data), relevant=relevant, base=base, settings=settings,
        rules_alone=rules_figures(topic, data),
        current_layer=layer_figures(current, topic, data) if current is not None else None,
        current_settings=current_settings, after=after,
    )
