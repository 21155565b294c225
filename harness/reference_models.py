"""Full-size, untrained models of the paper's two systems, for size and latency figures.

BETO's weights and the paper's Spanish tweet vectors are unreachable here, but parameter
counts and CPU latency depend on the architecture, not on weight values. So the
benchmarks build:

* a BETO-sized transformer: a ``BertConfig`` with BETO's shape (vocabulary 31,002, 12
  layers, hidden 768, 12 heads, 3,072 intermediate) and random weights, with a cased
  WordPiece tokenizer trained on the corpus' training texts (the number of word pieces
  per tweet, which drives latency, is then close to a Spanish vocabulary's);
* Table 3's RNN with a 38,000-word vocabulary (the size the paper's ~1.5e7 parameters
  imply), the corpus' words first.

Each is saved to a folder and loaded back through ``registry.load_saved``: the same code
path a trained model takes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertModel, BertTokenizerFast

from core.tokenization import tokenize
from core.tweets import Tweet
from systems.neural.encoders import quiet_loading
from systems.neural.examples import make_examples
from systems.neural.subwords import DEFAULT_DUMMY
from systems.rnn import RnnConfig, RnnSystem
from systems.transformer import TransformerConfig, TransformerSystem

log = logging.getLogger("harness")

BETO_SHAPE = {
    "vocab_size": 31002,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
}
RNN_VOCABULARY = 38_000
SPECIAL_PIECES = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def beto_sized_encoder(folder: Path, texts: Sequence[str], seed: int = 0) -> Path:
    """Write a randomly initialised BETO-shaped BERT and a trained WordPiece tokenizer."""
    pieces = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True)
    pieces.train_from_iterator(
        list(texts),
        vocab_size=BETO_SHAPE["vocab_size"],
        min_frequency=2,
        special_tokens=[*SPECIAL_PIECES, DEFAULT_DUMMY],
        show_progress=False,
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=pieces._tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=BETO_SHAPE["max_position_embeddings"],
    )
    torch.manual_seed(seed)
    model = BertModel(BertConfig(**BETO_SHAPE))
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_loading(show_progress=False):  # no shard-writing bar in a benchmark table
        model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def reference_transformer(folder: Path, train: Sequence[Tweet]) -> Path:
    """Save an untrained BETO-sized ``transformer`` system under ``folder/model``."""
    encoder = beto_sized_encoder(folder / "encoder", [t.text for t in train])
    # the whole piece table: the architecture's size, not a cut to one tweet's pieces
    system = TransformerSystem(TransformerConfig(model=str(encoder), embeddings="train"))
    system.architecture = system.build(make_examples(train[:1], system.codec, with_gold=False))
    system.architecture["untrained"] = True
    return system.save(folder / "model")


def reference_rnn(folder: Path, train: Sequence[Tweet]) -> Path:
    """Save an untrained Table 3 ``rnn`` system (38k-word vocabulary) under ``folder/model``."""
    words: dict[str, None] = {}
    chars: dict[str, None] = {}
    for tweet in train:
        for token in tokenize(tweet.text):
            words.setdefault(token.text)
            chars.update(dict.fromkeys(token.text.lower()))
    vocabulary = list(words)[:RNN_VOCABULARY]
    vocabulary += [f"<filler-{i}>" for i in range(RNN_VOCABULARY - len(vocabulary))]
    system = RnnSystem.untrained(RnnConfig(), vocabulary, list(chars))
    return system.save(folder / "model")


REFERENCE_BUILDERS = {"transformer": reference_transformer, "rnn": reference_rnn}
