"""Optimiser, schedule and device handling shared by the neural systems.

AdamW with linear warm-up then linear decay, as the ProfNER winners trained both of
their systems; gradient accumulation for small GPUs; mixed precision on CUDA, and bf16
autocast on a CPU that computes bfloat16 natively.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR
from transformers import get_constant_schedule, get_linear_schedule_with_warmup

from core.errors import HarnessError
from core.machine import cpu_supports_bf16


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA when present; ``cpu``/``cuda``/``cuda:N`` are taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise HarnessError(f"unknown device {name!r} (use auto, cpu or cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"device {name!r} requested but CUDA is not available here")
    return device


def linear_warmup_decay(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
) -> LambdaLR:
    """Learning rate rises linearly for ``warmup_steps``, then falls linearly to 0 at
    ``total_steps`` (``transformers.get_linear_schedule_with_warmup``)."""
    return get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)


def constant_schedule(optimizer: torch.optim.Optimizer) -> LambdaLR:
    """A fixed learning rate (Chiu and Nichols trained their BiLSTM-CNN so;
    ``transformers.get_constant_schedule``)."""
    return get_constant_schedule(optimizer)


def parameter_groups(
    model: torch.nn.Module, weight_decay: float, module_lr: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """Trainable parameters with ``weight_decay``, except biases and normalisation weights
    (BERT's convention), which get none; the parameters of each child module named in
    ``module_lr`` form groups of their own at its learning rate."""
    module_lr = module_lr or {}
    unknown = sorted(set(module_lr) - {name for name, _ in model.named_children()})
    if unknown:
        raise HarnessError(f"no module {unknown[0]!r} to give a learning rate of its own")
    groups: dict[tuple[float | None, bool], list[torch.nn.Parameter]] = {
        (None, True): [],
        (None, False): [],
    }
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        decays = not (parameter.ndim < 2 or "norm" in name.lower())
        rate = module_lr.get(name.split(".", 1)[0])
        groups.setdefault((rate, decays), []).append(parameter)
    return [
        {"params": params, "weight_decay": weight_decay if decays else 0.0}
        | ({} if rate is None else {"lr": rate})
        for (rate, decays), params in groups.items()
        if params or rate is None
    ]


def make_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    module_lr: dict[str, float] | None = None,
) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`."""
    groups = [g for g in parameter_groups(model, weight_decay, module_lr) if g["params"]]
    return torch.optim.AdamW(groups, lr=lr)


def optimizer_steps(batches_per_epoch: int, grad_accum: int, epochs: int) -> int:
    return math.ceil(batches_per_epoch / max(grad_accum, 1)) * epochs


class Precision:
    """Autocast and loss scaling.

    CUDA: bf16 where the card supports it, else fp16 with loss scaling. CPU (``cpu_bf16``,
    which the transformer systems ask for): bf16 autocast only where the CPU computes
    bfloat16 natively (``amx_bf16``/``avx512_bf16``); emulated bf16 is slower than fp32,
    so elsewhere training stays fp32. The weights, the optimiser state and the task heads'
    losses (emissions, CRF, cross-entropy) stay fp32 throughout.
    """

    def __init__(self, device: torch.device, enabled: bool, cpu_bf16: bool = False):
        if device.type == "cuda":
            self.enabled = enabled
            bf16 = torch.cuda.is_bf16_supported()
        else:
            self.enabled = enabled and cpu_bf16 and cpu_supports_bf16()
            bf16 = True
        self.dtype = torch.float32
        if self.enabled:
            self.dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.enabled and self.dtype == torch.float16
        )
        self.device = device

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.enabled:
            with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                yield
        else:
            yield

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def step(
        self, optimizer: torch.optim.Optimizer, model: torch.nn.Module, max_grad_norm: float
    ) -> None:
        if max_grad_norm > 0:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
