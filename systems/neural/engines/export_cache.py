"""What the encoder engines (ONNX Runtime, OpenVINO) share: the sample batch an export is
traced on and checked against, the cache of exported files keyed by the weights they
came from, and the parity check that keeps a wrong export from giving wrong spans.

An engine replaces only a transformer system's encoder with an ``nn.Module`` that takes
the same call (``input_ids``, ``attention_mask``) and gives the same output field
(``last_hidden_state``); heads, CRF and decoding stay PyTorch's.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from core.errors import HarnessError
from systems.neural.encoders import quiet_loading


def sample_inputs(vocabulary_size: int) -> dict[str, torch.Tensor]:
    """Two windows of 12 pieces, the second padded after 7: traces a dynamic batch and
    length, and checks that padding is masked as PyTorch masks it."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, max(4, vocabulary_size), (2, 12), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def weights_digest(encoder: nn.Module, packages: Sequence[str]) -> str:
    """What an exported file depends on: the weights, the config and the versions of
    ``packages`` (the engine's) besides torch and transformers."""
    digest = hashlib.sha256()
    config = getattr(encoder, "config", None)
    if config is not None:
        digest.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    versions = {name: metadata.version(name) for name in ("torch", "transformers", *packages)}
    digest.update(json.dumps(versions, sort_keys=True).encode())
    return digest.hexdigest()


@contextmanager
def quiet_export(names: Sequence[str]) -> Iterator[None]:
    """Exporters print their stages and log warnings about operators they skip,
    quantisers log advice; a benchmark table or a submission run shows none of it
    (failures still raise). ``names``: the loggers to hush ("" is the root logger)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            quiet_loading(show_progress=False),
            redirect_stdout(io.StringIO()),
            redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def cached(root: Path, key: str, model_file: str, make: Callable[[Path], object]) -> Path:
    """``root/key/model_file``, made by ``make(folder)`` in a temporary folder renamed
    into place, so a crash never leaves a half-written model in the cache."""
    folder = root / key
    if (folder / model_file).is_file():
        return folder / model_file
    try:
        if folder.exists():  # left without its model by hand or by a full disk
            shutil.rmtree(folder)
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    except OSError as err:
        raise HarnessError(f"{root}: cannot write the export cache ({err.strerror})") from None
    try:
        make(work)
        work.chmod(0o755)
        try:
            work.rename(folder)
        except OSError:  # another process finished first: keep its copy
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder / model_file


def check_parity(encoder: nn.Module, exported: nn.Module, engine: str, tolerance: float) -> float:
    """Largest difference between PyTorch's and the export's hidden states at the real
    (unpadded) positions of the sample batch; stops when it passes ``tolerance``."""
    inputs = sample_inputs(encoder.config.vocab_size)
    with torch.inference_mode():
        expected = encoder(**inputs).last_hidden_state
        got = exported(**inputs).last_hidden_state
    real = inputs["attention_mask"].bool()
    gap = float((expected[real] - got[real]).abs().max())
    if not gap <= tolerance:
        raise HarnessError(
            f"engine {engine}: the exported {type(encoder).__name__} differs from PyTorch "
            f"by {gap:.3g} in hidden states (tolerance {tolerance:g}); use --engine torch"
        )
    return gap
