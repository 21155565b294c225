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

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from core.errors import HarnessError
from core.fileio import atomic_write_text
from systems.neural.base import NeuralConfig, NeuralSystem
from systems.neural.examples import Example
from systems.neural.heads import CrfTagger, LabelClassifier
from systems.neural.vectors import WordVectors, embedding_matrix, read_vectors

log = logging.getLogger("harness")

RnnKind = Literal["gru", "lstm"]

VOCABULARY_FILE = "vocabulary.json"
PAD, UNK, NEWLINE, SPACE = "<pad>", "<unk>", "<nl>", "<sp>"
#: Word-vocabulary entries every model has; PAD is id 0 and UNK id 1 in both vocabularies.
WORD_SPECIALS = (PAD, UNK, NEWLINE, SPACE)
CHAR_SPECIALS = (PAD, UNK)
PAD_ID, UNK_ID = 0, 1


@dataclass
class RnnConfig(NeuralConfig):
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
    word_dim: int = 300
    #: train words (and characters) seen fewer times map to <unk>, so <unk> is trained on
    #: rare words, which is what unseen test words resemble; with vectors, rarer words the
    #: vectors cover are kept
    min_count: int = 2
    #: with vectors: also add the file's first N (most frequent) words to the vocabulary,
    #: so words absent from train keep their pretrained meaning at prediction time
    vectors_vocab: int = 0
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


