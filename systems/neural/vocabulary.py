"""Word and character vocabularies of the taggers that read word ids and characters.

System 2 (``rnn``) and ``bilstm-cnn`` share these rules: which training tokens get an
entry (``min_count``; rarer words the pretrained vectors cover are kept, so they keep
their meaning), how whitespace tokens and long tokens are keyed, how pretrained vectors
fill the word embedding, and how the vocabularies are saved beside the weights.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from core.errors import HarnessError
from core.fileio import atomic_write_text
from systems.neural.vectors import WordVectors, embedding_matrix, read_vectors

log = logging.getLogger("harness")

VOCABULARY_FILE = "vocabulary.json"
PAD, UNK, NEWLINE, SPACE = "<pad>", "<unk>", "<nl>", "<sp>"
#: Word-vocabulary entries every model has; PAD is id 0 and UNK id 1 in both vocabularies.
WORD_SPECIALS = (PAD, UNK, NEWLINE, SPACE)
CHAR_SPECIALS = (PAD, UNK)
PAD_ID, UNK_ID = 0, 1


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
        if not any(vectors.get(w) is not None for w in word_counts):
            raise HarnessError(
                f"{options.vectors}: none of its {vectors.file_count} words is a training "
                "word (another language, or a different tokenisation or casing?)"
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
