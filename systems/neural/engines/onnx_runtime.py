"""ONNX Runtime as a second inference engine for the transformer systems' encoders.

Only the encoder moves: it is exported once per set of weights (Hugging Face's
``transformers.exporters`` ONNX exporter, with ONNX Runtime's CPU fusions: packed QKV
projections, BiasGelu, SkipLayerNormalization) and cached under the harness cache, keyed
by a digest of its weights and the library versions. The task heads, the CRF and its
Viterbi decoding stay in PyTorch fp32, so spans are decoded by the same code as on the
PyTorch engine; the export is checked against PyTorch on a padded batch before it is
used, so a wrong export stops with one line instead of giving wrong spans.

Precisions: ``fp32``; ``int8`` quantises the weight MatMuls dynamically (int8 weights per
output channel, activations quantised at run time, which uses VNNI where the CPU has it)
except, as on the PyTorch engine (see :mod:`systems.neural.inference`), the first
encoder block and the feed-forward down-projections whose GELU inputs carry outliers;
``int8-full`` quantises every weight MatMul. ONNX Runtime has no bf16 GEMM on x86 CPUs,
so bf16 stays a PyTorch path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from core.datasets import cache_dir
from core.errors import HarnessError, first_line
from core.machine import ONNX_PACKAGES, cpu_int8_kind, require_engine
from systems.neural.engines import export_cache
from systems.neural.engines.export_cache import cached, quiet_export, sample_inputs

log = logging.getLogger("harness")

#: largest difference in hidden states an fp32 export may show against PyTorch
PARITY_TOLERANCE = 1e-4
MODEL_FILE = "model.onnx"
#: the loggers the exporter and the quantiser talk on ("": quantize_dynamic's advice)
_LOGGERS = ("torch.onnx", "torch.export", "onnxscript", "")


def require_onnxruntime() -> None:
    """Stop with the install line when the ``onnx`` extra is missing."""
    require_engine("onnxruntime")


def weights_digest(encoder: nn.Module) -> str:
    """The cache key of ``encoder``'s exports (weights, config, library versions)."""
    return export_cache.weights_digest(encoder, ONNX_PACKAGES)


def export_encoder(encoder: nn.Module, target: Path) -> Path:
    """Export ``encoder`` (inputs ``input_ids``, ``attention_mask``; output
    ``last_hidden_state``) with ONNX Runtime's CPU fusions to ``target/model.onnx``."""
    from transformers.exporters import OnnxConfig, OnnxExporter

    inputs = sample_inputs(encoder.config.vocab_size)
    encoder = encoder.cpu().eval()
    try:
        with quiet_export(_LOGGERS):
            exported = OnnxExporter().export(
                encoder, inputs, config=OnnxConfig(dynamic=True, ort_fusions="cpu")
            )
            exported.save_pretrained(str(target))
    except Exception as err:  # the exporter's failures are many and deep
        raise HarnessError(
            f"engine onnxruntime: cannot export {type(encoder).__name__} ({first_line(err)})"
        ) from None
    return target / MODEL_FILE


