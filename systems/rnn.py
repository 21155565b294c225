"""System 2 of the ProfNER winners: a small, fast RNN with character features and a CRF.

Paper section 2.3 and Table 3: each word token is the concatenation of a 300-d word vector
(pretrained skip-gram vectors when given, ``vectors=PATH``) and the last hidden states of
a bidirectional GRU (64) over the token's lower-cased characters (64-d embeddings). A
bidirectional GRU (512) contextualises the sequence. Task 7a pools it with a bidirectional
LSTM (64) whose last hidden states feed a linear layer (cross-entropy); task 7b passes each
token state through one feed-forward layer (128, ReLU), a linear layer and a CRF -- the
tagging head System 1 uses too (:class:`systems.neural.heads.CrfTagger`). The loss is the
sum of both task losses.

Every recurrent layer runs on packed sequences, so padding in a batch never changes a
tweet's result. The GRU/LSTM choices, sizes and dropout are options, so the paper's
architecture search can be repeated by a tuner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from core.errors import HarnessError
from core.inference_paths import InferencePath
from core.tweets import Tweet
from systems.neural.base import NeuralConfig, NeuralSystem
from systems.neural.char_states import CharStateTable
from systems.neural.contextual_words import ContextualWords
from systems.neural.examples import Example
from systems.neural.gazetteer_features import (
    GazetteerFeatures,
    GazetteerOptions,
    flag_batch,
    flag_count,
)
from systems.neural.heads import CrfTagger, LabelClassifier
from systems.neural.recurrent import last_states, make_rnn, packed_states
from systems.neural.vocabulary import (
    CHAR_SPECIALS,
    PAD_ID,
    WORD_SPECIALS,
    build_vocabularies,
    char_key,
    copy_vectors,
    read_vocabularies,
    with_specials,
    write_vocabularies,
)
from systems.neural.word_batches import gold_batch, token_batch

log = logging.getLogger("harness")

RnnKind = Literal["gru", "lstm"]


@dataclass
class RnnShape:
    """The options that fix the network's shapes (Table 3's sizes by default)."""

    word_dim: int = 300
    #: lower-case words for the word feature (the paper used cased vectors)
    lowercase: bool = False
    char_dim: int = 64
    char_rnn: RnnKind = "gru"
    char_hidden: int = 64
    #: longer tokens (URLs) keep their first and last characters, half each
    max_word_chars: int = 40
    encoder: RnnKind = "gru"
    encoder_hidden: int = 512
    encoder_layers: int = 1
    pooler: RnnKind = "lstm"
    pooler_hidden: int = 64
    #: hidden size of the 7b feed-forward layer (0: none)
    feedforward: int = 128
    #: width of the gazetteer flag embedding concatenated to each word (with a gazetteer)
    gazetteer_dim: int = 32


@dataclass
class RnnConfig(RnnShape, GazetteerOptions, NeuralConfig):
    """Options of System 2 (defaults: Table 3's architecture).

    The paper gives the architecture but not System 2's training values, only that they
    use System 1's optimiser and schedule (AdamW, linear warm-up then decay). System 1's
    values fine-tune a pretrained transformer (lr 3e-5, 4 epochs); a network trained from
    scratch needs a learning rate near Adam's usual 1e-3 and many more epochs, dropout
    against over-fitting 6,000 tweets, and gradient clipping, the usual guard against
    exploding RNN gradients.
    """

    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-2
    epochs: int = 20
    warmup_steps: int = 100
    dropout: float = 0.3
    max_grad_norm: float = 5.0
    predict_batch_size: int = 64

    #: pretrained word vectors (word2vec text/binary, fastText .vec, GloVe text); none:
    #: the word embedding is learned from scratch
    vectors: str | None = None
    #: train words (and characters) seen fewer times map to <unk>, so <unk> is trained on
    #: rare words, which is what unseen test words resemble; with vectors, rarer words the
    #: vectors cover are kept
    min_count: int = 2
    #: with vectors: also add the file's first N (most frequent) words to the vocabulary,
    #: so words absent from train keep their pretrained meaning at prediction time (the
    #: paper's vocabulary held 38k words; 0: train words only)
    vectors_vocab: int = 40000
    #: stacked embeddings: a pretrained encoder (a name as transformer's -o model= takes
    #: it, or a folder) whose frozen contextual word states join each word's features,
    #: computed once per tweet (the second-best ProfNER system's recipe); none: off
    contextual: str | None = None
    #: pieces per encoder window for the contextual features (longer tweets are windowed)
    contextual_max_length: int = 128


@dataclass(kw_only=True)
class RnnArchitecture(RnnShape):
    """Everything that fixes the shapes of a model; saved in ``architecture.json``."""

    vocabulary_size: int
    num_chars: int
    num_tags: int
    dropout: float = 0.3
    #: gazetteer flag labels (0: no gazetteer features)
    gazetteer_flags: int = 0
    #: width of the frozen contextual word features (0: none)
    contextual_dim: int = 0
    contextual_max_length: int = 128

    @classmethod
    def from_config(
        cls,
        config: RnnConfig,
        vocabulary_size: int,
        num_chars: int,
        num_tags: int,
        gazetteer_flags: int = 0,
        contextual_dim: int = 0,
    ) -> RnnArchitecture:
        shared = {f.name for f in fields(cls)} & {f.name for f in fields(config)}
        return cls(
            vocabulary_size=vocabulary_size,
            num_chars=num_chars,
            num_tags=num_tags,
            gazetteer_flags=gazetteer_flags,
            contextual_dim=contextual_dim,
            **{name: getattr(config, name) for name in shared},
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RnnArchitecture:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# -- the network -----------------------------------------------------------------------------


class RnnModel(nn.Module):
    """Word + character features, a recurrent encoder, the 7a pooler and the 7b tagger."""

    def __init__(self, arch: RnnArchitecture):
        super().__init__()
        self.word_embedding = nn.Embedding(arch.vocabulary_size, arch.word_dim, PAD_ID)
        self.char_embedding = nn.Embedding(arch.num_chars, arch.char_dim, PAD_ID)
        self.char_rnn = make_rnn(arch.char_rnn, arch.char_dim, arch.char_hidden)
        self.gazetteer = (
            GazetteerFeatures(arch.gazetteer_flags, arch.gazetteer_dim)
            if arch.gazetteer_flags
            else None
        )
        flag_width = arch.gazetteer_dim if arch.gazetteer_flags else 0
        self.encoder = make_rnn(
            arch.encoder,
            arch.word_dim + 2 * arch.char_hidden + flag_width + arch.contextual_dim,
            arch.encoder_hidden,
            arch.encoder_layers,
            arch.dropout,
        )
        self.pooler = make_rnn(arch.pooler, 2 * arch.encoder_hidden, arch.pooler_hidden)
        self.classifier = LabelClassifier(2 * arch.pooler_hidden, arch.dropout)
        self.tagger = CrfTagger(
            2 * arch.encoder_hidden, arch.num_tags, arch.dropout, hidden=arch.feedforward or None
        )
        self.dropout = nn.Dropout(arch.dropout)

    def encode(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Contextual token states ``(batch, tokens, 2 * encoder_hidden)``, zero on padding."""
        # one character pass per distinct token of the batch, then gathered per position;
        # in prediction, known words' states come from a table (``char_states``)
        chars = self.char_states(batch)
        parts = [self.word_embedding(batch["words"]), chars[batch["char_index"]]]
        if self.gazetteer is not None:
            parts.append(self.gazetteer(batch["gazetteer"]))
        if "contextual" in batch:
            parts.append(batch["contextual"])
        features = torch.cat(parts, dim=-1)
        return packed_states(self.encoder, self.dropout(features), batch["lengths"])

    def char_states(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The states of the batch's distinct tokens: those looked up in the table come
        first (``known_char_states``), the ones read by the character network follow."""
        parts = [batch["known_char_states"]] if "known_char_states" in batch else []
        if batch["chars"].shape[0]:
            embedded = self.char_embedding(batch["chars"])
            parts.append(last_states(self.char_rnn, embedded, batch["char_lengths"]))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def label_logits(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(last_states(self.pooler, self.dropout(states), lengths))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        states = self.encode(batch)
        loss_7b = self.tagger.loss(states, batch["tags"], batch["mask"])
        logits = self.label_logits(states, batch["lengths"])
        loss_7a = nn.functional.cross_entropy(logits, batch["labels"])
        return {"loss": loss_7a + loss_7b, "loss_7a": loss_7a, "loss_7b": loss_7b}

    def decode(self, batch: dict[str, torch.Tensor]) -> tuple[list[int], list[list[int]]]:
        states = self.encode(batch)
        labels = self.label_logits(states, batch["lengths"]).argmax(-1).tolist()
        return labels, self.tagger.decode(states, batch["mask"])


def parameter_breakdown(model: RnnModel) -> dict[str, int]:
    """Learned parameters per component (and ``total``), as Table 3 lists them."""
    parts: dict[str, nn.Module] = {
        "word_embedding": model.word_embedding,
        "char_embedding": model.char_embedding,
        "char_rnn": model.char_rnn,
        "encoder": model.encoder,
        "pooler_7a": model.pooler,
        "classifier_7a": model.classifier,
        "feedforward_7b": model.tagger.feedforward,
        "classifier_7b": model.tagger.classifier,
        "crf_7b": model.tagger.crf,
    }
    if model.gazetteer is not None:
        parts["gazetteer"] = model.gazetteer
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}
    counts["total"] = sum(counts.values())
    return counts


def table3_parameters(
    vocabulary_size: int = 38_000, num_chars: int = 500, num_tags: int = 5
) -> dict[str, int]:
    """The breakdown at Table 3's sizes (the default options) for a given vocabulary.

    The paper reports ~1.5e7 parameters; its vocabulary is not stated, 38k words is what
    that figure implies. ``num_chars`` barely matters (64 parameters each); ProfNER's
    train split has 557 distinct lower-cased characters. 5 tags: BIO over two types.
    """
    arch = RnnArchitecture.from_config(RnnConfig(), vocabulary_size, num_chars, num_tags)
    return parameter_breakdown(RnnModel(arch))  # ~60 MB for a moment, a quarter second


def format_breakdown(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counts.items())


# -- the system ------------------------------------------------------------------------------


class RnnSystem(NeuralSystem):
    """System 2 (see the module docstring); ``harness systems rnn`` lists its options."""

    name = "rnn"
    description = (
        "System 2 of the ProfNER winners: word vectors + character GRU, BiGRU encoder, "
        "BiLSTM-pooled 7a classifier and feed-forward + CRF 7b tagger (~1.5e7 parameters)"
    )
    labels_from_spans = False
    Config = RnnConfig
    config: RnnConfig

    def __init__(self, config: RnnConfig | None = None):
        super().__init__(config)
        self.words: list[str] = []
        self.chars: list[str] = []
        self.word_ids: dict[str, int] = {}
        self.char_ids: dict[str, int] = {}
        self.arch: RnnArchitecture | None = None
        #: known words' character states, once an inference path is chosen (prediction)
        self.char_table: CharStateTable | None = None
        #: the frozen encoder of the stacked embeddings (``contextual``), if any
        self.contextual: ContextualWords | None = None

    # -- vocabularies and model ------------------------------------------------------------

    @classmethod
    def untrained(cls, config: RnnConfig, words: Sequence[str], chars: Sequence[str]) -> RnnSystem:
        """A system with the given vocabularies and freshly initialised weights.

        Benchmarks use it to time Table 3's architecture at the paper's vocabulary size:
        latency does not depend on weight values, and no pretrained vectors are reachable.
        """
        system = cls(config)
        system._set_vocabularies(
            with_specials(WORD_SPECIALS, words), with_specials(CHAR_SPECIALS, chars)
        )
        system.arch = RnnArchitecture.from_config(
            config, len(system.words), len(system.chars), len(system.codec)
        )
        system.model = RnnModel(system.arch)
        system.architecture = {**asdict(system.arch), "untrained": True}
        return system

    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        cfg = self.config
        tokens = [t.text for example in train for t in example.tokens]
        words, chars, vectors = build_vocabularies(tokens, cfg, self.name)
        self._set_vocabularies(words, chars)
        if cfg.contextual:
            self.contextual = ContextualWords.pretrained(
                cfg.contextual,
                [[t.text for t in example.tokens] for example in train],
                cfg.contextual_max_length,
                self.show_progress,
            )
            self.contextual.keep = True  # for the fit that called build
        self.arch = RnnArchitecture.from_config(
            cfg,
            len(self.words),
            len(self.chars),
            len(self.codec),
            flag_count(self.codec.types) if self.gazetteer is not None else 0,
            self.contextual.width if self.contextual is not None else 0,
        )
        self.model = RnnModel(self.arch)
        architecture: dict[str, Any] = asdict(self.arch)
        if vectors is not None:
            architecture["vectors"] = copy_vectors(
                self._rnn_model().word_embedding,
                self.words,
                vectors,
                seed=cfg.seed,
                name=self.name,
                path=cfg.vectors,
            )
        breakdown = self.parameter_breakdown()
        architecture["parameters"] = breakdown
        log.info(
            "rnn: %d words (min_count %d), %d characters; parameters: %s",
            len(self.words),
            cfg.min_count,
            len(self.chars),
            format_breakdown(breakdown),
        )
        return architecture

    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        self.arch = RnnArchitecture.from_dict(architecture)
        sizes = (self.arch.vocabulary_size, self.arch.num_chars)
        self._set_vocabularies(*read_vocabularies(folder, sizes))
        self.contextual = None
        if self.arch.contextual_dim:
            self.contextual = ContextualWords.load(folder, self.arch.contextual_max_length)
            if self.contextual.width != self.arch.contextual_dim:
                raise HarnessError(
                    f"{folder}: the contextual encoder gives {self.contextual.width} "
                    f"features, the network reads {self.arch.contextual_dim}"
                )
        self.model = RnnModel(self.arch)

    def save_extra(self, folder: Path) -> None:
        write_vocabularies(folder, self.words, self.chars)
        if self.contextual is not None:
            self.contextual.save(folder)

    def fit(self, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None) -> RnnSystem:
        self.char_table = None  # the states of the weights before this fit
        try:
            super().fit(train, valid)
        finally:  # the cached features served this fit's epochs; prediction keeps none
            if self.contextual is not None:
                self.contextual.keep = False
                self.contextual.cache.clear()
        return self

    def switch_path(self, path: InferencePath) -> None:
        super().switch_path(path)
        if self.arch is None:
            return
        model = self._rnn_model()
        on_engine = callable(getattr(model.char_rnn, "run", None))
        if not (on_engine or isinstance(model.char_rnn, nn.GRU | nn.LSTM)):
            # quantised (a wide character GRU): its activation scales are per batch, so a
            # table built in large batches would not hold the states a call computes
            self.char_table = None
            return
        keys = (char_key(word, self.arch.max_word_chars) for word in self.words)
        self.char_table = CharStateTable.build(
            model.char_embedding, model.char_rnn, keys, self.char_ids
        )

    def _set_vocabularies(self, words: list[str], chars: list[str]) -> None:
        self.words, self.chars = words, chars
        self.word_ids = {w: i for i, w in enumerate(words)}
        self.char_ids = {c: i for i, c in enumerate(chars)}

    def _rnn_model(self) -> RnnModel:
        model = self._model()
        assert isinstance(model, RnnModel)
        return model

    def parameter_breakdown(self) -> dict[str, int]:
        counts = parameter_breakdown(self._rnn_model())
        if self.contextual is not None:  # frozen, but part of every prediction
            counts["contextual_encoder"] = self.contextual.parameter_count()
            counts["total"] += counts["contextual_encoder"]
        return counts

    def parameter_count(self) -> int:
        return self.parameter_breakdown()["total"]

    # -- batches ---------------------------------------------------------------------------

    def collate(self, examples: Sequence[Example], with_gold: bool) -> dict[str, Any]:
        """Word ids, distinct tokens' character ids and where each position finds its token.

        ``lengths`` (>= 1: an empty tweet is read as one space token, since the CRF needs a
        first position) and ``char_lengths`` stay on the CPU, as packing requires.
        """
        if self.arch is None:
            raise HarnessError("rnn: the system is not trained or loaded")
        batch, _, _ = token_batch(
            examples,
            self.word_ids,
            self.char_ids,
            lowercase=self.arch.lowercase,
            max_chars=self.arch.max_word_chars,
            device=self.device,
            char_table=None if with_gold else self.char_table,
        )
        width = batch["words"].shape[1]
        if self.arch.gazetteer_flags:
            batch["gazetteer"] = flag_batch(examples, width).to(self.device)
        if self.contextual is not None:
            words = [[t.text for t in e.tokens] for e in examples]
            batch["contextual"] = self.contextual.batch(words, width).to(self.device)
        if with_gold:
            batch.update(gold_batch(examples, width, self.device, self.name))
        return batch