@dataclass(frozen=True)
class RnnArchitecture:
    """Everything that fixes the shapes of a model; saved in ``architecture.json``."""

    vocabulary_size: int
    num_chars: int
    num_tags: int
    word_dim: int = 300
    char_dim: int = 64
    char_rnn: RnnKind = "gru"
    char_hidden: int = 64
    encoder: RnnKind = "gru"
    encoder_hidden: int = 512
    encoder_layers: int = 1
    pooler: RnnKind = "lstm"
    pooler_hidden: int = 64
    feedforward: int = 128
    dropout: float = 0.3
    lowercase: bool = False
    max_word_chars: int = 40

    @classmethod
    def from_config(
        cls, config: RnnConfig, vocabulary_size: int, num_chars: int, num_tags: int
    ) -> RnnArchitecture:
        shared = {f.name for f in fields(cls)} & {f.name for f in fields(config)}
        return cls(
            vocabulary_size=vocabulary_size,
            num_chars=num_chars,
            num_tags=num_tags,
            **{name: getattr(config, name) for name in shared},
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RnnArchitecture:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# -- the network -----------------------------------------------------------------------------


def make_rnn(
    kind: str, input_size: int, hidden: int, layers: int = 1, dropout: float = 0.0
) -> nn.GRU | nn.LSTM:
    """A bidirectional, batch-first GRU or LSTM."""
    if kind not in ("gru", "lstm"):
        raise HarnessError(f"unknown recurrent unit {kind!r} (use gru or lstm)")
    rnn_class = nn.GRU if kind == "gru" else nn.LSTM
    return rnn_class(
        input_size,
        hidden,
        num_layers=layers,
        batch_first=True,
        bidirectional=True,
        dropout=dropout if layers > 1 else 0.0,
    )


def last_states(rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Final forward and backward hidden states of the top layer, concatenated.

    Packing makes the forward state the one after each sequence's own last element, not
    after its padding; ``enforce_sorted=False`` lets PyTorch sort and unsort.
    """
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    _, hidden = rnn(packed)
    if isinstance(hidden, tuple):  # LSTM: (h, c)
        hidden = hidden[0]
    return torch.cat([hidden[-2], hidden[-1]], dim=-1)


def packed_states(
    rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Every step's output of a batch-first RNN, zero on padding; packing keeps the
    padding out of the recurrence, so a sequence's states do not depend on its batch."""
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    states, _ = rnn(packed)
    states, _ = pad_packed_sequence(states, batch_first=True, total_length=inputs.shape[1])
    return states


class RnnModel(nn.Module):
    """Word + character features, a recurrent encoder, the 7a pooler and the 7b tagger."""

    def __init__(self, arch: RnnArchitecture):
        super().__init__()
        self.word_embedding = nn.Embedding(arch.vocabulary_size, arch.word_dim, PAD_ID)
        self.char_embedding = nn.Embedding(arch.num_chars, arch.char_dim, PAD_ID)
        self.char_rnn = make_rnn(arch.char_rnn, arch.char_dim, arch.char_hidden)
        self.encoder = make_rnn(
            arch.encoder,
            arch.word_dim + 2 * arch.char_hidden,
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
        # one character pass per distinct token of the batch, then gathered per position
        chars = last_states(
            self.char_rnn, self.char_embedding(batch["chars"]), batch["char_lengths"]
        )
        features = torch.cat(
            [self.word_embedding(batch["words"]), chars[batch["char_index"]]], dim=-1
        )
        return packed_states(self.encoder, self.dropout(features), batch["lengths"])

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


# -- tokens as ids ---------------------------------------------------------------------------


def word_key(text: str, lowercase: bool = False) -> str:
    """The vocabulary entry of a token; whitespace tokens ("\\n", "  ") share two entries."""
    if text.isspace():
        return NEWLINE if "\n" in text or "\r" in text else SPACE
    return text.lower() if lowercase else text


def char_key(text: str, max_chars: int, lowercase: bool = True) -> str:
    """The (lower-cased) characters the character network reads; long tokens keep both ends."""
    lowered = text.lower() if lowercase else text
    if len(lowered) <= max_chars:
        return lowered
    tail = max_chars // 2
    return lowered[: max_chars - tail] + lowered[len(lowered) - tail :]


def frequency_order(counts: Counter[str], min_count: int) -> list[str]:
    """Entries seen at least ``min_count`` times, most frequent first (ties by text)."""
    return [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_count]


def with_specials(specials: Iterable[str], entries: Iterable[str]) -> list[str]:
    seen = set(specials)
    vocabulary = list(specials)
    for entry in entries:
        if entry not in seen:
            seen.add(entry)
            vocabulary.append(entry)
    return vocabulary


class VocabularyOptions(Protocol):
    """The config fields that shape the word and character vocabularies (System 2's, and
    those of every other tagger over word ids and characters, e.g. ``bilstm-cnn``)."""

    vectors: str | None
    word_dim: int
    min_count: int
    vectors_vocab: int
    lowercase: bool
    max_word_chars: int


def build_vocabularies(
    tokens: Sequence[str], options: VocabularyOptions, name: str, lowercase_chars: bool = True
) -> tuple[list[str], list[str], WordVectors | None]:
    """Word and character vocabularies of the training tokens (specials first) and, when
    ``options.vectors`` names a file, the pretrained vectors read for them."""
    if options.min_count < 1:
        raise HarnessError(f"{name}: min_count must be at least 1, got {options.min_count}")
    word_counts = Counter(word_key(t, options.lowercase) for t in tokens)
    char_counts = Counter(
        c for t in tokens for c in char_key(t, options.max_word_chars, lowercase_chars)
    )
    words = frequency_order(word_counts, options.min_count)
    vectors = None
    if options.vectors:
        wanted = set(word_counts) | {w.lower() for w in word_counts}
        vectors = read_vectors(
            options.vectors, dim=options.word_dim, wanted=wanted, first=options.vectors_vocab
        )
        rare = frequency_order(word_counts, 1)[len(words) :]
        words += [w for w in rare if vectors.get(w) is not None]
        words += [word_key(w, options.lowercase) for w in vectors.words[: vectors.head]]
    return (
        with_specials(WORD_SPECIALS, words),
        with_specials(CHAR_SPECIALS, frequency_order(char_counts, options.min_count)),
        vectors,
    )


def copy_vectors(
    embedding: nn.Embedding,
    words: Sequence[str],
    vectors: WordVectors,
    *,
    seed: int,
    name: str,
    path: str | None,
) -> dict[str, Any]:
    """Copy pretrained vectors into a word embedding; returns (and logs) the coverage."""
    generator = np.random.default_rng(seed)
    specials = range(len(WORD_SPECIALS))
    matrix, counts = embedding_matrix(words, vectors, generator, skip=specials)
    matrix[PAD_ID] = 0.0
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(matrix))
    covered = counts["exact"] + counts["lowercase"]
    share = covered / max(counts["words"], 1)
    log.info(
        "%s: vectors %s cover %d of %d vocabulary words (%.1f%%; %d only lower-cased)",
        name,
        path,
        covered,
        counts["words"],
        100 * share,
        counts["lowercase"],
    )
    return {"path": path, **counts, "covered": covered, "share": share}


def token_batch(
    examples: Sequence[Example],
    word_ids: Mapping[str, int],
    char_ids: Mapping[str, int],
    *,
    lowercase: bool,
    max_chars: int,
    device: torch.device,
    lowercase_chars: bool = True,
) -> tuple[dict[str, Any], list[list[str]], list[str]]:
    """Word ids, distinct tokens' character ids and where each position finds its token.

    ``lengths`` (>= 1: an empty tweet is read as one space token, since a CRF needs a first
    position) and ``char_lengths`` stay on the CPU, as packing requires. Also returns each
    tweet's token texts and the distinct tokens' character keys (row order of ``chars``),
    from which a system may add features of its own.
    """
    texts = [[t.text for t in e.tokens] or [" "] for e in examples]
    size, width = len(examples), max(len(t) for t in texts)
    words = torch.full((size, width), PAD_ID, dtype=torch.long)
    char_index = torch.zeros((size, width), dtype=torch.long)
    distinct: dict[str, int] = {}
    for i, row in enumerate(texts):
        words[i, : len(row)] = torch.tensor(
            [word_ids.get(word_key(t, lowercase), UNK_ID) for t in row]
        )
        char_index[i, : len(row)] = torch.tensor(
            [
                distinct.setdefault(char_key(t, max_chars, lowercase_chars), len(distinct))
                for t in row
            ]
        )
    char_lengths = torch.tensor([len(k) for k in distinct], dtype=torch.long)
    chars = torch.full((len(distinct), int(char_lengths.max())), PAD_ID, dtype=torch.long)
    for j, key in enumerate(distinct):
        chars[j, : len(key)] = torch.tensor([char_ids.get(c, UNK_ID) for c in key])
    lengths = torch.tensor([len(row) for row in texts], dtype=torch.long)
    batch: dict[str, Any] = {
        "words": words.to(device),
        "mask": (torch.arange(width)[None, :] < lengths[:, None]).to(device),
        "lengths": lengths,
        "chars": chars.to(device),
        "char_lengths": char_lengths,
        "char_index": char_index.to(device),
    }
    return batch, texts, list(distinct)


def gold_batch(
    examples: Sequence[Example], width: int, device: torch.device, name: str
) -> dict[str, torch.Tensor]:
    """Tag ids (zero-padded to ``width``) and 7a labels of gold examples."""
    tags = torch.zeros((len(examples), width), dtype=torch.long)
    for i, example in enumerate(examples):
        if example.tags is None or example.label is None:
            raise HarnessError(f"{name}: tweet {example.tweet.id} has no gold to train on")
        tags[i, : len(example.tags)] = torch.tensor(example.tags, dtype=torch.long)
    return {
        "tags": tags.to(device),
        "labels": torch.tensor([e.label for e in examples]).to(device),
    }


def read_vocabularies(folder: Path, sizes: tuple[int, int]) -> tuple[list[str], list[str]]:
    """The word and character vocabularies saved in ``folder``, checked against the
    ``(words, chars)`` sizes its architecture records."""
    path = folder / VOCABULARY_FILE
    try:
        vocabularies = json.loads(path.read_text(encoding="utf-8"))
        words, chars = vocabularies["words"], vocabularies["chars"]
    except FileNotFoundError:
        raise HarnessError(f"{folder}: cannot load model ({VOCABULARY_FILE} missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise HarnessError(f"{path}: unreadable vocabulary ({err})") from None
    if (len(words), len(chars)) != sizes:
        raise HarnessError(f"{path}: vocabulary sizes do not match {folder}/architecture.json")
    return words, chars


def write_vocabularies(folder: Path, words: Sequence[str], chars: Sequence[str]) -> None:
    vocabularies = {"words": list(words), "chars": list(chars)}
    atomic_write_text(folder / VOCABULARY_FILE, json.dumps(vocabularies, ensure_ascii=False))


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
        self.arch = RnnArchitecture.from_config(
            cfg, len(self.words), len(self.chars), len(self.codec)
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
        breakdown = parameter_breakdown(self.model)
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
        self.model = RnnModel(self.arch)

    def save_extra(self, folder: Path) -> None:
        write_vocabularies(folder, self.words, self.chars)

    def _set_vocabularies(self, words: list[str], chars: list[str]) -> None:
        self.words, self.chars = words, chars
        self.word_ids = {w: i for i, w in enumerate(words)}
        self.char_ids = {c: i for i, c in enumerate(chars)}

    def _rnn_model(self) -> RnnModel:
        model = self._model()
        assert isinstance(model, RnnModel)
        return model

    def parameter_breakdown(self) -> dict[str, int]:
        return parameter_breakdown(self._rnn_model())

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
        )
        if with_gold:
            batch.update(gold_batch(examples, batch["words"].shape[1], self.device, self.name))
        return batch
