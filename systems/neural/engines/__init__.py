"""Inference engines besides PyTorch, behind one interface.

An engine takes over the heavy layers of a loaded PyTorch model for prediction: a
transformer's encoder (exported once per model and cached, checked against PyTorch
before first use, then loaded at a precision) or an RNN's recurrent layers. Heads, CRF
and Viterbi stay in PyTorch, so spans are decoded the same way on every engine.

The precisions each engine offers are declared here, without importing the engine, so
that systems can declare their inference paths (``core.inference_paths``) at no cost.
"""

from __future__ import annotations

import gc
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from core.errors import HarnessError
from core.inference_paths import InferencePath
from core.machine import require_engine
from systems.neural.inference import optimize_for_cpu


@dataclass(frozen=True)
class EncoderEngine:
    """An engine that runs a Hugging Face encoder: ``encoder_file`` exports (or finds in
    the cache) the encoder at a precision, ``load_encoder`` makes it a module that stands
    where the PyTorch encoder stood."""

    name: str
    module: str
    precisions: tuple[str, ...]

    def _implementation(self) -> Any:
        require_engine(self.name)
        return importlib.import_module(self.module)

    def encoder_file(self, encoder: nn.Module, precision: str) -> Path:
        if precision not in self.precisions:
            raise HarnessError(f"engine {self.name} has no {precision} path for an encoder")
        return self._implementation().encoder_file(encoder, precision)  # type: ignore[no-any-return]

    def load_encoder(self, path: Path, precision: str, config: Any = None) -> nn.Module:
        return self._implementation().load_encoder(path, precision, config)  # type: ignore[no-any-return]


#: engines for transformer encoders, by ``--engine`` name
ENCODER_ENGINES = {
    "onnxruntime": EncoderEngine(
        "onnxruntime", "systems.neural.engines.onnx_runtime", ("fp32", "int8", "int8-full")
    ),
    "openvino": EncoderEngine(
        "openvino", "systems.neural.engines.openvino_runtime", ("fp32", "int8", "bf16")
    ),
}
#: engines for bidirectional GRU/LSTM layers, and their precisions: ONNX Runtime's
#: whole-layer operators, for every layer (fp32), or with int8 for the layers PyTorch
#: quantises (``inference.MIN_INT8_RECURRENT_UNITS`` units or more) and ONNX Runtime for
#: the narrow ones, where its operators beat PyTorch's fp32 loop (docs/benchmarks.md).
#: OpenVINO's measured slower than ONNX Runtime's on the best RNN's GRU in fp32 and bf16,
#: so it is not offered.
RECURRENT_ENGINES = {"onnxruntime": ("fp32", "int8")}


#: the layers an engine takes over: a recurrent tagger's GRUs/LSTMs, or an encoder
RECURRENT, ENCODER = "recurrent layers", "encoder"


def switch(model: nn.Module, path: InferencePath, heavy: str, system: str) -> nn.Module:
    """``model`` made to predict on ``path``, converted in place (a second copy of a
    BERT-base model would double the predictor's memory).

    PyTorch precisions convert the model itself; another engine takes over the
    ``heavy`` layers. For recurrent layers with int8, the wide ones are quantised in
    PyTorch first and the engine takes the narrow ones."""
    model = model.cpu().eval()
    if path.engine == "torch":
        return optimize_for_cpu(model, path.precision, inplace=True)
    if heavy == ENCODER:
        swap_encoder(model, path.engine, path.precision)
        return model
    if path.precision != "fp32":
        model = optimize_for_cpu(model, path.precision, inplace=True)
    swap_recurrent(model, path.engine, system)
    return model


def swap_encoder(model: nn.Module, engine: str, precision: str) -> None:
    """Replace ``model.encoder`` by ``engine``'s at ``precision``.

    The PyTorch encoder is dropped once its export is on disk and before the engine
    loads it: holding both put a BETO-sized predictor over 1 GiB of memory."""
    implementation = ENCODER_ENGINES[engine]
    encoder = model.encoder
    if not hasattr(encoder, "config") or not hasattr(encoder.config, "vocab_size"):
        raise HarnessError(f"engine {engine}: {type(encoder).__name__} is no Hugging Face encoder")
    path = implementation.encoder_file(encoder, precision)
    config = encoder.config
    model.encoder = None
    gc.collect()
    model.encoder = implementation.load_encoder(path, precision, config)


def swap_recurrent(model: nn.Module, engine: str, system: str) -> None:
    """Replace every bidirectional, batch-first GRU and LSTM of ``model`` still in fp32
    PyTorch (quantised ones stay) by ``engine``'s."""
    require_engine(engine)
    from systems.neural.engines.onnx_recurrent import to_onnxruntime

    if not to_onnxruntime(model):
        raise HarnessError(f"{system}: no fp32 recurrent layers left for engine {engine}")
