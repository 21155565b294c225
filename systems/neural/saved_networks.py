"""A neural system's folder on disk: weights, architecture, learning curve, gazetteer.

What a saved network needs besides its system's own vocabularies or tokenizer files
(``save_extra``), written atomically file by file and read back with one-line errors, so
that ``NeuralSystem`` keeps to training and prediction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.errors import HarnessError
from core.fileio import atomic_write_text
from systems.gazetteer import FILE_NAME as GAZETTEER_FILE
from systems.gazetteer import Gazetteer, read_saved
from systems.neural.weights import copy_weights, write_weights

WEIGHTS_FILE = "model.safetensors"
ARCHITECTURE_FILE = "architecture.json"
HISTORY_FILE = "history.json"


def write_network(
    folder: Path,
    model: torch.nn.Module,
    architecture: dict[str, Any],
    history: list[dict[str, Any]],
    gazetteer: Gazetteer | None,
) -> None:
    """Weights, architecture, learning curve and (when one is used) the gazetteer."""
    write_weights(model, folder / WEIGHTS_FILE)
    atomic_write_text(folder / ARCHITECTURE_FILE, json.dumps(architecture, indent=2))
    atomic_write_text(folder / HISTORY_FILE, json.dumps(history, indent=2))
    if gazetteer is not None:
        gazetteer.write(folder / GAZETTEER_FILE)


def read_architecture(folder: Path) -> dict[str, Any]:
    """The saved architecture, once the weights file is known to be there too."""
    try:
        architecture = json.loads((folder / ARCHITECTURE_FILE).read_text(encoding="utf-8"))
        if not (folder / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(2, "missing", str(folder / WEIGHTS_FILE))
    except FileNotFoundError as err:
        raise HarnessError(
            f"{folder}: cannot load model ({Path(err.filename).name} missing)"
        ) from None
    except (json.JSONDecodeError, OSError) as err:
        raise HarnessError(f"{folder}: cannot load model ({err})") from None
    if not isinstance(architecture, dict):
        raise HarnessError(f"{folder}: cannot load model ({ARCHITECTURE_FILE} is no JSON object)")
    return architecture


def read_gazetteer(
    folder: Path, architecture: dict[str, Any], types: tuple[str, ...]
) -> Gazetteer | None:
    """The gazetteer the network was trained with, if any."""
    return read_saved(folder, types) if "gazetteer" in architecture else None


def fill_weights(model: torch.nn.Module, folder: Path) -> None:
    """The saved weights into the rebuilt ``model``, which is left in eval mode."""
    copy_weights(model, folder / WEIGHTS_FILE)
    model.eval()


def read_history(folder: Path) -> list[dict[str, Any]]:
    """The learning curve, or none when the folder has no record of it."""
    history = folder / HISTORY_FILE
    if not history.exists():
        return []
    return json.loads(history.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
