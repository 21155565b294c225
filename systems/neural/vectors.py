"""Pretrained word vectors: word2vec text and binary files, fastText ``.vec``, GloVe text.

The RNN systems start their word embeddings from such files (the paper's System 2 used
skip-gram vectors trained on Spanish tweets, Zenodo record 4449930). Those files hold
millions of words, far more than a tagger's vocabulary, so the reader can keep only the
words asked for (``wanted``) plus the file's first ``first`` words (word2vec and fastText
write the most frequent words first) and never holds the rest in memory.

Formats, detected from the file itself:

* word2vec / fastText text: a header line ``COUNT DIM``, then ``word v1 ... vDIM`` lines
  (a trailing space, as word2vec.c writes, is fine);
* GloVe text: the same lines without the header;
* word2vec binary: the same header, then per word its UTF-8 bytes, a space and DIM
  little-endian float32 values, optionally followed by a newline (word2vec.c writes one,
  gensim does not).

Every problem a user can fix (missing file, wrong dimension, malformed or truncated
content) is a one-line :class:`~core.errors.HarnessError` naming the file and, for text,
the line.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.errors import HarnessError
from core.fileio import atomic_write_text

#: The longest first vector line read to tell text from binary.
_SNIFF_LINE = 1 << 20
#: Bytes read past the declared vectors of a binary file to detect extra data.
_SNIFF_BYTES = 64
_CHUNK = 1 << 20


@dataclass
class WordVectors:
    """Vectors by word; ``matrix[i]`` is the vector of ``words[i]`` (float32)."""

    words: list[str]
    matrix: np.ndarray
    #: number of vectors the file holds (more than ``len(words)`` when filtered)
    file_count: int = 0
    #: ``words[:head]`` are the file's first entries that ``read_vectors(first=...)`` kept
    head: int = 0
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def get(self, word: str, lowercase_fallback: bool = True) -> np.ndarray | None:
        """The vector of ``word``, else of its lower-case form (cased files often lack
        a capitalised variant), else ``None``."""
        i = self.index.get(word)
        if i is None and lowercase_fallback:
            i = self.index.get(word.lower())
        return None if i is None else self.matrix[i]


def read_vectors(
    path: str | Path,
    *,
    dim: int | None = None,
    wanted: Collection[str] | None = None,
    first: int = 0,
    binary: bool | None = None,
) -> WordVectors:
    """Read a vectors file.

    ``dim``: the dimension the caller needs; a file of another dimension is an error.
    ``wanted``: keep only these words (plus the ``first`` ones); ``None`` keeps all.
    ``binary``: force the format; ``None`` detects it. Duplicate words keep their first
    vector, as gensim does.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such vectors file") from None
    except OSError as err:
        raise HarnessError(f"{path}: cannot read vectors file ({err.strerror})") from None
    with handle:
        header = handle.readline()
        count, file_dim = _parse_header(header)
        if binary is None:
            binary = count is not None and _looks_binary(handle, file_dim or 0)
        if binary:
            if count is None or file_dim is None:
                raise HarnessError(
                    f"{path}: a binary word2vec file must start with a 'COUNT DIM' header line"
                )
            _check_dim(path, file_dim, dim)
            keep = _Keep(wanted, first)
            _read_binary(handle, path, count, file_dim, keep)
        else:
            keep = _Keep(wanted, first)
            file_dim, read = _read_text(handle, path, header, count, file_dim, dim, keep)
            count = read
    if file_dim is None:  # a header-less file without any vector line
        raise HarnessError(f"{path}: holds no vectors")
    matrix = (
        np.stack(keep.rows).astype(np.float32, copy=False)
        if keep.rows
        else np.zeros((0, file_dim), dtype=np.float32)
    )
    return WordVectors(keep.words, matrix, file_count=count or 0, head=keep.head)


