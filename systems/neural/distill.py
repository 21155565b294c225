"""Static word vectors distilled from a pretrained encoder, for the word-level taggers.

System 2 of the ProfNER winners started from skip-gram vectors trained on millions of
Spanish tweets, which cannot be downloaded here. An installed encoder such as
multilingual-e5-small has read far more Spanish than ProfNER holds, and its knowledge can
be frozen into one vector per word:

* ``contextual``: every occurrence of a word in the corpus's texts is encoded in its tweet,
  its pieces' last-layer states averaged; a word's vector is the mean over its occurrences
  (the word's average meaning in this corpus's own register);
* ``isolated``: each distinct word is encoded alone (model2vec's idea, applied to whole
  words rather than vocabulary pieces), so a vector does not depend on the corpus's
  contexts and one pass per word suffices.

Both are then reduced by PCA to the dimension the tagger's word embedding has (Table 3:
300), which also centres them. Only texts are read, never labels, so distilling over
every split (valid and test included) leaks no gold.

model2vec's own ``distill`` would do the isolated variant for the encoder's pieces, but
its distillation extra pins transformers below 5.4, which this project's encoders need.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from core.errors import HarnessError
from core.machine import cpu_supports_bf16
from systems.neural.encoder_catalog import resolve_model
from systems.neural.encoders import effective_max_length, load_pretrained_encoder, load_tokenizer

log = logging.getLogger("harness")

DistillMethod = Literal["contextual", "isolated"]
METHODS: tuple[str, ...] = ("contextual", "isolated")


def frequency_ordered(word_lists: Sequence[Sequence[str]]) -> list[str]:
    """Distinct words, most frequent first (ties by text), as word2vec files order them:
    a reader that keeps a file's first N words then keeps the most useful ones."""
    counts = Counter(word for words in word_lists for word in words)
    return [w for w, _ in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))]


def distill_vectors(
    model: str,
    word_lists: Sequence[Sequence[str]],
    *,
    method: DistillMethod = "contextual",
    dim: int = 300,
    batch_size: int = 32,
    max_length: int = 512,
    show_progress: bool = True,
) -> tuple[list[str], np.ndarray]:
    """One vector per distinct word of ``word_lists`` (pre-split texts), frequency order.

    ``dim`` < the encoder's width reduces by PCA; 0 keeps the encoder's width.
    """
    if method not in METHODS:
        raise HarnessError(f"vectors: unknown method {method!r} (choose {', '.join(METHODS)})")
    name = resolve_model(model)
    tokenizer = load_tokenizer(name)
    encoder, _ = load_pretrained_encoder(name, show_progress=False)
    encoder.eval()
    width = int(encoder.config.hidden_size)
    if dim < 0 or dim > width:
        raise HarnessError(
            f"vectors: --dim {dim}: the encoder {model!r} has {width} dimensions (use 1-{width}, "
            "or 0 to keep them all)"
        )
    limit = effective_max_length(max_length, tokenizer, encoder.config)
    words = frequency_ordered(word_lists)
    if not words:
        raise HarnessError("vectors: the corpus holds no words to distil")
    index = {word: i for i, word in enumerate(words)}
    sums = torch.zeros((len(words), width), dtype=torch.float64)
    counts = torch.zeros(len(words), dtype=torch.float64)
    if method == "contextual":
        inputs: Sequence[Sequence[str]] = [ws for ws in word_lists if ws]
    else:
        inputs = [[word] for word in words]
    batches = _length_batches(inputs, batch_size)
    bar = tqdm(total=len(inputs), desc=f"vectors: {method}", unit="text", disable=not show_progress)
    with torch.inference_mode(), bf16_where_native():
        for batch in batches:
            _accumulate(encoder, tokenizer, batch, limit, index, sums, counts)
            bar.update(len(batch))
    bar.close()
    missing = [words[i] for i in torch.nonzero(counts == 0).flatten().tolist()]
    if missing:  # pieces truncated off an over-long text: fall back to the word alone
        with torch.inference_mode(), bf16_where_native():
            for batch in _length_batches([[w] for w in missing], batch_size):
                _accumulate(encoder, tokenizer, batch, limit, index, sums, counts)
    means = (sums / counts.clamp(min=1).unsqueeze(1)).numpy()
    return words, reduce_dimensions(means, dim)


def reduce_dimensions(matrix: np.ndarray, dim: int) -> np.ndarray:
    """PCA to ``dim`` components (0: keep the width), float32."""
    if dim == 0 or dim == matrix.shape[1]:
        return matrix.astype(np.float32)
    if dim > min(matrix.shape):
        raise HarnessError(
            f"vectors: cannot reduce {matrix.shape[0]} words to {dim} dimensions "
            f"(at most {min(matrix.shape)})"
        )
    from sklearn.decomposition import PCA

    return PCA(n_components=dim, random_state=0).fit_transform(matrix).astype(np.float32)


def bf16_where_native() -> Any:
    """bf16 where the CPU computes it natively (the states are averaged in float64)."""
    if cpu_supports_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def _length_batches(inputs: Sequence[Sequence[str]], size: int) -> Iterator[list[Sequence[str]]]:
    """Batches of similar length, so padding costs little."""
    order = sorted(range(len(inputs)), key=lambda i: sum(len(w) for w in inputs[i]))
    for start in range(0, len(order), size):
        yield [inputs[i] for i in order[start : start + size]]


def _accumulate(
    encoder: torch.nn.Module,
    tokenizer: Any,
    batch: Sequence[Sequence[str]],
    limit: int,
    index: dict[str, int],
    sums: torch.Tensor,
    counts: torch.Tensor,
) -> None:
    """Add each word occurrence's mean piece state to its word's sum."""
    encoded = tokenizer(
        [list(ws) for ws in batch],
        is_split_into_words=True,
        truncation=True,
        max_length=limit,
        padding=True,
        return_tensors="pt",
    )
    accepted = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
    if "token_type_ids" in encoded:
        accepted["token_type_ids"] = encoded["token_type_ids"]
    states = encoder(**accepted).last_hidden_state.to(torch.float64)
    for row, words in enumerate(batch):
        word_ids = encoded.word_ids(row)
        positions: dict[int, list[int]] = {}
        for position, word in enumerate(word_ids):
            if word is not None:
                positions.setdefault(word, []).append(position)
        for word, at in positions.items():
            target = index[words[word]]
            sums[target] += states[row, at].mean(dim=0)
            counts[target] += 1
