"""The Hugging Face hub, asked briefly: what is cached here, and whether the hub answers.

Why a module of its own: transformers, given a hub name it has not cached, retries an
unreachable hub for about half a minute before it fails, and then suggests nothing the
harness offers. The harness asks first, with a short timeout and no retries: a cached
model is loaded from its snapshot folder (no network at all), and a model that is
neither cached nor reachable stops within seconds with what to do instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

#: seconds the hub gets to answer one metadata request
HUB_TIMEOUT_S = 3.0
#: one of these must be in a snapshot for the model to be usable offline
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model")


@dataclass(frozen=True)
class HubAnswer:
    """What the hub said of a model: ``found`` True (it has it), False (it answered that
    it has no such model) or None (no answer: offline, unreachable, timed out)."""

    found: bool | None
    detail: str = ""


def looks_like_hub_name(name: str) -> bool:
    """Hub names are ``model`` or ``org/model``; anything else is meant as a folder."""
    return (
        bool(name)
        and not name.startswith(("/", ".", "~"))
        and name.count("/") <= 1
        and "\\" not in name
    )


def cached_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of ``repo_id`` when the Hugging Face cache holds a usable
    copy (config, weights and tokenizer files), else ``None``; never touches the network."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except (OSError, ValueError):  # not cached, or not a valid repository id
        return None
    usable = (
        (folder / "config.json").is_file()
        and any((folder / name).is_file() for name in _WEIGHT_FILES)
        and any((folder / name).is_file() for name in _TOKENIZER_FILES)
    )
    return folder if usable else None


def offline_mode() -> bool:
    """Whether the user told Hugging Face libraries to stay offline (``HF_HUB_OFFLINE``)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def probe(repo_id: str) -> HubAnswer:
    """Ask the hub for ``repo_id``'s metadata once, within ``HUB_TIMEOUT_S``."""
    if offline_mode():
        return HubAnswer(None, "HF_HUB_OFFLINE is set")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    answers: list[HubAnswer] = []

    def ask() -> None:
        try:
            HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
        except GatedRepoError:
            answers.append(HubAnswer(False, "the hub keeps it gated: log in, accept its terms"))
        except RepositoryNotFoundError:
            answers.append(HubAnswer(False, "the hub has no such model"))
        except Exception as err:  # any failure to answer means: not reachable
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            answers.append(HubAnswer(None, lines[0] if lines else type(err).__name__))
        else:
            answers.append(HubAnswer(True))

    # the request's timeout does not bound the name lookup before it: a thread does
    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    asking.join(HUB_TIMEOUT_S + 1)
    return answers[0] if answers else HubAnswer(None, f"no answer within {HUB_TIMEOUT_S:g} s")