def embedding_matrix(
    words: Sequence[str],
    vectors: WordVectors,
    generator: np.random.Generator,
    skip: Collection[int] = (),
) -> tuple[np.ndarray, dict[str, int]]:
    """Initial embedding rows for a vocabulary: the pretrained vector where the file has
    the word (or its lower-case form), else random normal with the vectors' own standard
    deviation, so covered and uncovered rows start on the same scale.

    Rows in ``skip`` (padding) are zero. Returns the matrix and the coverage counts
    ``{"words", "exact", "lowercase", "missing"}`` (``skip`` rows not counted).
    """
    scale = float(vectors.matrix.std()) if len(vectors) else 1.0
    matrix = generator.normal(0.0, scale or 1.0, size=(len(words), vectors.dim)).astype(np.float32)
    counts = {"words": 0, "exact": 0, "lowercase": 0, "missing": 0}
    for i, word in enumerate(words):
        if i in skip:
            matrix[i] = 0.0
            continue
        counts["words"] += 1
        if word in vectors:
            matrix[i] = vectors.matrix[vectors.index[word]]
            counts["exact"] += 1
        elif (lower := word.lower()) in vectors:
            matrix[i] = vectors.matrix[vectors.index[lower]]
            counts["lowercase"] += 1
        else:
            counts["missing"] += 1
    return matrix, counts


def write_vectors(path: str | Path, words: Sequence[str], matrix: np.ndarray) -> Path:
    """Write word2vec text (a ``COUNT DIM`` header, then ``word v1 ... vDIM``), the format
    every reader here and gensim's ``KeyedVectors.load_word2vec_format`` accept; written
    atomically, so an interrupted build never leaves a truncated file."""
    if matrix.ndim != 2 or len(words) != matrix.shape[0]:
        raise ValueError(f"{len(words)} words but a matrix of shape {matrix.shape}")
    bad = next((w for w in words if not w or any(c.isspace() for c in w)), None)
    if bad is not None:
        raise HarnessError(f"{path}: word {bad!r} is empty or holds whitespace")
    lines = [f"{len(words)} {matrix.shape[1]}"]
    for word, row in zip(words, matrix.astype(np.float32, copy=False), strict=True):
        lines.append(word + " " + " ".join(f"{v:.6g}" for v in row.tolist()))
    return atomic_write_text(path, "\n".join(lines) + "\n")


# -- internals -------------------------------------------------------------------------------


class _Keep:
    """Collects the vectors a caller wants, first occurrence of each word only."""

    def __init__(self, wanted: Collection[str] | None, first: int):
        self.wanted = None if wanted is None else set(wanted)
        self.first = first
        self.seen = 0
        self.words: list[str] = []
        self.rows: list[np.ndarray] = []
        #: how many kept words came from the first ``first`` entries
        self.head = 0
        self._have: set[str] = set()

    def wants(self, word: str) -> bool:
        """Called once per file entry, in order."""
        self.seen += 1
        if word in self._have:
            return False
        return self.wanted is None or self.seen <= self.first or word in self.wanted

    def add(self, word: str, row: np.ndarray) -> None:
        self._have.add(word)
        self.words.append(word)
        self.rows.append(row)
        if self.seen <= self.first:
            self.head = len(self.words)


def _parse_header(line: bytes) -> tuple[int | None, int | None]:
    """``(count, dim)`` of a ``COUNT DIM`` header, ``(None, None)`` for a vector line."""
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None, None


def _looks_binary(handle: BinaryIO, dim: int) -> bool:
    """After the header, a text file's next line is a word and ``dim`` numbers; in a binary
    file raw float bytes follow the word, which essentially never parse as ``dim`` numbers."""
    start = handle.tell()
    line = handle.readline(_SNIFF_LINE)
    handle.seek(start)
    parts = line.rstrip(b"\r\n").rstrip(b" ").split(b" ")
    if len(parts) < dim + 1:
        return True
    return not all(_is_float(p) for p in parts[len(parts) - dim :])


def _check_dim(path: Path, file_dim: int, dim: int | None) -> None:
    if file_dim <= 0:
        raise HarnessError(f"{path}: header gives dimension {file_dim}")
    if dim is not None and file_dim != dim:
        raise HarnessError(
            f"{path}: vectors have {file_dim} dimensions, but {dim} are needed "
            f"(set the system's word_dim to {file_dim})"
        )


