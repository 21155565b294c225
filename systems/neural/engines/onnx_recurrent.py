"""Bidirectional GRU and LSTM layers on ONNX Runtime, for the RNN systems' prediction.

PyTorch has no fused CPU GRU: its GRU loops over time steps with one small matrix
product each, per direction, and a packed batch adds bookkeeping per step. ONNX's
``GRU`` and ``LSTM`` operators are whole recurrent layers, and their
``sequence_lens`` input gives what packing gives (each direction reads only a
sequence's own elements, outputs past a sequence's end are zero), so an uneven batch
runs in one call per layer too. The graph is written directly from the layer's weights
(no tracing): PyTorch's gate order is rearranged into ONNX's, and GRUs use
``linear_before_reset=1``, PyTorch's formulation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from systems.neural.engines.onnx_runtime import require_onnxruntime, session

#: PyTorch's gate blocks, listed in ONNX's order: GRU r z n -> z r h; LSTM i f g o -> i o f c
_GATE_ORDER = {"GRU": (1, 0, 2), "LSTM": (0, 3, 1, 2)}


def _reorder(weight: torch.Tensor, mode: str) -> np.ndarray:
    blocks = weight.detach().float().cpu().numpy()
    gates = len(_GATE_ORDER[mode])
    parts = np.split(blocks, gates, axis=0)
    return np.concatenate([parts[i] for i in _GATE_ORDER[mode]], axis=0)


def recurrent_graph(rnn: nn.GRU | nn.LSTM) -> bytes:
    """The ONNX model of a bidirectional, batch-first ``rnn``: inputs ``inputs``
    (batch, steps, features) and ``lengths`` (batch,); outputs ``states`` (batch, steps,
    2H, zero past each length) and ``final`` (batch, 2H, the top layer's last states)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    mode = "GRU" if isinstance(rnn, nn.GRU) else "LSTM"
    hidden = rnn.hidden_size
    nodes: list[Any] = []
    initializers: list[Any] = []
    nodes.append(helper.make_node("Transpose", ["inputs"], ["x0"], perm=[1, 0, 2]))
    nodes.append(helper.make_node("Cast", ["lengths"], ["lens"], to=TensorProto.INT32))
    layer_input = "x0"
    for layer in range(rnn.num_layers):
        weights, recurrences, biases = [], [], []
        for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
            weights.append(_reorder(getattr(rnn, f"weight_ih{suffix}"), mode))
            recurrences.append(_reorder(getattr(rnn, f"weight_hh{suffix}"), mode))
            if rnn.bias:
                bias_ih = _reorder(getattr(rnn, f"bias_ih{suffix}")[:, None], mode)[:, 0]
                bias_hh = _reorder(getattr(rnn, f"bias_hh{suffix}")[:, None], mode)[:, 0]
            else:
                bias_ih = bias_hh = np.zeros(len(_GATE_ORDER[mode]) * hidden, np.float32)
            biases.append(np.concatenate([bias_ih, bias_hh]))
        names = [f"W{layer}", f"R{layer}", f"B{layer}"]
        for name, value in zip(names, (weights, recurrences, biases), strict=True):
            initializers.append(numpy_helper.from_array(np.stack(value).astype(np.float32), name))
        outputs = [f"y{layer}", f"h{layer}"] + ([f"c{layer}"] if mode == "LSTM" else [])
        attributes: dict[str, Any] = {"direction": "bidirectional", "hidden_size": hidden}
        if mode == "GRU":
            attributes["linear_before_reset"] = 1
        nodes.append(helper.make_node(mode, [layer_input, *names, "lens"], outputs, **attributes))
        # (steps, 2, batch, H) -> (steps, batch, 2H): the next layer's input
        nodes.append(helper.make_node("Transpose", [f"y{layer}"], [f"t{layer}"], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [f"t{layer}", "seq_shape"], [f"x{layer + 1}"]))
        layer_input = f"x{layer + 1}"
    top = rnn.num_layers - 1
    initializers.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), "seq_shape"))
    initializers.append(numpy_helper.from_array(np.array([0, -1], np.int64), "flat_shape"))
    nodes.append(helper.make_node("Transpose", [layer_input], ["states"], perm=[1, 0, 2]))
    nodes.append(helper.make_node("Transpose", [f"h{top}"], ["hb"], perm=[1, 0, 2]))
    nodes.append(helper.make_node("Reshape", ["hb", "flat_shape"], ["final"]))
    graph = helper.make_graph(
        nodes,
        f"bidirectional-{mode.lower()}",
        [
            helper.make_tensor_value_info(
                "inputs", TensorProto.FLOAT, ["batch", "steps", rnn.input_size]
            ),
            helper.make_tensor_value_info("lengths", TensorProto.INT64, ["batch"]),
        ],
        [
            helper.make_tensor_value_info(
                "states", TensorProto.FLOAT, ["batch", "steps", 2 * hidden]
            ),
            helper.make_tensor_value_info("final", TensorProto.FLOAT, ["batch", 2 * hidden]),
        ],
        initializers,
    )
    # IR version 8 (opset 17 era): what every ONNX Runtime since 1.14 reads
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


class OrtRecurrent(nn.Module):
    """Stands where a bidirectional, batch-first GRU or LSTM stood, for prediction: the
    helpers of :mod:`systems.neural.recurrent` call :meth:`run` instead of packing."""

    def __init__(self, rnn: nn.GRU | nn.LSTM):
        super().__init__()
        require_onnxruntime()
        if not rnn.bidirectional or not rnn.batch_first:
            raise ValueError("OrtRecurrent replaces bidirectional, batch-first layers only")
        self.mode = "GRU" if isinstance(rnn, nn.GRU) else "LSTM"
        self.hidden_size = rnn.hidden_size
        self.num_layers = rnn.num_layers
        self.bidirectional = True
        self.session = session(recurrent_graph(rnn), f"a bidirectional {self.mode}")

    def run(self, inputs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(every step's states, zero on padding; the top layer's final states)."""
        feed = {
            "inputs": np.ascontiguousarray(inputs.detach().float().cpu().numpy()),
            "lengths": np.ascontiguousarray(lengths.cpu().numpy(), dtype=np.int64),
        }
        states, final = self.session.run(["states", "final"], feed)
        return torch.from_numpy(states), torch.from_numpy(final)


def to_onnxruntime(model: nn.Module) -> int:
    """Replace every bidirectional, batch-first GRU and LSTM in ``model``; how many."""
    replaced = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.GRU | nn.LSTM) and module.bidirectional and module.batch_first:
            parent_name, _, leaf = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, leaf, OrtRecurrent(module))
            replaced += 1
    return replaced
