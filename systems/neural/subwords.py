"""Word tokens -> word pieces for a Hugging Face encoder, and word pieces -> word features.

The harness tags spaCy word tokens, while a transformer sees word pieces. Three problems
sit between the two, solved here once for every transformer system:

* **Dropped words.** A subword tokenizer silently drops some words (``"\\n"``, runs of
  spaces, zero-width joiners, some emoji), which would leave a tag without a feature and
  shift every later tag off its character span. Such words are replaced by a dummy token
  (the ProfNER winners used ``"æ"``) that the tokenizer keeps, so every word has a piece
  and the tag sequence maps back onto exact character offsets.
* **First-piece pooling.** A word is represented by its first piece (Devlin et al.,
  2019); special tokens are never a word's piece.
* **Length.** A tweet (or document) with more pieces than the model's maximum length is
  not truncated: its words are cut into windows of whole words that overlap by up to
  ``stride`` pieces, each window is encoded on its own, and each word takes its features
  from the window where it has the most context on both sides (the rule of Hugging Face's
  question-answering scripts). The [CLS] vectors of a document's windows are averaged.

Only the fast tokenizers' public API is used (``is_split_into_words`` and ``word_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tokenizers import Tokenizer

from core.errors import HarnessError

#: The ProfNER winners' replacement for words the tokenizer drops.
DEFAULT_DUMMY = "æ"


@dataclass(frozen=True)
class WordPieces:
    """One document's words as the encoder will see them."""

    #: the words after dummy substitution (an empty document becomes one dummy word)
    words: list[str]
    #: number of pieces of each word (always >= 1)
    counts: list[int]
    #: indices of the words that were replaced by the dummy token
    substituted: list[int]


def plan_windows(counts: Sequence[int], budget: int, stride: int) -> list[tuple[int, int]]:
    """Cut words with ``counts`` pieces into ``[start, end)`` word ranges of <= ``budget`` pieces.

    Windows never split a word (a single word longer than ``budget`` gets a window of its
    own, truncated by the tokenizer after its first pieces, which are the ones pooled).
    Consecutive windows share the last words of the previous window, up to ``stride``
    pieces, but never so many that the next window could not take a new word.
    """
    if budget < 1:
        raise HarnessError(f"window budget must be at least one word piece, got {budget}")
    n = len(counts)
    windows: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and (end == start or used + counts[end] <= budget):
            used += counts[end]
            end += 1
        windows.append((start, end))
        if end >= n:
            return windows
        allowed = min(stride, budget - counts[end])
        nxt, shared = end, 0
        while nxt - 1 > start and shared + counts[nxt - 1] <= allowed:
            nxt -= 1
            shared += counts[nxt]
        start = nxt


def assign_words(counts: Sequence[int], windows: Sequence[tuple[int, int]]) -> list[int]:
    """For each word, the window in which it has the most pieces of context on both sides.

    The context of a word in a window is min(pieces before it, pieces after it); ties go
    to the earlier window. Every word belongs to at least one window of ``plan_windows``.
    """
    offsets = [0]
    for count in counts:
        offsets.append(offsets[-1] + count)
    best: list[tuple[int, int]] = [(-1, -1)] * len(counts)  # (context, window)
    for w, (start, end) in enumerate(windows):
        for j in range(start, end):
            context = min(offsets[j] - offsets[start], offsets[end] - offsets[j + 1])
            if context > best[j][0]:
                best[j] = (context, w)
    owners = [w for _, w in best]
    if any(w < 0 for w in owners):
        raise HarnessError("internal error: a word is in no window")
    return owners


