"""Pretrained Hugging Face encoders: loading by hub name or folder, and their limits.

Every transformer system (``transformer``, ``bert-softmax``, ``contrastive``) reads its
encoder through these functions, so an encoder that cannot be used (no fast tokenizer,
missing files, offline with a hub name) stops with the same one-line error everywhere.
A saved model keeps the encoder's config and tokenizer in ``BACKBONE_FOLDER`` so it
loads offline; its weights are in the model's own safetensors file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from core.errors import HarnessError
from systems.neural.hub import looks_like_hub_name

#: sub-folder of a saved model with the encoder's config.json and the tokenizer files
BACKBONE_FOLDER = "backbone"


def detach_pooler(encoder: nn.Module) -> dict[str, torch.Tensor] | None:
    """Remove the encoder's own pooler and return its dense layer's weights, if any.

    The system's pooler replaces it (so it also pools averaged windows); removing it keeps
    unused parameters out of the optimiser and the parameter count.
    """
    pooler = getattr(encoder, "pooler", None)
    if pooler is None:
        return None
    dense = getattr(pooler, "dense", None)
    state = (
        {k: v.detach().clone() for k, v in dense.state_dict().items()}
        if isinstance(dense, nn.Linear)
        else None
    )
    encoder.pooler = None
    return state


@contextlib.contextmanager
def quiet_loading(show_progress: bool) -> Iterator[None]:
    """Hide transformers' loading and saving progress bars unless progress is wanted, and
    its load report always: the one key it reports for our encoders is the pooler, which
    the system replaces and logs about itself."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    if not show_progress:
        hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_error(name: str, err: Exception) -> HarnessError:
    """One line from transformers' multi-line loading errors, with what to do about it."""
    if not Path(name).expanduser().exists() and not looks_like_hub_name(name):
        return HarnessError(f"transformer: model folder {name!r} does not exist")
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reason = lines[0] if lines else type(err).__name__
    hint = ""
    if not Path(name).exists():
        hint = (
            " (offline? pass a downloaded model folder with -o model=PATH, or run "
            "harness encoders install multilingual-e5-small)"
        )
    return HarnessError(f"transformer: cannot load model {name!r}: {reason}{hint}")


LOAD_ERRORS = (OSError, ValueError, KeyError, ImportError, SafetensorError)


def _byte_level_without_prefix_space(tokenizer: Any) -> bool:
    """Whether the tokenizer has a byte-level pre-tokenizer that reads a pre-split word
    without its leading space: RoBERTa-style BPE then gives a word at the start of its
    list the pieces of a word glued to the previous one, not of a word after a space."""
    try:
        pre = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    except (AttributeError, ValueError):
        return False
    stack = [pre]
    while stack:
        node = stack.pop()
        if node.get("type") == "ByteLevel" and not node.get("add_prefix_space", False):
            return True
        stack += node.get("pretokenizers", [])
    return False


def load_tokenizer(name: str) -> Any:
    """A fast tokenizer by hub name or folder; a slow-only tokenizer is an error.

    The harness hands the tokenizer words split by spaCy, so a byte-level BPE tokenizer
    is loaded with ``add_prefix_space=True``: every word gets the leading-space form it
    has inside running text.
    """
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        if _byte_level_without_prefix_space(tokenizer):
            tokenizer = AutoTokenizer.from_pretrained(name, add_prefix_space=True)
    except LOAD_ERRORS as err:
        raise load_error(name, err) from None
    if not getattr(tokenizer, "is_fast", False):
        raise HarnessError(
            f"transformer: model {name!r} has no fast tokenizer "
            f"({type(tokenizer).__name__}); word_ids are needed to map pieces to words"
        )
    if _byte_level_without_prefix_space(tokenizer):
        raise HarnessError(
            f"transformer: model {name!r}: its byte-level tokenizer ignores "
            "add_prefix_space, so pre-split words would lose their leading-space form"
        )
    return tokenizer


def load_pretrained_encoder(name: str, show_progress: bool) -> tuple[nn.Module, bool]:
    """The pretrained encoder and whether its checkpoint had pooler weights."""
    try:
        with quiet_loading(show_progress):
            encoder, info = AutoModel.from_pretrained(
                name, output_loading_info=True, dtype=torch.float32
            )
    except LOAD_ERRORS as err:
        raise load_error(name, err) from None
    missing = set(info.get("missing_keys", ()))
    lacking = sorted(key for key in missing if not key.startswith("pooler."))
    if lacking:
        raise HarnessError(
            f"transformer: model {name!r}: the checkpoint lacks {len(lacking)} encoder "
            f"weight(s) (e.g. {lacking[0]}); a head-only or foreign checkpoint would train "
            "from random weights"
        )
    return encoder, not any(key.startswith("pooler.") for key in missing)


def encoder_from_config(config: Any) -> nn.Module:
    """An untrained encoder of a saved architecture (weights come from the safetensors)."""
    return AutoModel.from_config(config)


#: model types whose position ids start at ``padding_idx + 1`` (RoBERTa's embeddings), so
#: ``padding_idx + 1`` rows of the position table are never a token's position
OFFSET_POSITIONS = frozenset(
    {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "longformer"}
)


def position_limit(encoder_config: Any) -> int | None:
    """How many pieces (specials included) the encoder's position table can hold."""
    positions = getattr(encoder_config, "max_position_embeddings", None)
    if not isinstance(positions, int) or positions <= 0:
        return None
    if getattr(encoder_config, "model_type", None) in OFFSET_POSITIONS:
        positions -= (getattr(encoder_config, "pad_token_id", None) or 0) + 1
    return positions


def effective_max_length(requested: int, tokenizer: Any, encoder_config: Any) -> int:
    """``requested`` capped by the tokenizer's and the position table's limits."""
    limits = [requested]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    positions = position_limit(encoder_config)
    if positions is not None:
        limits.append(positions)
    limit = min(limits)
    if limit < 3:
        raise HarnessError(f"transformer: the encoder holds only {limit} positions")
    return limit


def load_encoder_config(folder: Path) -> Any:
    """The encoder config saved in a model's backbone folder."""
    try:
        return AutoConfig.from_pretrained(str(folder))
    except LOAD_ERRORS as err:
        raise load_error(str(folder), err) from None