def _read_text(
    handle: BinaryIO,
    path: Path,
    header: bytes,
    count: int | None,
    file_dim: int | None,
    dim: int | None,
    keep: _Keep,
) -> tuple[int | None, int]:
    """Read text lines; returns the dimension and the number of vector lines."""
    lines: list[tuple[int, bytes]] = []
    if count is None:  # no header: the first line is already a vector (GloVe)
        lines.append((1, header))
    else:
        _check_dim(path, file_dim or 0, dim)
    read = 0

    def entries() -> Iterator[tuple[int, bytes]]:
        yield from lines
        yield from enumerate(handle, start=2)

    for number, raw in entries():
        line = raw.rstrip(b"\r\n").rstrip(b" ")
        if not line.strip():
            continue
        if file_dim is None:  # header-less: the first line fixes the dimension
            file_dim = line.count(b" ")
            if file_dim < 1:
                raise HarnessError(f"{path}:{number}: expected a word and its vector values")
            _check_dim(path, file_dim, dim)
        # counting separators is C-speed; most lines of a big file are skipped unparsed
        fields = line.count(b" ") + 1
        if fields < file_dim + 1:
            raise HarnessError(
                f"{path}:{number}: expected a word and {file_dim} values, "
                f"found {fields - 1} value(s)"
            )
        if fields == file_dim + 1:
            raw_word = line[: line.index(b" ")]
        elif count is not None or _is_float(line.split(b" ", 2)[1]):
            # word2vec text has no spaces in words, and a number after the first field
            # means the line simply has more values than the others
            raise HarnessError(
                f"{path}:{number}: expected a word and {file_dim} values, "
                f"found {fields - 1} value(s) (mixed dimensions?)"
            )
        else:  # a word with spaces inside (some GloVe files): the values are the last
            raw_word = b" ".join(line.split(b" ")[: fields - file_dim])
        word = raw_word.decode("utf-8", errors="replace")
        read += 1
        if count is not None and read > count:
            raise HarnessError(
                f"{path}:{number}: more vectors than the {count} the header declares"
            )
        if not keep.wants(word):
            continue
        values = line[len(raw_word) + 1 :].split(b" ")
        try:
            row = np.array(values, dtype=np.float32)
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            raise HarnessError(
                f"{path}:{number}: value {bad.decode('utf-8', errors='replace')!r} "
                f"of word {word!r} is not a number"
            ) from None
        keep.add(word, row)
    if count is not None and read < count:
        raise HarnessError(
            f"{path}: the header declares {count} vectors but the file holds {read} "
            "(truncated download?)"
        )
    return file_dim, read


def _is_float(text: bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_binary(handle: BinaryIO, path: Path, count: int, dim: int, keep: _Keep) -> None:
    """Stream ``count`` binary entries through a buffer (no per-byte Python reads)."""
    width = 4 * dim
    buffer = b""
    pos = 0
    for entry in range(count):
        while True:
            space = buffer.find(b" ", pos)
            if space >= 0 and len(buffer) >= space + 1 + width:
                break
            more = handle.read(_CHUNK)
            if not more:
                raise HarnessError(
                    f"{path}: binary file ends inside vector {entry + 1} of the {count} "
                    "the header declares (truncated download, or not a word2vec file?)"
                )
            buffer = buffer[pos:] + more
            pos = 0
        raw_word = buffer[pos:space].lstrip(b"\r\n")
        if not raw_word:
            raise HarnessError(f"{path}: empty word at binary vector {entry + 1}")
        word = raw_word.decode("utf-8", errors="replace")
        start = space + 1
        if keep.wants(word):
            row = np.frombuffer(buffer, dtype="<f4", count=dim, offset=start).copy()
            keep.add(word, row)
        pos = start + width
    rest = (buffer[pos:] + handle.read(_SNIFF_BYTES)).strip()
    if rest:
        raise HarnessError(
            f"{path}: data after the {count} vectors the header declares "
            "(wrong count in the header?)"
        )
