"""The fast CPU inference path: dynamic int8 quantisation, or bf16 where the CPU has it.

Users switch it on with ``--precision int8`` (``harness predict``/``harness bench``). Linear,
GRU and LSTM layers get int8 weights with activations quantised on the fly (PyTorch's
dynamic quantisation, fbgemm kernels on x86); everything else -- embeddings, the CRF and
its Viterbi decoding -- stays fp32, so spans are decoded exactly as before.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from harness.errors import HarnessError

PRECISIONS = ("fp32", "int8", "bf16")
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (emulated bf16 is slower than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


def optimize_for_cpu(model: nn.Module, precision: str) -> nn.Module:
    """A copy of ``model`` (or the model itself for fp32) for fast CPU prediction."""
    if precision not in PRECISIONS:
        raise HarnessError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    model = model.cpu().eval()
    if precision == "fp32":
        return model
    if precision == "bf16":
        if not cpu_supports_bf16():
            raise HarnessError(
                "bf16: this CPU has no native bfloat16 (avx512_bf16 or amx_bf16); use int8"
            )
        return model.to(torch.bfloat16)
    with warnings.catch_warnings():  # eager-mode quantisation is deprecated, still supported
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear, nn.GRU, nn.LSTM}, dtype=torch.qint8
        )
