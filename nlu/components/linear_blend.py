"""Blends DIET's intent ranking with a logistic regression over character TF-IDF features.

Why (measured by 5-fold cross-validation, see nlu/config.yml and nlu/reports/eval-report.md):
on ~2,000 short messages DIET fits its training data perfectly within a few epochs and is
confidently wrong on messages unlike any it saw, while a regularised linear model over
character n-grams generalises better but ranks worse where one character decides. A weighted
geometric mean of the two probability distributions beats either alone: each vetoes the
other's confident mistakes.

Runs after DIETClassifier (whose ``ranking_length`` must be 0, so every intent has a
confidence) and before FallbackClassifier, which then judges the blended confidence.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_blend.json"
# DIET's own ranking, kept in the parse result so that the evaluation can show what the blend adds
DIET_RANKING_KEY = "diet_intent_ranking"
FLOOR = 1e-6  # an intent DIET gave ~0 still keeps a finite log-probability


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearBlendClassifier(IntentClassifier, GraphComponent):
    """Logistic regression on one featurizer's sentence features, blended with DIET's ranking."""

    @classmethod
    def required_components(cls) -> list[type]:
        # Featurizer, not DIETClassifier: Rasa checks training dependencies, and training needs
        # only the features; at prediction time the pipeline order puts DIET's ranking first.
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "featurizer": None,  # alias of the featurizer whose sentence features it reads
            "C": 10.0,  # inverse L2 strength of the logistic regression
            "diet_weight": 0.3,  # exponent of DIET's probability; the linear model gets 1 - it
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: list[str] | None = None,
        coef: np.ndarray | None = None,
        intercept: np.ndarray | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        if not self._config["featurizer"]:
            raise ValueError("LinearBlendClassifier needs `featurizer`: a featurizer's alias")
        if not 0.0 <= self._config["diet_weight"] <= 1.0:
            raise ValueError("LinearBlendClassifier: diet_weight must be between 0 and 1")
        self._model_storage = model_storage
        self._resource = resource
        self._classes = classes or []
        self._coef = coef
        self._intercept = intercept

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,  # noqa: ARG003 - Rasa's GraphComponent API
    ) -> LinearBlendClassifier:
        return cls(config, model_storage, resource)

    def _features(self, message: Message) -> scipy.sparse.spmatrix | None:
        _, sentence = message.get_sparse_features(TEXT, [self._config["featurizer"]])
        return None if sentence is None else scipy.sparse.csr_matrix(sentence.features)

    # --- training ------------------------------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        rows, labels = [], []
        for example in training_data.intent_examples:
            features = self._features(example)
            if features is not None and example.get(INTENT):
                rows.append(features)
                labels.append(example.get(INTENT))
        if len(set(labels)) < 2:
            logger.warning("LinearBlendClassifier: fewer than two intents, nothing to learn")
            return self._resource
        model = LogisticRegression(C=self._config["C"], max_iter=5000, random_state=0)
        model.fit(scipy.sparse.vstack(rows).tocsr(), labels)
        self._classes = [str(c) for c in model.classes_]
        self._coef, self._intercept = model.coef_, model.intercept_
        with self._model_storage.write_to(self._resource) as directory:
            dump_obj_as_json_to_file(
                directory / MODEL_FILE,
                {
                    "classes": self._classes,
                    "coef": self._coef.tolist(),
                    "intercept": self._intercept.tolist(),
                },
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,  # noqa: ARG003 - Rasa's GraphComponent API
        **kwargs: Any,  # noqa: ARG003 - Rasa's GraphComponent API
    ) -> LinearBlendClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                saved = read_json_file(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearBlendClassifier: no trained model; DIET's ranking is kept")
            return cls(config, model_storage, resource)
        return cls(
            config,
            model_storage,
            resource,
            saved["classes"],
            np.asarray(saved["coef"]),
            np.asarray(saved["intercept"]),
        )

    # --- classifying ---------------------------------------------------------------------------
    def _linear_probabilities(self, features: scipy.sparse.spmatrix) -> np.ndarray:
        # multinomial logistic regression: softmax of the decision function
        scores = np.asarray(features @ self._coef.T).ravel() + self._intercept
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()

    def process(self, messages: list[Message]) -> list[Message]:
        if self._coef is None:
            return messages
        weight = self._config["diet_weight"]
        for message in messages:
            features = self._features(message)
            diet = {r["name"]: r["confidence"] for r in message.get(INTENT_RANKING_KEY) or []}
            if features is None or not diet:
                continue
            linear = self._linear_probabilities(features)
            diet_probabilities = np.array([max(diet.get(c, 0.0), FLOOR) for c in self._classes])
            blended = np.exp(weight * np.log(diet_probabilities) + (1 - weight) * np.log(linear))
            blended /= blended.sum()
            ranking = sorted(
                (
                    {"name": name, "confidence": float(p)}
                    for name, p in zip(self._classes, blended, strict=True)
                ),
                key=lambda r: -r["confidence"],
            )
            message.set(DIET_RANKING_KEY, message.get(INTENT_RANKING_KEY), add_to_output=True)
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
