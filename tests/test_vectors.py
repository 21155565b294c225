"""Pretrained word-vector files: word2vec text and binary, fastText .vec, GloVe text."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from core.errors import HarnessError
from systems.neural import vectors as vectors_module
from systems.neural.vectors import embedding_matrix, read_vectors

#: Cased words, multi-byte UTF-8 (ñ, an emoji sequence) and a duplicate-free order.
VECTORS = {
    "de": [0.5, -1.25, 3.0],
    "Médico": [1.0, 2.0, -0.125],
    "niño": [-2.5, 0.0, 1e-3],
    "👩‍⚕️": [7.0, -7.0, 0.25],
    "paro": [0.1, 0.2, 0.3],
}


def write_text(
    path: Path,
    vectors: dict[str, list[float]],
    *,
    header: bool = True,
    trailing_space: bool = False,
    count: int | None = None,
) -> Path:
    """word2vec text (``header``) or GloVe text; word2vec.c ends lines with a space."""
    lines = [f"{len(vectors) if count is None else count} {len(next(iter(vectors.values())))}"]
    lines = lines if header else []
    end = " " if trailing_space else ""
    lines += [f"{w} {' '.join(repr(v) for v in vec)}{end}" for w, vec in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_binary(
    path: Path, vectors: dict[str, list[float]], *, newline: bool = True, count: int | None = None
) -> Path:
    """word2vec binary: word2vec.c writes a newline after each vector, gensim does not."""
    dim = len(next(iter(vectors.values())))
    data = f"{len(vectors) if count is None else count} {dim}\n".encode()
    for word, vec in vectors.items():
        data += word.encode("utf-8") + b" " + struct.pack(f"<{dim}f", *vec)
        data += b"\n" if newline else b""
    path.write_bytes(data)
    return path


def assert_same(vectors, expected: dict[str, list[float]]) -> None:
    assert vectors.words == list(expected)
    np.testing.assert_array_equal(vectors.matrix, np.array(list(expected.values()), np.float32))
    assert vectors.matrix.dtype == np.float32


@pytest.mark.parametrize("trailing_space", [False, True])
def test_word2vec_text_and_fasttext_vec(tmp_path, trailing_space):
    path = write_text(tmp_path / "cc.es.vec", VECTORS, trailing_space=trailing_space)
    vectors = read_vectors(path, dim=3)
    assert_same(vectors, VECTORS)
    assert vectors.dim == 3 and vectors.file_count == len(VECTORS)
    assert vectors.get("NIÑO") is not None and vectors.get("NIÑO", False) is None
    assert vectors.get("médico") is None  # only the lower-case form is tried


def test_glove_text_without_header(tmp_path):
    assert_same(read_vectors(write_text(tmp_path / "g.txt", VECTORS, header=False)), VECTORS)
    spaced = tmp_path / "spaced.txt"  # some GloVe files have words with a space inside
    spaced.write_text("de 1 2 3\nhola mundo 4 5 6\n", encoding="utf-8")
    vectors = read_vectors(spaced, wanted={"hola mundo"})
    assert vectors.words == ["hola mundo"]
    np.testing.assert_array_equal(vectors.matrix, [[4, 5, 6]])


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary_is_detected_and_read(tmp_path, newline):
    path = write_binary(tmp_path / "vectors.w2v", VECTORS, newline=newline)  # no .bin hint
    assert_same(read_vectors(path, dim=3), VECTORS)
    assert_same(read_vectors(path, binary=True), VECTORS)


def test_wanted_and_first_keep_only_what_a_vocabulary_needs(tmp_path):
    path = write_binary(tmp_path / "v.bin", VECTORS)
    vectors = read_vectors(path, wanted={"paro", "absent"}, first=2)
    assert vectors.words == ["de", "Médico", "paro"]
    assert vectors.head == 2 and vectors.file_count == 5
    text = read_vectors(write_text(tmp_path / "v.txt", VECTORS), wanted={"niño"})
    assert text.words == ["niño"] and text.head == 0


def test_duplicate_words_keep_their_first_vector(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text("3 2\nde 1 2\nde 3 4\npara 5 6\n", encoding="utf-8")
    vectors = read_vectors(path)
    assert vectors.words == ["de", "para"]
    np.testing.assert_array_equal(vectors.get("de"), [1, 2])


def test_embedding_matrix_copies_vectors_and_counts_coverage(tmp_path):
    vectors = read_vectors(write_text(tmp_path / "v.txt", VECTORS))
    words = ["<pad>", "de", "MÉDICO", "Médico", "NIÑO", "desconocido"]
    matrix, counts = embedding_matrix(words, vectors, np.random.default_rng(0), skip={0})
    assert counts == {"words": 5, "exact": 2, "lowercase": 1, "missing": 2}
    np.testing.assert_array_equal(matrix[1], VECTORS["de"])
    np.testing.assert_array_equal(matrix[3], np.float32(VECTORS["Médico"]))
    np.testing.assert_array_equal(matrix[4], np.float32(VECTORS["niño"]))
    assert not np.isin(matrix[5], vectors.matrix).any()  # random, not a copy
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32


def one_line_error(call) -> str:
    with pytest.raises(HarnessError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert "no such vectors file" in one_line_error(lambda: read_vectors(tmp_path / "nope.vec"))


@pytest.mark.parametrize("writer", [write_text, write_binary])
def test_wrong_dimension_names_both(tmp_path, writer):
    path = writer(tmp_path / "v", VECTORS)
    message = one_line_error(lambda: read_vectors(path, dim=300))
    assert "3 dimensions" in message and "300" in message and str(path) in message


def test_malformed_lines_are_reported_with_their_number(tmp_path):
    path = tmp_path / "bad.vec"
    path.write_text("3 3\nde 1 2 3\nla 1 2\nen 1 2 3\n", encoding="utf-8")
    message = one_line_error(lambda: read_vectors(path))
    assert f"{path}:3:" in message and "found 2" in message
    path.write_text("2 3\nde 1 2 3\nla 1 x 3\n", encoding="utf-8")
    assert f"{path}:3:" in one_line_error(lambda: read_vectors(path))
    # header-less GloVe: the first line fixes the dimension, later lines must agree
    path.write_text("de 1 2 3\nla 1 2\n", encoding="utf-8")
    assert f"{path}:2:" in one_line_error(lambda: read_vectors(path))


def test_header_count_must_match(tmp_path):
    short = write_text(tmp_path / "short.vec", VECTORS, count=9)
    assert "declares 9 vectors" in one_line_error(lambda: read_vectors(short))
    extra = write_text(tmp_path / "extra.vec", VECTORS, count=2)
    assert "more vectors than the 2" in one_line_error(lambda: read_vectors(extra))


def test_truncated_binary(tmp_path):
    path = write_binary(tmp_path / "v.bin", VECTORS)
    path.write_bytes(path.read_bytes()[:-7])
    assert "ends inside vector 5 of the 5" in one_line_error(lambda: read_vectors(path))
    trailing = write_binary(tmp_path / "w.bin", VECTORS, count=4)
    assert "after the 4 vectors" in one_line_error(lambda: read_vectors(trailing))


@pytest.mark.parametrize("chunk", [1, 5, 13, 4096])
def test_binary_reads_across_buffer_refills(tmp_path, monkeypatch, chunk):
    rng = np.random.default_rng(3)
    many = {f"w{i}ñ": rng.normal(size=4).astype(np.float32).tolist() for i in range(50)}
    path = write_binary(tmp_path / "many.bin", many, newline=chunk % 2 == 1)
    monkeypatch.setattr(vectors_module, "_CHUNK", chunk)
    assert_same(read_vectors(path, dim=4), many)
