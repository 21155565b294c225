"""The CPU's limit for one prediction: the matrix products of a BETO-sized encoder over
the median tweet, alone, on the fastest kernels an installed engine has for each number
type here.

Why: the issue's targets were derived from the arithmetic of an encoder (about 9 GFLOP
for a 50-piece tweet) and a nominal peak of the CPU. What a CPU sustains on these
shapes (a few dozen rows against 768 x 3072 weights) is far from its nominal peak, and
differs from machine to machine; this benchmark measures it, so a latency figure can be
read against what the same CPU does with no harness, no attention, no normalisation
around the products. Its ``extra_info`` holds the engine, the pieces, the GFLOP and the
GFLOP/s.

fp32 and bf16 are PyTorch's products (oneDNN). int8 is the fastest of the engines
installed: a limit slower than a whole int8 prediction is none (on an AMD EPYC without
VNNI, ``torch._int_mm`` took 1554 ms where an int8 prediction took 49 ms), so each
engine's int8 product is timed briefly and the fastest is benchmarked, labelled with its
engine; where none beats PyTorch's fp32 products the int8 row skips, saying so.

    pytest benchmarks/test_cpu_limit.py --benchmark-json limit.json
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from benchmarks.report import CPU_LIMIT, RNN_LIMIT
from core.machine import cpu_supports_bf16, engine_available
from core.tweets import Tweet
from harness.reference_models import BETO_SHAPE

Shapes = list[tuple[int, int]]


def weight_shapes(config: dict) -> Shapes:
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


@dataclass
class Products:
    """One engine's call computing every product of the encoder, and the rows it
    computes (an engine may need the rows padded)."""

    engine: str
    rows: int
    call: Callable[[], object]


def torch_products(rows: int, shapes: Shapes, kind: str) -> Products:
    """fp32 or bf16 products on PyTorch (oneDNN's AVX-512 / AMX kernels where present)."""
    generator = torch.Generator().manual_seed(0)
    dtype = torch.bfloat16 if kind == "bf16" else torch.float32
    inputs = {i: torch.randn(rows, i, generator=generator).to(dtype) for i, _ in shapes}
    weights = [torch.randn(i, o, generator=generator).to(dtype) for i, o in shapes]
    return Products("torch", rows, lambda: [inputs[w.shape[0]] @ w for w in weights])


def torch_int_mm(rows: int, shapes: Shapes) -> Products:
    """int8 x int8 -> int32 with ``torch._int_mm`` (fast with VNNI / AMX, a slow
    fallback without)."""
    padded = max(24, -(-rows // 8) * 8)  # it wants more than 16 rows, a multiple of 8
    inputs = {i: torch.randint(-127, 127, (padded, i), dtype=torch.int8) for i, _ in shapes}
    weights = [torch.randint(-127, 127, (i, o), dtype=torch.int8) for i, o in shapes]
    return Products(
        "torch._int_mm", padded, lambda: [torch._int_mm(inputs[w.shape[0]], w) for w in weights]
    )


def torch_dynamic_linear(rows: int, shapes: Shapes) -> Products:
    """PyTorch's dynamic int8 ``Linear`` (fbgemm / x86 backend): the kernel the harness's
    torch int8 path runs, fp32 rows quantised on the fly."""
    generator = torch.Generator().manual_seed(0)
    inputs = {i: torch.randn(rows, i, generator=generator) for i, _ in shapes}
    packed = []
    with warnings.catch_warnings():  # quantized tensors are deprecated; the int8 path uses them
        warnings.simplefilter("ignore", UserWarning)
        for i, o in shapes:
            weight = torch.quantize_per_tensor(
                torch.randn(o, i, generator=generator), 0.05, 0, torch.qint8
            )
            packed.append((i, torch.ops.quantized.linear_prepack(weight, None)))
    linear = torch.ops.quantized.linear_dynamic
    engine = f"torch linear_dynamic ({torch.backends.quantized.engine})"
    return Products(engine, rows, lambda: [linear(inputs[i], p) for i, p in packed])


def onnxruntime_matmul_integer(rows: int, shapes: Shapes) -> Products:
    """ONNX Runtime's MatMulInteger, uint8 rows x int8 weights (what its dynamic int8
    quantisation emits; MLAS's VNNI or AVX2 kernels), in a graph of the products alone,
    outputs left in ONNX Runtime's memory."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    widths = sorted({i for i, _ in shapes})
    nodes, weights, outputs = [], [], []
    for n, (i, o) in enumerate(shapes):
        weights.append(numpy_helper.from_array(rng.integers(-127, 127, (i, o), np.int8), f"w{n}"))
        nodes.append(helper.make_node("MatMulInteger", [f"x{i}", f"w{n}"], [f"y{n}"]))
        outputs.append(helper.make_tensor_value_info(f"y{n}", TensorProto.INT32, [rows, o]))
    inputs = [helper.make_tensor_value_info(f"x{i}", TensorProto.UINT8, [rows, i]) for i in widths]
    graph = helper.make_graph(nodes, "encoder_products", inputs, outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every ONNX Runtime the extra allows
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same threads as torch's
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    binding = session.io_binding()
    for i in widths:
        binding.bind_cpu_input(f"x{i}", rng.integers(0, 255, (rows, i), np.uint8))
    for n in range(len(shapes)):
        binding.bind_output(f"y{n}", "cpu")
    return Products("onnxruntime MatMulInteger", rows, lambda: session.run_with_iobinding(binding))


def int8_engines() -> tuple[list[Callable[[int, Shapes], Products]], list[str]]:
    """The int8 products the installed engines offer, and why others are missing."""
    engines: list[Callable[[int, Shapes], Products]] = []
    missing: list[str] = []
    if hasattr(torch, "_int_mm"):
        engines.append(torch_int_mm)
    else:
        missing.append(f"torch {torch.__version__} has no _int_mm")
    if {"x86", "fbgemm"} & set(torch.backends.quantized.supported_engines):
        engines.append(torch_dynamic_linear)
    else:
        missing.append("torch has no fbgemm / x86 quantized engine")
    if engine_available("onnxruntime"):
        engines.append(onnxruntime_matmul_integer)
    else:
        missing.append("onnxruntime not installed (pip install 'ner-harness[onnx]')")
    return engines, missing


def brief_median_ms(call: Callable[[], object]) -> float:
    """A quick median, to choose between engines: one warm-up call, then three timed
    (one when a call takes over half a second: a slow engine is not worth more)."""
    started = time.perf_counter()
    call()
    calls = 1 if time.perf_counter() - started > 0.5 else 3
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


@dataclass
class Int8Choice:
    """The fastest installed engine's int8 products, every engine's brief median (ms),
    and why the int8 limit is left out (``products`` None) where it is."""

    products: Products | None
    engines_ms: dict[str, float]
    left_out: str = ""


def fastest_int8(rows: int, shapes: Shapes) -> Int8Choice:
    """Time each installed engine's int8 products briefly and keep the fastest; none
    where no engine is installed, or none beats PyTorch's fp32 products (a limit slower
    than what an int8 prediction can fall back to limits nothing)."""
    makers, missing = int8_engines()
    if not makers:
        return Int8Choice(None, {}, f"no engine computes int8 products here: {'; '.join(missing)}")
    candidates = [make(rows, shapes) for make in makers]
    with torch.inference_mode():
        timings = {c.engine: round(brief_median_ms(c.call), 1) for c in candidates}
        fp32_ms = brief_median_ms(torch_products(rows, shapes, "fp32").call)
    best = min(candidates, key=lambda c: timings[c.engine])
    if timings[best.engine] >= fp32_ms:
        return Int8Choice(
            None,
            timings,
            "int8 CPU limit left out: no installed engine computes int8 products faster "
            f"than torch fp32 ({fp32_ms:.0f} ms) on this CPU; fastest: {best.engine} "
            f"{timings[best.engine]:.0f} ms",
        )
    return Int8Choice(best, timings)


#: bf16 only where the CPU computes it natively
BF16 = pytest.param(
    "bf16",
    marks=pytest.mark.skipif(
        not cpu_supports_bf16(), reason="bf16: this CPU has no native bfloat16"
    ),
)


@pytest.mark.quick
@pytest.mark.parametrize("kind", ["fp32", "int8", BF16])
def test_encoder_products_alone(benchmark, median_pieces, machine, summary_note, kind):
    rows = median_pieces
    shapes = weight_shapes(BETO_SHAPE)
    engines_ms: dict[str, float] = {}
    if kind == "int8":
        choice = fastest_int8(rows, shapes)
        if choice.products is None:
            summary_note(choice.left_out)
            pytest.skip(choice.left_out)
        products, engines_ms = choice.products, choice.engines_ms
    else:
        products = torch_products(rows, shapes, kind)
    flops = 2 * products.rows * sum(i * o for i, o in shapes)
    benchmark.group = "cpu limit: the encoder's products alone"
    slow = engines_ms.get(products.engine, 0) > 300  # a few rounds say enough
    with torch.inference_mode():
        benchmark.pedantic(products.call, rounds=5 if slow else 30, warmup_rounds=3)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        section=CPU_LIMIT,
        cpu=machine,
        number_type=kind,
        engine=products.engine,
        engines_ms=engines_ms,
        pieces=rows,
        rows_computed=products.rows,
        gflop=flops / 1e9,
        gflop_per_s=flops / median / 1e9,
        threads=torch.get_num_threads(),
    )


def words(tweet: Tweet) -> int:
    from core.tokenization import tokenize

    return len(tokenize(tweet.text))


@pytest.mark.parametrize("kind", ["fp32", BF16])
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

    benchmark.group = "cpu limit: the RNN's recurrence alone"
    with torch.inference_mode():
        benchmark.pedantic(recurrence, rounds=30, warmup_rounds=3)
    flops = 2 * 2 * steps * hidden * 3 * hidden
    benchmark.extra_info.update(
        section=RNN_LIMIT,
        cpu=machine,
        number_type=kind,
        engine="torch",
        words=steps,
        products=2 * steps,
        weight_mib_per_direction=hidden * 3 * hidden * weights[0].element_size() / 2**20,
        gflop_per_s=flops / benchmark.stats.stats.median / 1e9,
        threads=torch.get_num_threads(),
    )
