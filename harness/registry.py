"""The registry of systems by name, open to other packages through entry points.

Built-in systems are listed here by import path so they load even from a source
checkout; other packages add theirs under the entry-point group ``harness.systems``
(``name = package.module:Class``) without touching this code. Classes are imported only
when asked for, so listing names does not pay for torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

from core.errors import HarnessError, first_line
from core.system import System, read_system_file

ENTRY_POINT_GROUP = "harness.systems"

#: name -> "module:Class" for the systems this package ships.
BUILTIN_SYSTEMS: dict[str, str] = {
    "lookup": "systems.lookup:LookupSystem",
    "tfidf": "systems.tfidf:TfidfSystem",
    "transformer": "systems.transformer:TransformerSystem",
    "rnn": "systems.rnn:RnnSystem",
    "bert-softmax": "systems.bert_softmax:BertSoftmaxSystem",
    "bilstm-cnn": "systems.bilstm_cnn:BilstmCnnSystem",
    "contrastive": "systems.contrastive:ContrastiveSystem",
    "hf-token-classification": "systems.hf_token_classification:HfTokenClassificationSystem",
    "ensemble": "harness.ensemble:EnsembleSystem",
}


def _targets() -> dict[str, str]:
    targets = dict(BUILTIN_SYSTEMS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    return targets


def available() -> list[str]:
    """Names of all registered systems, sorted."""
    return sorted(_targets())


def get(name: str) -> type[System]:
    """The system class registered under ``name``."""
    targets = _targets()
    if name not in targets:
        raise HarnessError(f"unknown system '{name}' (available: {', '.join(sorted(targets))})")
    module_name, _, attr = targets[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except Exception as err:  # any error while importing a plugin is its own, in one line
        raise HarnessError(f"system '{name}': cannot import {targets[name]} ({err})") from None
    if not (isinstance(cls, type) and issubclass(cls, System)):
        raise HarnessError(f"system '{name}': {targets[name]} is not a System subclass")
    return cls


def load_saved(folder: str | Path) -> System:
    """Load any saved model folder, finding its system from ``system.json``."""
    meta = read_system_file(Path(folder))
    system = get(meta["system"])
    try:
        return system.load(folder)
    except (
        OSError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
    ) as err:
        # the systems check the files they know; anything odd they did not foresee in a
        # model folder (a user's or an attacker's) still ends in one line, not a traceback
        raise HarnessError(
            f"{folder}: cannot load the saved {meta['system']} model "
            f"({type(err).__name__}: {first_line(err)})"
        ) from None
