"""Character n-gram TF-IDF features for Rasa, over the whole message text.

Why not a second ``CountVectorsFeaturizer`` (measured with ``python -m nlu eval`` and 5-fold CV,
see nlu/config.yml): it counts n-grams of jieba tokens joined with spaces, so a bigram never
crosses a word boundary, and raw counts weigh 的/了/我 as much as 漏/暖/梯. In residents' short
messages the meaning is in a few characters; IDF weighting (rare characters count more),
sublinear term frequency and L2 length normalisation let those characters carry it.

Sentence features: the TF-IDF vector of the message text. Sequence features: one row per jieba
token (the TF-IDF vector of that token's characters), so DIET's transformer still sees words.
Runs inside nlu/.venv (Rasa's Python): numpy, scipy and scikit-learn come with Rasa.
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
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "char_tfidf.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class CharTfidfFeaturizer(SparseFeaturizer, GraphComponent):
    """TF-IDF of character n-grams of the message text (sentence) and of each token (sequence)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **SparseFeaturizer.get_default_config(),
            "min_ngram": 1,
            "max_ngram": 2,
            "sublinear_tf": True,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not 1 <= config["min_ngram"] <= config["max_ngram"]:
            raise ValueError("CharTfidfFeaturizer needs 1 <= min_ngram <= max_ngram")

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: dict[str, int] | None = None,
        idf: list[float] | None = None,
    ) -> None:
        super().__init__(self.__class__.__name__, config)
        self._model_storage = model_storage
        self._resource = resource
        self._counter: CountVectorizer | None = None
        self._idf: np.ndarray | None = None
        if vocabulary is not None and idf is not None:
            self._counter = self._make_counter(vocabulary)
            self._idf = np.asarray(idf, dtype=np.float64)

    def _make_counter(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        return CountVectorizer(
            analyzer="char",
            ngram_range=(self._config["min_ngram"], self._config["max_ngram"]),
            lowercase=True,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,  # noqa: ARG003 - Rasa's GraphComponent API
    ) -> CharTfidfFeaturizer:
        return cls(config, model_storage, resource)

    # --- training ------------------------------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if m.get(TEXT)]
        if not texts:
            logger.warning("CharTfidfFeaturizer: no texts to train on")
            return self._resource
        counter = self._make_counter()
        counts = counter.fit_transform(texts)
        # sklearn's smooth IDF: ln((1 + n) / (1 + df)) + 1, so an n-gram in every text still counts
        document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        self._idf = np.log((1 + len(texts)) / (1 + document_frequency)) + 1.0
        self._counter = counter
        with self._model_storage.write_to(self._resource) as directory:
            dump_obj_as_json_to_file(
                directory / VOCABULARY_FILE,
                {
                    "vocabulary": {k: int(v) for k, v in counter.vocabulary_.items()},
                    "idf": self._idf.tolist(),
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
    ) -> CharTfidfFeaturizer:
        try:
            with model_storage.read_from(resource) as directory:
                saved = read_json_file(directory / VOCABULARY_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("CharTfidfFeaturizer: no trained vocabulary in the model")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, saved["vocabulary"], saved["idf"])

    # --- featurizing ---------------------------------------------------------------------------
    def _tfidf(self, texts: list[str]) -> scipy.sparse.csr_matrix:
        assert self._counter is not None and self._idf is not None
        matrix = self._counter.transform(texts).tocsr()
        if self._config["sublinear_tf"]:
            matrix.data = 1.0 + np.log(matrix.data)
        matrix = matrix.multiply(self._idf).tocsr()
        return normalize(matrix, norm="l2", copy=False)

    def _featurize(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT])
        if not text or not tokens or self._counter is None:
            return
        sequence = self._tfidf([token.text for token in tokens]).tocoo()
        sentence = self._tfidf([text]).tocoo()
        self.add_features_to_message(sequence, sentence, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._featurize(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages
