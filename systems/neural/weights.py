"""Model weights on disk: safetensors written whole, and read back one tensor at a time
into a built model with every size and offset checked before it is trusted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from core.errors import HarnessError
from core.fileio import atomic_output


def write_weights(model: torch.nn.Module, path: Path) -> None:
    """The model's state as one safetensors file, written atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(path) as tmp:
        save_file(state, str(tmp))


#: floating dtypes a saved model may hold where the built one is fp32: a model trained
#: on a GPU and saved in half precision, or a bf16 predictor saved as it was
_HALF_SAVES = ("F16", "BF16")
#: safetensors' dtype names (its format spec) of the tensors a model may hold
_SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def copy_weights(model: torch.nn.Module, weights: Path) -> None:
    """Fill ``model`` from a safetensors file, reading one tensor at a time.

    Why not ``safetensors.safe_open``: it memory-maps the file, and every mapped page it
    touches counts in the predictor's resident memory until the file is closed (about
    420 MB more peak for a BERT-base predictor, which then cannot stay under 1 GB). Plain
    reads of the documented format (8-byte header length, JSON header, raw little-endian
    data) keep the peak at the model plus its largest tensor.
    """
    target = model.state_dict()
    where = weights.parent

    def unfit(detail: str) -> HarnessError:
        return HarnessError(f"{where}: weights do not fit the architecture ({detail})")

    try:
        with open(weights, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            header_size = int.from_bytes(stream.read(8), "little")
            if header_size > size - 8:  # checked before reading: the length may be 2**62
                raise HarnessError(
                    f"{where}: cannot load model ({weights.name}: its header claims "
                    f"{header_size} bytes of a {size}-byte file)"
                )
            data_size = size - 8 - header_size
            header = json.loads(stream.read(header_size))
            if not isinstance(header, dict):
                raise ValueError("the header is not a JSON object")
            header.pop("__metadata__", None)
            missing = sorted(target.keys() - header.keys())
            unexpected = sorted(header.keys() - target.keys())
            if missing or unexpected:
                raise unfit(f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}")
            for key, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
                tensor = target[key]
                begin, end = entry["data_offsets"]
                saved_dtype = _saved_dtype(entry["dtype"], tensor)
                if saved_dtype is None:
                    raise unfit(f"{key}: {entry['dtype']} saved, {tensor.dtype} built")
                if tuple(entry["shape"]) != tuple(tensor.shape):
                    raise unfit(
                        f"{key}: {tuple(entry['shape'])} saved, {tuple(tensor.shape)} built"
                    )
                expected = tensor.numel() * saved_dtype.itemsize
                # checked before allocating: offsets may claim gigabytes of a small file
                if not 0 <= begin <= end <= data_size:
                    raise HarnessError(
                        f"{where}: cannot load model ({weights.name}: {key} lies at bytes "
                        f"{begin}-{end} of {data_size}: truncated, or a header that lies)"
                    )
                if end - begin != expected:
                    raise unfit(f"{key}: {end - begin} bytes saved, {expected} built")
                raw = bytearray(end - begin)
                stream.seek(8 + header_size + begin)
                if stream.readinto(raw) != len(raw):
                    raise HarnessError(f"{where}: cannot load model ({weights.name} truncated)")
                if raw:
                    with torch.no_grad():
                        saved = torch.frombuffer(raw, dtype=saved_dtype).view(tensor.shape)
                        tensor.copy_(saved)  # half precision widens to the built fp32
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
        raise HarnessError(f"{where}: cannot load model ({weights.name}: {err})") from None


def _saved_dtype(name: str, built: torch.Tensor) -> torch.dtype | None:
    """The torch dtype to read a saved tensor as, or None when it cannot fill ``built``."""
    if name == _SAFETENSORS_DTYPES.get(built.dtype):
        return built.dtype
    if name in _HALF_SAVES and built.dtype == torch.float32:
        return torch.float16 if name == "F16" else torch.bfloat16
    return None
