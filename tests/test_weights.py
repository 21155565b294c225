"""Streaming weight loading (``copy_weights``): exact copies, and one-line errors for files
that do not fit the model."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from core.errors import HarnessError
from systems.neural.weights import copy_weights


def small_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(7, 4), nn.Linear(4, 3))
    model.register_buffer("steps", torch.tensor([3], dtype=torch.int64))
    return model


def test_weights_are_copied_exactly(tmp_path):
    source = small_model()
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.add_(1.5)
    save_file(source.state_dict(), str(tmp_path / "w.safetensors"))
    target = small_model()
    copy_weights(target, tmp_path / "w.safetensors")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("1.bias"), r"missing \['1.bias'\]"),
        (lambda s: s.update(extra=torch.zeros(1)), r"unexpected \['extra'\]"),
        (lambda s: s.update({"1.bias": torch.zeros(5)}), r"1.bias: \(5,\) saved, \(3,\) built"),
        (lambda s: s.update({"1.bias": torch.zeros(3, dtype=torch.float64)}), "F64 saved"),
    ],
)
def test_files_that_do_not_fit_are_one_line_errors(tmp_path, change, message):
    state = dict(small_model().state_dict())
    change(state)
    save_file(state, str(tmp_path / "w.safetensors"))
    with pytest.raises(HarnessError, match=message):
        copy_weights(small_model(), tmp_path / "w.safetensors")


def test_truncated_and_garbage_files_are_one_line_errors(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(small_model().state_dict(), str(path))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(HarnessError, match="truncated"):
        copy_weights(small_model(), path)
    path.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{nope")
    with pytest.raises(HarnessError, match="cannot load model"):
        copy_weights(small_model(), path)


def test_a_header_that_lies_is_refused_before_anything_is_allocated(tmp_path):
    """A 1 MB file whose header claims gigabytes must not get them allocated."""
    path = tmp_path / "w.safetensors"
    path.write_bytes((2**62).to_bytes(8, "little") + b"{}" + bytes(1 << 20))
    with pytest.raises(HarnessError, match=r"header claims 4611686018427387904 bytes"):
        copy_weights(small_model(), path)
    save_file(small_model().state_dict(), str(path))
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["0.weight"]["data_offsets"] = [0, 6 << 30]  # 6 GB claimed
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + size :] + bytes(1 << 20))
    with pytest.raises(HarnessError, match=r"0.weight lies at bytes 0-6442450944 of \d+"):
        copy_weights(small_model(), path)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_saves_widen_into_the_fp32_model(tmp_path, dtype):
    source = small_model()
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in source.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    target = nn.Sequential(nn.Embedding(7, 4), nn.Linear(4, 3))
    target.register_buffer("steps", torch.tensor([0], dtype=torch.int64))
    copy_weights(target, tmp_path / "w.safetensors")
    for key, value in state.items():
        assert target.state_dict()[key].dtype == source.state_dict()[key].dtype
        assert torch.equal(target.state_dict()[key], value.to(target.state_dict()[key].dtype))
