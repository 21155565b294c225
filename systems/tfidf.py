"""A linear baseline with a tweet classifier of its own: TF-IDF + logistic regression for
7a, the dictionary lookup (:mod:`systems.lookup`) for 7b.

Task 7a: word n-grams and character n-grams (inside word boundaries) of each tweet,
TF-IDF weighted with sublinear term frequency, feed scikit-learn's
``LogisticRegression`` (``c`` is its ``C``; ``class_weight=balanced`` weighs the rare
positive class up). With ``lookup_features`` (the default) three more columns say what
the dictionary found in the tweet (matches per type, and whether any): for the training
tweets they come from dictionaries fitted on the other ``folds`` (out-of-fold), since a
dictionary always finds the mentions it was built from. The defaults (``c=10``, no class
weights, ``spans=positive``) had the best 5-fold cross-validated 7a F1 on ProfNER's train
split. A tweet is positive when the classifier's probability reaches ``threshold``.

Task 7b: a :class:`~systems.lookup.LookupSystem` fitted on all training tweets, with the
lookup options of this config, finds the spans. With ``spans=positive`` (the default)
they are kept only in tweets the classifier calls positive, which drops dictionary
matches in tweets that are not about work; ``spans=all`` keeps every match.

Saved without pickle: the lookup's ``dictionary.json``, the vocabularies and feature
settings as ``tfidf.json``, the IDF weights and coefficients as ``tfidf.npz`` (read with
``allow_pickle=False``).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import scipy.sparse
from pydantic import Field
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import FeatureUnion

from core.errors import HarnessError
from core.fileio import atomic_write_bytes, atomic_write_text
from core.system import System
from core.tweets import Prediction, Tweet
from systems.lookup import LookupConfig, LookupSystem

FEATURES_FILE = "tfidf.json"
WEIGHTS_FILE = "tfidf.npz"
#: TF-IDF settings common to both n-gram kinds (saved with the model)
TFIDF_SETTINGS: dict[str, Any] = {"lowercase": True, "sublinear_tf": True}


@dataclass
class TfidfConfig(LookupConfig):
    #: word n-grams of 1 to this many words (0: no word features)
    word_ngrams: Annotated[int, Field(ge=0)] = 2
    #: shortest character n-gram (taken inside word boundaries)
    char_min: Annotated[int, Field(ge=1)] = 2
    #: longest character n-gram (0: no character features)
    char_max: Annotated[int, Field(ge=0)] = 5
    #: ignore n-grams found in fewer training tweets than this
    min_df: Annotated[int, Field(ge=1)] = 2
    #: add the dictionary's matches (per type, any) to the classifier's features
    lookup_features: bool = True
    #: folds of the out-of-fold dictionary matches of the training tweets
    folds: Annotated[int, Field(ge=2)] = 5
    #: inverse regularisation strength of the logistic regression (scikit-learn's C)
    c: Annotated[float, Field(gt=0)] = 10.0
    #: none: every tweet alike; balanced: weigh each class inversely to its frequency
    class_weight: Literal["none", "balanced"] = "none"
    #: a tweet is positive (7a) when the classifier's probability reaches this
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: positive: keep the dictionary's spans only in tweets classified positive; all: all
    spans: Literal["positive", "all"] = "positive"
    #: iterations of the lbfgs solver
    max_iter: Annotated[int, Field(ge=1)] = 1000


class TfidfSystem(System):
    name = "tfidf"
    description = (
        "TF-IDF word and character n-grams (plus the dictionary's matches) and logistic "
        "regression for 7a; the lookup dictionary's spans for 7b, kept in tweets "
        "classified positive."
    )
    labels_from_spans = False
    Config = TfidfConfig
    config: TfidfConfig

    def __init__(self, config: TfidfConfig | None = None):
        super().__init__(config)
        self.lookup = LookupSystem(self._lookup_config())
        self.features: FeatureUnion | None = None
        self.classifier: LogisticRegression | None = None
        #: entity types of the dictionary-match columns (empty without lookup_features)
        self.hit_types: tuple[str, ...] = ()

    def _lookup_config(self) -> LookupConfig:
        """The lookup options of this config, for the composed dictionary system."""
        return LookupConfig(**{f.name: getattr(self.config, f.name) for f in fields(LookupConfig)})

    def _ngram_kinds(self) -> list[dict[str, Any]]:
        """The enabled vectorizers as JSON-ready settings (name, analyzer, ngram_range)."""
        config = self.config
        kinds: list[dict[str, Any]] = []
        if config.word_ngrams > 0:
            kinds.append(
                {"name": "word", "analyzer": "word", "ngram_range": [1, config.word_ngrams]}
            )
        if config.char_max > 0:
            if config.char_max < config.char_min:
                raise HarnessError(
                    f"tfidf: char_max ({config.char_max}) is below char_min "
                    f"({config.char_min}); set char_max=0 for no character features"
                )
            kinds.append(
                {
                    "name": "char",
                    "analyzer": "char_wb",
                    "ngram_range": [config.char_min, config.char_max],
                }
            )
        if not kinds:
            raise HarnessError("tfidf: no n-gram features (word_ngrams=0 and char_max=0)")
        return kinds

    def _hits(self, found: Sequence[Prediction]) -> np.ndarray:
        """The dictionary-match columns: matches of each type, and 1 when any."""
        return np.array(
            [
                [sum(s.type == t for s in p.spans) for t in self.hit_types] + [float(bool(p.spans))]
                for p in found
            ],
            dtype=np.float64,
        ).reshape(len(found), len(self.hit_types) + 1)

    def _out_of_fold_hits(self, train: Sequence[Tweet]) -> np.ndarray:
        """Each training tweet's matches by a dictionary fitted without its fold."""
        hits = np.zeros((len(train), len(self.hit_types) + 1))
        folds = KFold(
            min(self.config.folds, len(train)), shuffle=True, random_state=self.config.seed
        )
        for rest, fold in folds.split(np.arange(len(train))):
            lookup = LookupSystem(self._lookup_config()).fit([train[i] for i in rest])
            hits[fold] = self._hits(lookup.predict([train[i] for i in fold]))
        return hits

    def _matrix(self, tweets: Sequence[Tweet], found: Sequence[Prediction]) -> Any:
        assert self.features is not None
        ngrams = self.features.transform([tweet.text for tweet in tweets])
        if not self.config.lookup_features:
            return ngrams
        return scipy.sparse.hstack([ngrams, self._hits(found)], format="csr")

    # -- System API --------------------------------------------------------------------------

    def fit(self, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None) -> TfidfSystem:
        for tweet in train:
            if tweet.label is None:
                raise HarnessError(f"tweet {tweet.id}: training tweets need a 7a label")
        labels = np.array([tweet.label for tweet in train], dtype=np.int64)
        if len(set(labels.tolist())) < 2:
            raise HarnessError("tfidf: the training tweets need both 7a labels, 0 and 1")
        features = FeatureUnion(
            [
                (kind["name"], _vectorizer(kind, min_df=self.config.min_df))
                for kind in self._ngram_kinds()
            ]
        )
        try:
            matrix = features.fit_transform([tweet.text for tweet in train])
        except ValueError as err:  # every n-gram pruned by min_df
            raise HarnessError(f"tfidf: no n-gram features left ({err})") from None
        self.lookup = LookupSystem(self._lookup_config())
        self.lookup.show_progress = self.show_progress
        self.lookup.fit(train)
        if self.config.lookup_features:
            self.hit_types = tuple(self.config.types)
            matrix = scipy.sparse.hstack([matrix, self._out_of_fold_hits(train)], format="csr")
        classifier = LogisticRegression(
            C=self.config.c,
            class_weight=None if self.config.class_weight == "none" else "balanced",
            max_iter=self.config.max_iter,
            random_state=self.config.seed,
        )
        classifier.fit(matrix, labels)
        self.features, self.classifier = features, classifier
        return self

    def probabilities(
        self, tweets: Sequence[Tweet], found: Sequence[Prediction] | None = None
    ) -> np.ndarray:
        """The classifier's probability that each tweet is positive (7a); ``found``: the
        dictionary's predictions for the same tweets, when already computed."""
        if self.features is None or self.classifier is None:
            raise HarnessError("tfidf: the system is not fitted")
        if not tweets:
            return np.zeros(0)
        if found is None:
            found = self.lookup.predict(tweets) if self.config.lookup_features else []
        return self.classifier.predict_proba(self._matrix(tweets, found))[:, 1]

    def predict(self, tweets: Sequence[Tweet]) -> list[Prediction]:
        self.lookup.show_progress = self.show_progress
        found = self.lookup.predict(tweets)
        probabilities = self.probabilities(tweets, found)
        predictions = []
        for tweet, probability, lookup in zip(tweets, probabilities, found, strict=True):
            label = int(probability >= self.config.threshold)
            keep = lookup.spans if label or self.config.spans == "all" else ()
            predictions.append(Prediction.from_spans(tweet.id, keep, label=label))
        return predictions

    def parameter_count(self) -> int:
        """Coefficients, intercept and IDF weights of the classifier, plus dictionary entries."""
        learned = self.lookup.parameter_count()
        if self.features is not None and self.classifier is not None:
            learned += self.classifier.coef_.size + self.classifier.intercept_.size
            learned += sum(v.idf_.size for _, v in self.features.transformer_list)
        return learned

    def save_model(self, folder: Path) -> None:
        if self.features is None or self.classifier is None:
            raise HarnessError("tfidf: the system is not fitted; nothing to save")
        self.lookup.save_model(folder)
        kinds, arrays = [], {}
        for name, vectorizer in self.features.transformer_list:
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
            kinds.append(
                {
                    "name": name,
                    "analyzer": vectorizer.analyzer,
                    "ngram_range": list(vectorizer.ngram_range),
                    "vocabulary": terms,
                }
            )
            arrays[f"idf_{name}"] = vectorizer.idf_
        meta = {
            "settings": TFIDF_SETTINGS,
            "ngrams": kinds,
            "hit_types": list(self.hit_types) if self.config.lookup_features else None,
            "classes": self.classifier.classes_.tolist(),
        }
        arrays["coef"] = self.classifier.coef_
        arrays["intercept"] = self.classifier.intercept_
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_text(folder / FEATURES_FILE, json.dumps(meta, ensure_ascii=False))
        atomic_write_bytes(folder / WEIGHTS_FILE, buffer.getvalue())

    @classmethod
    def load_model(cls, folder: Path, config: TfidfConfig) -> TfidfSystem:  # type: ignore[override]
        system = cls(config)
        system.lookup = LookupSystem.load_model(folder, system._lookup_config())
        meta_path, weights_path = folder / FEATURES_FILE, folder / WEIGHTS_FILE
        for path in (meta_path, weights_path):
            if not path.is_file():
                raise HarnessError(f"{path}: missing; the tfidf model cannot be loaded")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with np.load(weights_path, allow_pickle=False) as weights:
                arrays = {key: weights[key] for key in weights.files}
            transformers = []
            for kind in meta["ngrams"]:
                vectorizer = _vectorizer(kind, meta["settings"], vocabulary=kind["vocabulary"])
                vectorizer.idf_ = arrays[f"idf_{kind['name']}"]
                transformers.append((kind["name"], vectorizer))
            if (meta["hit_types"] is not None) != config.lookup_features:
                raise ValueError("its dictionary features disagree with lookup_features")
            system.hit_types = tuple(meta["hit_types"] or ())
            classifier = LogisticRegression(C=config.c, max_iter=config.max_iter)
            classifier.classes_ = np.array(meta["classes"])
            classifier.coef_ = arrays["coef"]
            classifier.intercept_ = arrays["intercept"]
            width = sum(len(kind["vocabulary"]) for kind in meta["ngrams"])
            if config.lookup_features:
                width += len(system.hit_types) + 1
            if classifier.coef_.shape != (1, width) or classifier.intercept_.shape != (1,):
                raise ValueError(
                    f"coefficients of shape {classifier.coef_.shape}, {width} features"
                )
            classifier.n_features_in_ = width
        except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as err:
            raise HarnessError(f"{folder}: malformed tfidf model ({err})") from None
        system.features = FeatureUnion(transformers)
        system.classifier = classifier
        return system


def _vectorizer(
    kind: dict[str, Any], settings: dict[str, Any] = TFIDF_SETTINGS, **extra: Any
) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=kind["analyzer"], ngram_range=tuple(kind["ngram_range"]), **settings, **extra
    )