class SubwordEncoder:
    """Turns batches of word lists into encoder inputs plus the indices of first pieces.

    ``max_length`` counts special tokens; the word pieces of one window get
    ``max_length - num_special_tokens_to_add()`` positions.
    """

    def __init__(self, tokenizer: Any, max_length: int, stride: int, dummy: str = DEFAULT_DUMMY):
        if not getattr(tokenizer, "is_fast", False):
            raise HarnessError(
                f"tokenizer {type(tokenizer).__name__} is not a fast tokenizer "
                "(word_ids are needed to map word pieces to words)"
            )
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
        if self.budget < 1:
            raise HarnessError(f"max_length {max_length} leaves no room for word pieces")
        self.stride = max(0, min(stride, self.budget // 2))
        self.dummy = dummy
        self.pad_id = tokenizer.pad_token_id
        self.right_padded = getattr(tokenizer, "padding_side", "right") == "right"
        [dummy_count] = self._counts([[dummy]])[0]
        if dummy_count == 0:
            raise HarnessError(
                f"the tokenizer drops the dummy token {dummy!r}; choose another dummy_token"
            )

    def _counts(self, word_lists: Sequence[Sequence[str]]) -> list[list[int]]:
        """Pieces per word, each word tokenised as the model will see it in context."""
        encoding = self.tokenizer(
            [list(words) for words in word_lists],
            is_split_into_words=True,
            add_special_tokens=False,
        )
        counts = []
        for row, words in enumerate(word_lists):
            per_word = [0] * len(words)
            for word in encoding.word_ids(row):
                if word is not None:
                    per_word[word] += 1
            counts.append(per_word)
        return counts

    def word_pieces(self, word_lists: Sequence[Sequence[str]]) -> list[WordPieces]:
        """Substitute the dummy for dropped words and count every word's pieces."""
        word_lists = [list(words) if words else [self.dummy] for words in word_lists]
        counts = self._counts(word_lists) if word_lists else []
        results: list[WordPieces] = []
        for words, per_word in zip(word_lists, counts, strict=True):
            dropped = [j for j, c in enumerate(per_word) if c == 0]
            if dropped:
                words = [self.dummy if c == 0 else w for w, c in zip(words, per_word, strict=True)]
                per_word = self._counts([words])[0]
                if 0 in per_word:  # only possible if context changes a word's tokenisation
                    raise HarnessError(f"words {words!r} still lose pieces after substitution")
            results.append(WordPieces(words, per_word, dropped))
        return results

    def encode(self, word_lists: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
        """Encoder inputs for a batch of documents (CPU tensors).

        Returns ``input_ids`` and ``attention_mask`` (windows x length), ``window_doc``
        (the document of each window), ``word_index`` (documents x words: the position of
        each word's first piece in the flattened windows x length grid) and ``word_mask``.
        A document without words counts as one dummy word, so every mask starts with true.

        Tweets nearly always fit one window and keep every word: those batches are
        tokenised once, by the Rust tokenizer directly (:meth:`_encode_whole`); the others
        take the general path (:meth:`encode_windows`), which gives the same tensors.
        """
        whole = self._encode_whole(word_lists) if self.pad_id is not None else None
        return whole if whole is not None else self.encode_windows(word_lists)

    def _backend(self) -> Tokenizer:
        """The Rust tokenizer, with no truncation or padding: the Python wrapper leaves
        its last call's settings on it (a copy of its own would cost as much memory as
        the tokenizer, some 300 MB for XLM-R's 250k pieces)."""
        backend = self.tokenizer.backend_tokenizer
        if backend.truncation is not None:
            backend.no_truncation()
        if backend.padding is not None:
            backend.no_padding()
        return backend  # type: ignore[no-any-return]

    def _encode_whole(self, word_lists: Sequence[Sequence[str]]) -> dict[str, torch.Tensor] | None:
        """The batch tokenised by the Rust tokenizer, each document in one window, words it
        drops replaced by the dummy (those documents tokenised again); None when a
        document does not fit one window (or the tokenizer pads on the left)."""
        if not word_lists or not self.right_padded:
            return None
        documents = [list(words) if words else [self.dummy] for words in word_lists]
        encodings = self._backend().encode_batch(
            documents, is_pretokenized=True, add_special_tokens=True
        )
        firsts = [_first_pieces(encoding.word_ids) for encoding in encodings]
        dropped = [d for d, words in enumerate(documents) if len(firsts[d]) < len(words)]
        if dropped:
            for d in dropped:
                documents[d] = [
                    w if j in firsts[d] else self.dummy for j, w in enumerate(documents[d])
                ]
            again = self._backend().encode_batch(
                [documents[d] for d in dropped], is_pretokenized=True, add_special_tokens=True
            )
            for d, encoding in zip(dropped, again, strict=True):
                encodings[d] = encoding
                firsts[d] = _first_pieces(encoding.word_ids)
                if len(firsts[d]) < len(documents[d]):
                    return None  # the windowed path says which words
        length = max(len(e.ids) for e in encodings)
        if length > self.max_length:
            return None
        most_words = max(len(words) for words in documents)
        input_ids = torch.full((len(documents), length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(documents), length), dtype=torch.long)
        word_index = torch.zeros(len(documents), most_words, dtype=torch.long)
        word_mask = torch.zeros(len(documents), most_words, dtype=torch.bool)
        for d, (words, encoding) in enumerate(zip(documents, encodings, strict=True)):
            size = len(encoding.ids)
            input_ids[d, :size] = torch.tensor(encoding.ids, dtype=torch.long)
            attention_mask[d, :size] = 1
            word_index[d, : len(words)] = torch.tensor(
                [d * length + firsts[d][j] for j in range(len(words))], dtype=torch.long
            )
            word_mask[d, : len(words)] = True
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "window_doc": torch.arange(len(documents), dtype=torch.long),
            "word_index": word_index,
            "word_mask": word_mask,
        }

    def encode_windows(self, word_lists: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
        """:meth:`encode` for any batch: dropped words substituted, long documents cut
        into overlapping windows."""
        documents = self.word_pieces(word_lists)
        window_words: list[list[str]] = []
        window_doc: list[int] = []
        owners: list[list[tuple[int, int]]] = []  # per document: (window row, local index)
        for d, doc in enumerate(documents):
            windows = plan_windows(doc.counts, self.budget, self.stride)
            first_row = len(window_words)
            window_words.extend(doc.words[start:end] for start, end in windows)
            window_doc.extend([d] * len(windows))
            owned = assign_words(doc.counts, windows)
            owners.append([(first_row + w, j - windows[w][0]) for j, w in enumerate(owned)])
        encoding = self.tokenizer(
            window_words,
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        length = encoding["input_ids"].shape[1]
        first_piece = [_first_pieces(encoding.word_ids(row)) for row in range(len(window_words))]
        most_words = max(len(doc.words) for doc in documents)
        word_index = torch.zeros(len(documents), most_words, dtype=torch.long)
        word_mask = torch.zeros(len(documents), most_words, dtype=torch.bool)
        for d, doc_owners in enumerate(owners):
            for j, (row, local) in enumerate(doc_owners):
                if local not in first_piece[row]:
                    raise HarnessError(
                        f"word {documents[d].words[j]!r} lost its first piece in its window"
                    )
                word_index[d, j] = row * length + first_piece[row][local]
                word_mask[d, j] = True
        return {
            "input_ids": encoding["input_ids"],
            "attention_mask": encoding["attention_mask"],
            "window_doc": torch.tensor(window_doc, dtype=torch.long),
            "word_index": word_index,
            "word_mask": word_mask,
        }


def _first_pieces(word_ids: Sequence[int | None]) -> dict[int, int]:
    """Each word's first piece position in one encoding."""
    positions: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in positions:
            positions[word] = position
    return positions


def first_pieces(hidden: torch.Tensor, word_index: torch.Tensor) -> torch.Tensor:
    """Word features (documents x words x hidden) from windows x length x hidden states."""
    flat = hidden.reshape(-1, hidden.shape[-1])
    return flat[word_index.reshape(-1)].reshape(*word_index.shape, hidden.shape[-1])


def document_vectors(
    window_vectors: torch.Tensor, window_doc: torch.Tensor, documents: int
) -> torch.Tensor:
    """Mean of each document's window vectors (a document of one window keeps its vector)."""
    sums = window_vectors.new_zeros(documents, window_vectors.shape[-1])
    sums.index_add_(0, window_doc, window_vectors)
    counts = torch.bincount(window_doc, minlength=documents).clamp(min=1)
    return sums / counts.unsqueeze(-1).to(sums.dtype)