def quantize(
    source: Path, target: Path, precision: str, first_block: int, reduce_range: bool
) -> Path:
    """Dynamic int8 of ``source``'s weight MatMuls into ``target`` (see module docstring).

    ``reduce_range``: 7-bit weights, for CPUs without VNNI, whose u8 x s8 instruction
    (``vpmaddubsw``) saturates its 16-bit sums on full-range weights (ONNX Runtime's
    quantisation guide); VNNI sums in 32 bits and needs no such cut.

    ``first_block``: how many weight MatMuls come first in the graph's order and form the
    first encoder block (they precede every later block's in a topological order)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    proto = onnx.load(str(source))
    # the exporter's value_info records the initializers' shapes before quantize_dynamic
    # transposes some of them, and its shape inference then stops on the mismatch
    initializers = {
        initializer.name: list(initializer.dims) for initializer in proto.graph.initializer
    }
    kept = [info for info in proto.graph.value_info if info.name not in initializers]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(kept)
    excluded: list[str] = []
    if precision == "int8":
        for index, node in enumerate(weight_matmuls(proto.graph)):
            rows, columns = initializers[node.input[1]]
            if index < first_block or rows > columns:
                excluded.append(node.name)
    with quiet_export(_LOGGERS):
        quantize_dynamic(
            proto,
            str(target),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            use_external_data_format=True,
            # types through ONNX Runtime's fused ops, which ONNX shape inference cannot see
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return target


def weight_matmuls(graph: Any) -> list[Any]:
    """The graph's MatMul nodes whose second input is a weight, in graph order."""
    weights = {initializer.name for initializer in graph.initializer}
    return [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def encoder_file(encoder: nn.Module, precision: str) -> Path:
    """The cached ONNX file of ``encoder`` at ``precision``: exported on first use (and
    checked against PyTorch), the int8 files quantised from the cached fp32 one."""
    require_onnxruntime()
    root = cache_dir() / "onnx"
    digest = weights_digest(encoder)

    def export(work: Path) -> None:
        log.info("engine onnxruntime: exporting the encoder, once per model")
        check_parity(encoder, export_encoder(encoder, work))

    fp32 = cached(root, f"{digest[:24]}-fp32", MODEL_FILE, export)
    if precision == "fp32":
        return fp32
    reduce_range = cpu_int8_kind() != "vnni"

    def quantized(work: Path) -> None:
        import onnx

        blocks = max(1, int(getattr(encoder.config, "num_hidden_layers", 1)))
        try:
            matmuls = weight_matmuls(onnx.load(str(fp32), load_external_data=False).graph)
        except Exception as err:  # a damaged cache entry
            raise HarnessError(
                f"{fp32}: unreadable cached export ({type(err).__name__}); delete {fp32.parent}"
            ) from None
        quantize(fp32, work / MODEL_FILE, precision, len(matmuls) // blocks, reduce_range)

    key = f"{digest[:24]}-{precision}{'-7bit' if reduce_range else ''}"
    return cached(root, key, MODEL_FILE, quantized)


def _session_options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # idle pool threads would spin for the next run and take the cores from PyTorch's
    # threads (the heads, the CRF) and from the other sessions of one model: an RNN
    # prediction (three sessions) took more than twice as long with spinning, 2 cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def session(model: Path | bytes, what: str | None = None) -> Any:
    """An ONNX Runtime CPU session using as many threads as PyTorch does, from a file or
    from a model built in memory (``what`` names it in errors; a file names itself)."""
    import onnxruntime as ort

    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, _session_options(), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise HarnessError(f"ONNX Runtime cannot run {what or model} ({first_line(err)})") from None


def check_parity(encoder: nn.Module, path: Path) -> float:
    """The export's largest difference from PyTorch (see ``export_cache``)."""
    exported = OrtEncoder(session(path))
    return export_cache.check_parity(encoder, exported, "onnxruntime", PARITY_TOLERANCE)


class OrtEncoder(nn.Module):
    """Stands where the Hugging Face encoder stood: the same call, the same output field,
    computed by an ONNX Runtime session."""

    def __init__(self, ort_session: Any, config: Any = None):
        super().__init__()
        self.session = ort_session
        self.config = config

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any
    ) -> BaseModelOutput:
        feed = {
            "input_ids": np.ascontiguousarray(input_ids.cpu().numpy(), dtype=np.int64),
            "attention_mask": np.ascontiguousarray(attention_mask.cpu().numpy(), dtype=np.int64),
        }
        (hidden,) = self.session.run(["last_hidden_state"], feed)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))


def load_encoder(path: Path, precision: str, config: Any = None) -> OrtEncoder:
    """The exported encoder at ``path`` (its precision is in the file) in a session."""
    log.debug("engine onnxruntime: %s %s (%s bytes)", precision, path, os.path.getsize(path))
    return OrtEncoder(session(path), config)
