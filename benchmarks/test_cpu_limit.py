"""The CPU's limit for one prediction: the matrix products of a BETO-sized encoder over
the median tweet, alone, on the best kernels PyTorch has for each number type here.

Why: the issue's targets were derived from the arithmetic of an encoder (about 9 GFLOP
for a 50-piece tweet) and a nominal peak of the CPU. What a CPU sustains on these
shapes (a few dozen rows against 768 x 3072 weights) is far from its nominal peak, and
differs from machine to machine; this benchmark measures it, so a latency figure can be
read against what the same CPU does with no harness, no attention, no normalisation
around the products. Its ``extra_info`` holds the pieces, the GFLOP and the GFLOP/s.

    pytest benchmarks/test_cpu_limit.py --benchmark-json limit.json
"""

from __future__ import annotations

import pytest
import torch

from core.tweets import Tweet
from harness.reference_models import BETO_SHAPE
from systems.neural.inference import cpu_supports_bf16


def weight_shapes(config: dict) -> list[tuple[int, int]]:
    """(in, out) of every weight product of the encoder: per block Q, K, V and the
    attention output, the feed-forward up- and down-projections."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    block = [(hidden, hidden)] * 4 + [(hidden, inner), (inner, hidden)]
    return block * config["num_hidden_layers"]


@pytest.fixture(scope="module")
def median_pieces(reference_folders, tweets) -> int:
    """How many pieces the BETO-sized reference model gives the median tweet (CLS, SEP
    too): loaded once for every number type."""
    from benchmarks.conftest import load
    from systems.neural.examples import make_examples

    system = load(reference_folders["transformer"], "fp32")
    batch = system.collate(make_examples([tweets["median"]], system.codec, False), False)
    return int(batch["input_ids"].shape[1])


def products(rows: int, shapes: list[tuple[int, int]], kind: str):
    """A call computing every product of ``shapes`` for ``rows`` pieces in ``kind``."""
    generator = torch.Generator().manual_seed(0)
    if kind == "int8":  # int8 x int8 -> int32, oneDNN's VNNI / AMX kernels where present
        inputs = {i: torch.randint(-127, 127, (rows, i), dtype=torch.int8) for i, _ in shapes}
        weights = [torch.randint(-127, 127, (i, o), dtype=torch.int8) for i, o in shapes]
        return lambda: [torch._int_mm(inputs[w.shape[0]], w) for w in weights]
    dtype = torch.bfloat16 if kind == "bf16" else torch.float32
    inputs = {i: torch.randn(rows, i, generator=generator).to(dtype) for i, _ in shapes}
    weights = [torch.randn(i, o, generator=generator).to(dtype) for i, o in shapes]
    return lambda: [inputs[w.shape[0]] @ w for w in weights]


#: bf16 only where the CPU computes it natively
BF16 = ["bf16"] if cpu_supports_bf16() else []


@pytest.mark.parametrize("kind", ["fp32", "int8", *BF16])
def test_encoder_products_alone(benchmark, median_pieces, machine, kind):
    rows = median_pieces
    # torch._int_mm wants more than 16 rows and multiples of 8
    padded = max(24, -(-rows // 8) * 8) if kind == "int8" else rows
    shapes = weight_shapes(BETO_SHAPE)
    flops = 2 * padded * sum(i * o for i, o in shapes)
    call = products(padded, shapes, kind)
    with torch.inference_mode():
        benchmark.pedantic(call, rounds=30, warmup_rounds=3)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        cpu=machine,
        number_type=kind,
        pieces=rows,
        rows_computed=padded,
        gflop=flops / 1e9,
        gflop_per_s=flops / median / 1e9,
        threads=torch.get_num_threads(),
    )


def words(tweet: Tweet) -> int:
    from core.tokenization import tokenize

    return len(tokenize(tweet.text))


@pytest.mark.parametrize("kind", ["fp32", *BF16])
def test_rnn_recurrent_products_alone(benchmark, tweets, machine, kind):
    """The word BiGRU's recurrent products of the Table 3 RNN (hidden 512) over the
    median tweet: one (1 x 512) x (512 x 1536) product per word and direction, each
    waiting for the one before, so no batching of steps can hide them; each
    direction's weights (3 MiB in fp32) are read again at every step."""
    from systems.rnn import RnnConfig

    hidden = RnnConfig().encoder_hidden
    steps = words(tweets["median"])
    dtype = torch.bfloat16 if kind == "bf16" else torch.float32
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(hidden, 3 * hidden, generator=generator).to(dtype) for _ in range(2)]
    start = torch.zeros(1, hidden, dtype=dtype)

    def recurrence() -> None:
        for weight in weights:  # forward, then backward direction
            state = start
            for _ in range(steps):
                state = (state @ weight)[:, :hidden]

    with torch.inference_mode():
        benchmark.pedantic(recurrence, rounds=30, warmup_rounds=3)
    flops = 2 * 2 * steps * hidden * 3 * hidden
    benchmark.extra_info.update(
        cpu=machine,
        number_type=kind,
        words=steps,
        products=2 * steps,
        weight_mib_per_direction=hidden * 3 * hidden * weights[0].element_size() / 2**20,
        gflop_per_s=flops / benchmark.stats.stats.median / 1e9,
        threads=torch.get_num_threads(),
    )
