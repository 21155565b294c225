"""Where one prediction's time goes: the encoder or the recurrent layers, and the rest.

Why: the latency targets can be met only if the layers that do the arithmetic are fast
*and* everything around them (tokenising, batching, gazetteer flags, heads, Viterbi,
spans) stays small; a single figure per path hides which of the two a millisecond
belongs to. ``harness bench --profile`` times both on the same calls.

The heavy layers are found by what they are, whatever the engine put in their place:
the ``encoder`` of a transformer system (PyTorch, ONNX Runtime or OpenVINO), and every
recurrent layer (PyTorch's, its dynamically quantised one, or ONNX Runtime's). Their
``forward`` (and ``run``, which the ONNX Runtime recurrent layer is called by) are
wrapped on the instances for the profiling calls only, so the timed latency figures
carry no wrapper.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from core.system import System
from core.tweets import Tweet

#: what the split calls the heavy part, by system kind
ENCODER, RECURRENT = "encoder", "recurrent layers"


@dataclass(frozen=True)
class Split:
    """Median milliseconds per one-tweet ``predict`` call: in the heavy layers, and in
    everything else (each call's total less its heavy part)."""

    heavy: str
    heavy_ms: float
    rest_ms: float
    calls: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.heavy} {self.heavy_ms:.1f} / rest {self.rest_ms:.1f} ms"


def _recurrent_types() -> tuple[type, ...]:
    from torch.ao.nn.quantized.dynamic.modules.rnn import RNNBase as QuantizedRNNBase

    types: list[type] = [nn.RNNBase, QuantizedRNNBase]
    try:
        from systems.neural.engines.onnx_recurrent import OrtRecurrent
    except ImportError:  # the onnx extra is not installed
        pass
    else:
        types.append(OrtRecurrent)
    return tuple(types)


def heavy_layers(model: nn.Module) -> tuple[str, list[nn.Module]]:
    """The outermost heavy layers of ``model`` and what to call them."""
    recurrent = _recurrent_types()
    found: list[tuple[str, nn.Module]] = []

    def visit(name: str, module: nn.Module) -> None:
        if isinstance(module, recurrent):
            found.append((RECURRENT, module))
            return
        if name.rsplit(".", 1)[-1] == "encoder":
            found.append((ENCODER, module))
            return
        for child_name, child in module.named_children():
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    kinds = {kind for kind, _ in found}
    return (ENCODER if ENCODER in kinds else RECURRENT), [module for _, module in found]


@contextmanager
def _timed(modules: list[nn.Module], spent: list[float]) -> Iterator[None]:
    """Add the time spent inside ``modules`` to ``spent[0]``; calls nested inside one
    another (``run`` calling ``forward``) are counted once."""
    depth = [0]

    def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    spent[0] += time.perf_counter() - started

        return timed

    patched: list[tuple[nn.Module, str]] = []
    for module in modules:
        for method in ("forward", "run"):
            if callable(getattr(module, method, None)) and method not in vars(module):
                setattr(module, method, wrap(getattr(module, method)))
                patched.append((module, method))
    try:
        yield
    finally:
        for module, method in patched:
            delattr(module, method)


def profile_split(system: System, tweet: Tweet, calls: int = 20, warmup: int = 2) -> Split | None:
    """The split of one-tweet ``predict`` calls, or ``None`` for a system without
    neural layers (a dictionary: all of it is "the rest")."""
    model = getattr(system, "model", None)
    if not isinstance(model, nn.Module):
        return None
    heavy, modules = heavy_layers(model)
    if not modules:
        return None
    for _ in range(warmup):
        system.predict([tweet])
    heavy_ms: list[float] = []
    rest_ms: list[float] = []
    for _ in range(calls):
        spent = [0.0]
        with _timed(modules, spent):
            started = time.perf_counter()
            system.predict([tweet])
            total = time.perf_counter() - started
        heavy_ms.append(spent[0] * 1000)
        rest_ms.append((total - spent[0]) * 1000)
    return Split(heavy, statistics.median(heavy_ms), statistics.median(rest_ms), calls)
