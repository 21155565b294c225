"""OpenVINO as an inference engine for the transformer systems' encoders.

Why a second engine beside ONNX Runtime: ONNX Runtime has no bf16 GEMM on x86, and its
int8 quantises activations with one scale per tensor, which the encoders' GELU outliers
punish (see :mod:`systems.neural.inference`). OpenVINO's CPU plugin computes in bf16 on
AMX and AVX-512 BF16 CPUs, and runs int8 weights with activations quantised at run time
in small groups, on VNNI or AMX where the CPU has them; measured on BETO-sized and
e5-small encoders, both were the fastest single-tweet paths (README, Benchmarks).

As on the ONNX Runtime engine, only the encoder moves: it is converted once per set of
weights from the PyTorch module itself (``openvino.convert_model``, dynamic batch and
length), saved as OpenVINO IR under the harness cache keyed by a digest of its weights
and the library versions, and checked against PyTorch on a padded batch before use.
Heads, CRF and decoding stay PyTorch fp32.

Precisions: ``fp32``; ``bf16`` (compiled with bf16 inference precision from an IR with
16-bit weights, on CPUs with native bf16 only); ``int8``: weights compressed to int8 per
output channel by NNCF (data-free: no calibration tweets needed), activations quantised
at run time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from core.datasets import cache_dir
from core.errors import HarnessError, first_line
from core.machine import OPENVINO_PACKAGES, require_engine
from systems.neural.engines import export_cache
from systems.neural.engines.export_cache import cached, quiet_export, sample_inputs

log = logging.getLogger("harness")

#: largest difference in hidden states the fp32 IR may show against PyTorch
PARITY_TOLERANCE = 1e-4
MODEL_FILE = "model.xml"
_LOGGERS = ("openvino", "nncf", "torch.jit", "")


class HiddenStates(nn.Module):
    """The encoder reduced to the one tensor the systems read, so the converted model
    has one output whatever the architecture's output class holds."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def convert_encoder(encoder: nn.Module, target: Path) -> Path:
    """``encoder`` converted to OpenVINO IR (fp32 weights) at ``target/model.xml``."""
    import openvino as ov

    inputs = sample_inputs(encoder.config.vocab_size)
    wrapped = HiddenStates(encoder.cpu().eval())
    try:
        with quiet_export(_LOGGERS), torch.inference_mode(False), torch.no_grad():
            model = ov.convert_model(wrapped, example_input=inputs)
            ov.save_model(model, str(target / MODEL_FILE), compress_to_fp16=False)
    except Exception as err:  # the converter's failures are many and deep
        raise HarnessError(
            f"engine openvino: cannot convert {type(encoder).__name__} ({first_line(err)})"
        ) from None
    return target / MODEL_FILE


def derived_file(source: Path, target: Path, precision: str) -> Path:
    """The ``int8`` or ``bf16`` IR made from the fp32 one at ``source``.

    int8: the weights as int8 per output channel (NNCF, no calibration data).
    bf16: the weights stored in 16 bits. Why: compiling for bf16 converts every weight,
    and from an fp32 file the fp32 and bf16 copies are in memory together (a
    BETO-sized predictor peaked over 1 GiB); from fp16 weights the peak is half as
    high, and fp16 keeps more mantissa bits than bf16, so rounding through it first
    changes no weight by more than bf16's own rounding step."""
    import openvino as ov

    try:
        with quiet_export(_LOGGERS):
            model = ov.Core().read_model(str(source))
            if precision == "int8":
                import nncf

                model = nncf.compress_weights(model)
            ov.save_model(model, str(target / MODEL_FILE), compress_to_fp16=precision == "bf16")
    except Exception as err:
        raise HarnessError(
            f"engine openvino: cannot make the {precision} file from {source} ({first_line(err)})"
        ) from None
    return target / MODEL_FILE


def encoder_file(encoder: nn.Module, precision: str) -> Path:
    """The cached IR of ``encoder`` for ``precision``: converted on first use (and
    checked against PyTorch); the int8 and bf16 ones derived from the cached fp32 one."""
    require_engine("openvino")
    root = cache_dir() / "openvino"
    digest = export_cache.weights_digest(encoder, OPENVINO_PACKAGES)

    def convert(work: Path) -> None:
        log.info("engine openvino: converting the encoder, once per model")
        path = convert_encoder(encoder, work)
        exported = OpenVinoEncoder(compiled(path, "fp32"))
        export_cache.check_parity(encoder, exported, "openvino", PARITY_TOLERANCE)

    fp32 = cached(root, f"{digest[:24]}-fp32", MODEL_FILE, convert)
    if precision == "fp32":
        return fp32
    return cached(
        root, f"{digest[:24]}-{precision}", MODEL_FILE, lambda w: derived_file(fp32, w, precision)
    )


def compiled(path: Path, precision: str) -> Any:
    """``path`` compiled for this CPU for one request at a time, on PyTorch's threads.

    int8 runs with fp32 activations around its int8 weights: with a bf16 inference
    precision the plugin converts them again, which measured slower on AMX."""
    import openvino as ov

    config = {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
    }
    try:
        return ov.Core().compile_model(str(path), "CPU", config)
    except Exception as err:
        raise HarnessError(f"OpenVINO cannot run {path} ({first_line(err)})") from None


class OpenVinoEncoder(nn.Module):
    """Stands where the Hugging Face encoder stood: the same call, the same output field,
    computed by a compiled OpenVINO model."""

    def __init__(self, model: Any, config: Any = None):
        super().__init__()
        self.request = model.create_infer_request()
        self.config = config

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any
    ) -> BaseModelOutput:
        feed = [
            np.ascontiguousarray(input_ids.cpu().numpy(), dtype=np.int64),
            np.ascontiguousarray(attention_mask.cpu().numpy(), dtype=np.int64),
        ]
        # the request reuses its output buffer on the next call: infer copies it out
        # (share_outputs=False), so a caller's tensor is never overwritten
        hidden = self.request.infer(feed, share_outputs=False)[0]
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))


def load_encoder(path: Path, precision: str, config: Any = None) -> OpenVinoEncoder:
    """The encoder IR at ``path`` compiled for ``precision``, in the encoder's place."""
    return OpenVinoEncoder(compiled(path, precision), config)
