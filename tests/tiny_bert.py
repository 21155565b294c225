"""A tiny, randomly initialised BERT with a WordPiece vocabulary built from the test data.

The transformer system's tests must not download anything, so they build their own
"pretrained" model folder: a vocabulary of the words and characters of the given texts
(plus the dummy token), a fast ``BertTokenizer`` over it, and a ``BertModel`` small enough
to train in a fraction of a second per batch. The folder looks exactly like a hub download
(config.json, model.safetensors, tokenizer files), so the system loads it by path.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, BertTokenizer

from core.tokenization import tokenize
from systems.neural.subwords import DEFAULT_DUMMY

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def build_vocab(texts: Iterable[str], extra: Iterable[str] = (DEFAULT_DUMMY,)) -> dict[str, int]:
    """Special tokens, ``extra``, every character (also as a ``##`` continuation) and the
    words of ``texts``; frequent words become single pieces, others split into characters."""
    entries = list(SPECIAL_TOKENS) + list(extra)
    words: dict[str, int] = {}
    chars: set[str] = set()
    for text in texts:
        for token in tokenize(text):
            if token.is_space:
                continue
            words[token.text] = words.get(token.text, 0) + 1
            chars.update(token.text)
    for char in sorted(chars):
        entries += [char, f"##{char}"]
    entries += sorted(w for w, n in words.items() if n > 1 and len(w) > 1)
    vocab: dict[str, int] = {}
    for entry in entries:
        vocab.setdefault(entry, len(vocab))
    return vocab


def tiny_config(vocab_size: int, **overrides: int) -> BertConfig:
    settings = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
    }
    settings.update(overrides)
    return BertConfig(**settings)


def save_tiny_bert(
    folder: Path,
    texts: Iterable[str],
    *,
    with_pooler: bool = True,
    context_free: bool = False,
    seed: int = 0,
    **config: int,
) -> Path:
    """Write a tiny BERT + tokenizer folder built from ``texts``; return the folder.

    ``context_free`` builds an encoder whose output for a piece depends on that piece
    only (no layers, zero position embeddings): windowed and unwindowed encodings of a
    document must then give identical word features.
    """
    vocab = build_vocab(texts)
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=False)
    if context_free:
        config = {**config, "num_hidden_layers": 0}
    torch.manual_seed(seed)
    model = BertModel(tiny_config(len(vocab), **config), add_pooling_layer=with_pooler)
    if context_free:
        with torch.no_grad():
            model.embeddings.position_embeddings.weight.zero_()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
