"""The fast CPU inference path: dynamic int8 quantisation, or bf16 where the CPU has it.

Users switch it on with ``--precision`` (``harness predict``, ``harness bench``). Quantised
layers get int8 weights and have their activations quantised on the fly (PyTorch's dynamic
quantisation, fbgemm kernels on x86); embeddings, the CRF and its Viterbi decoding always
stay fp32, so spans are decoded exactly as before.

``int8`` is the accuracy-preserving default; ``int8-full`` quantises every Linear layer.
Why the difference: measured on the MiniLM systems trained on ProfNER, quantising every
Linear layer moved valid F1 7b strict by -0.037 (transformer), -0.063 (bert-softmax) and
-0.027 (contrastive). A per-layer sweep on the transformer found the loss in two places:
the first transformer block and the feed-forward down-projections, whose inputs (GELU
outputs) carry outliers up to 9x their 99.9th percentile, which one per-tensor activation
scale cannot resolve. ``int8`` therefore keeps those and the task heads in fp32 and gives
the remaining Linear layers per-output-channel weight scales; GRU and LSTM layers of at
least ``MIN_INT8_RECURRENT_UNITS`` units are quantised in both modes (the RNN's F1 moves
by at most 0.001); narrower ones gain nothing from int8 and stay fp32.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn
from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

from core.errors import HarnessError
from core.inference_paths import PRECISIONS, InferencePath


def transformer_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The stacked blocks of every encoder in ``model``: the items of each ``ModuleList``
    holding Linear layers (``encoder.layer`` in BERT-likes), with their qualified names."""
    blocks: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList):
            for index, block in enumerate(module):
                if any(isinstance(m, nn.Linear) for m in block.modules()):
                    blocks.append((f"{name}.{index}" if name else str(index), block))
    return blocks


def int8_linear_layers(model: nn.Module) -> list[str]:
    """Qualified names of the Linear layers ``int8`` quantises: inside encoder blocks other
    than each encoder's first, and not down-projections (more inputs than outputs)."""
    chosen: list[str] = []
    for block_name, block in transformer_blocks(model):
        if block_name.rsplit(".", 1)[-1] == "0":
            continue
        for name, module in block.named_modules():
            if isinstance(module, nn.Linear) and module.in_features <= module.out_features:
                chosen.append(f"{block_name}.{name}")
    return chosen


#: recurrent layers narrower than this stay fp32 in int8: on them PyTorch's int8 op costs
#: more per call than the arithmetic it saves (Table 3's RNN, whose character GRU and 7a
#: pooler LSTM have 64 units: the median tweet's int8 call took 9.85 ms with them in
#: int8 and 8.80 ms with them in fp32, on an AMD EPYC with VNNI)
MIN_INT8_RECURRENT_UNITS = 128


def int8_recurrent_layers(model: nn.Module) -> list[str]:
    """Qualified names of the GRU and LSTM layers int8 quantises: the wide ones."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.GRU | nn.LSTM) and module.hidden_size >= MIN_INT8_RECURRENT_UNITS
    ]


def quantization_plan(model: nn.Module, precision: str) -> dict[str | type, object]:
    """The ``qconfig_spec`` of ``quantize_dynamic`` for an int8 precision."""
    recurrent = dict.fromkeys(int8_recurrent_layers(model), default_dynamic_qconfig)
    if precision == "int8-full":
        return {nn.Linear: per_channel_dynamic_qconfig, **recurrent}
    return {**dict.fromkeys(int8_linear_layers(model), per_channel_dynamic_qconfig), **recurrent}


def optimize_for_cpu(model: nn.Module, precision: str, inplace: bool = False) -> nn.Module:
    """``model`` made fast for CPU prediction: a copy, or ``model`` itself converted when
    ``inplace`` (and always for fp32)."""
    if precision not in PRECISIONS:
        raise HarnessError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    model = model.cpu().eval()
    if precision == "fp32":
        return model
    if precision == "bf16":
        obstacle = InferencePath("torch", precision).obstacle()
        if obstacle:
            raise HarnessError(obstacle)
        return model.to(torch.bfloat16) if inplace else copy.deepcopy(model).to(torch.bfloat16)
    with warnings.catch_warnings():  # eager-mode quantisation is deprecated, still supported
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            model, quantization_plan(model, precision), dtype=torch.qint8, inplace=inplace
        )
