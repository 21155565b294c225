"""fastText word vectors trained on a corpus's own texts, for users without an encoder.

Skip-gram with character n-grams (gensim's FastText): words seen once still get a
vector built from their n-grams, which matters on tweets full of misspellings and
hashtags. Only texts are read, never labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import HarnessError


def train_fasttext(
    word_lists: Sequence[Sequence[str]],
    *,
    dim: int = 300,
    epochs: int = 10,
    window: int = 5,
    min_count: int = 1,
    seed: int = 13,
    workers: int = 1,
) -> tuple[list[str], np.ndarray]:
    """Vectors for every word seen ``min_count`` times, most frequent first.

    One worker by default: gensim is only reproducible for a seed with a single thread.
    """
    try:
        from gensim.models import FastText
    except ModuleNotFoundError as err:
        raise HarnessError(
            f"harness vectors train needs the 'vectors' extra: "
            f"pip install 'ner-harness[vectors]' ({err})"
        ) from None
    sentences = [list(words) for words in word_lists if words]
    if not sentences:
        raise HarnessError("vectors: the corpus holds no words to train on")
    if dim < 1 or epochs < 1 or min_count < 1:
        raise HarnessError("vectors: --dim, --epochs and --min-count must be at least 1")
    model = FastText(
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=1,
        seed=seed,
        workers=workers,
    )
    model.build_vocab(corpus_iterable=sentences)
    if not model.wv.index_to_key:
        raise HarnessError(f"vectors: no word occurs {min_count} times in the corpus")
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)
    words = list(model.wv.index_to_key)  # gensim sorts by frequency
    return words, np.asarray(model.wv.vectors, dtype=np.float32)
